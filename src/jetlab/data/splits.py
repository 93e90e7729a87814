"""Deterministic, disjoint, class-stratified train / validation / test splits.

The split depends only on the labels and ``split_seed`` (not on the training seed), so every
run on a dataset sees the same test jets and runs can be compared; the test split is never
used in training or model selection.
"""

from __future__ import annotations

import numpy as np

from jetlab.errors import UsageError

__all__ = ["split_indices", "targets_for"]


def split_indices(labels: np.ndarray, val_fraction: float = 0.2, test_fraction: float = 0.2,
                  split_seed: int = 0) -> dict[str, np.ndarray]:
    """Sorted index arrays ``train``, ``val``, ``test``; each class split in the same proportions."""
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise UsageError("split fractions: need 0 < val, test and val + test < 1")
    rng = np.random.default_rng(split_seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        idx = idx[rng.permutation(len(idx))]
        n_test = int(round(test_fraction * len(idx)))
        n_val = int(round(val_fraction * len(idx)))
        parts["test"].append(idx[:n_test])
        parts["val"].append(idx[n_test:n_test + n_val])
        parts["train"].append(idx[n_test + n_val:])
    return {k: np.sort(np.concatenate(v)) if v else np.zeros(0, np.int64) for k, v in parts.items()}


def subset(rows: np.ndarray, n: int | None, seed: int = 0) -> np.ndarray:
    """A random (hence class-mixed) sorted subset of ``n`` of the sorted split ``rows``; all when ``n`` is None.

    Taking the first n sorted rows would keep the first classes of a class-ordered dataset only.

    Example:
        >>> subset(np.arange(10), 3).tolist()
        [2, 4, 6]
    """
    if n is None or n >= len(rows):
        return rows
    return np.sort(rows[np.random.default_rng(seed).permutation(len(rows))[:n]])


def targets_for(labels: np.ndarray, signal: tuple[int, ...], background: tuple[int, ...] = ()) -> np.ndarray:
    """Model targets from dataset labels: class position in ``signal`` (multi-class) or 1/0 (binary).

    Jets of classes outside the selection get -1 (the data module drops them).
    """
    out = np.full(len(labels), -1, np.int64)
    if background:
        out[np.isin(labels, signal)] = 1
        out[np.isin(labels, background)] = 0
    else:
        for i, c in enumerate(signal):
            out[labels == c] = i
    return out
