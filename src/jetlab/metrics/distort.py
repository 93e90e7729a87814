"""Known distortions of real jets, to check that a generative metric sees what it must.

Jets are JetNet-style clouds ``x (N, P, 3)`` of (Δη, Δφ, pT_rel), pT-ordered, with ``mask (N, P)`` bool,
True = real particle. Each function returns new arrays and leaves its inputs alone.
"""

from __future__ import annotations

import numpy as np

__all__ = ["drop_softest", "scale_pt"]


def scale_pt(x: np.ndarray, mask: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Every constituent's pT_rel multiplied by ``scale`` (a generator with a global pT-scale error)."""
    out = np.array(x, dtype=np.float64)
    out[..., 2] *= np.where(mask, scale, 1.0)
    return out, np.array(mask, bool)


def drop_softest(x: np.ndarray, mask: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """The softest ``round(fraction · n)`` particles of each jet of n particles removed (zeroed, masked off).

    A generator whose multiplicity is ``fraction`` too low and misses the soft tail; jets keep at least
    one particle. Requires pT-ordered slots (the hardest first), as jetlab's clouds are.
    """
    mask = np.asarray(mask, bool)
    n = mask.sum(axis=1)  # (N,)
    keep = np.maximum(n - np.rint(fraction * n).astype(int), np.minimum(n, 1))  # (N,)
    new_mask = mask & (np.arange(mask.shape[1])[None, :] < keep[:, None])  # (N, P)
    out = np.where(new_mask[..., None], np.asarray(x, dtype=np.float64), 0.0)
    return out, new_mask
