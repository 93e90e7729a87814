"""Metrics of anomaly detectors: AUC, εS at fixed εB and the significance improvement (SIC).

An anomaly score ranks jets, larger = more anomalous. Each signal class (every class that is not a
background class, e.g. W, Z, t for a detector trained on QCD g + q) is scored against the background
jets of the test split only; jets of the other signal classes take no part. With a cut ``score >= t``:

- ``εS(t)``: fraction of the signal class's jets passing; ``εB(t)``: fraction of background jets passing;
- ROC, AUC: as in :mod:`jetlab.metrics.classification` (AUC = P(signal scores above background)
  + ½ P(tie); 0.5 for a useless score);
- εS at fixed εB (1e-1, 1e-2, 1e-3): read on the ROC path; on a vertical run (εB constant while εS
  grows, i.e. only signal jets between two cuts) the largest εS, otherwise linear interpolation
  between the two neighbouring cuts. The test set cannot resolve εB < 1/N_bkg (less than one
  background jet passing): those entries are None;
- significance improvement characteristic ``SIC = εS / sqrt(εB)``: the factor by which a cut
  multiplies the significance S/sqrt(B) of a counting experiment. It is evaluated at every
  distinct cut of the test set (``roc_curve(..., drop_intermediate=False)``), but only where at
  least ``sic_min_bkg`` (default 10) background jets pass, εB >= 10 / N_bkg: with 1 or 2 background
  jets passing, εS/sqrt(εB) jumps by a factor sqrt(2) between neighbouring cuts, and the maximum of
  the curve would be a statistical spike at the tightest cut. On a straight ROC segment the SIC has
  no interior maximum (d SIC / d εB changes sign from - to + only), so the maximum over the cuts is
  the maximum of the interpolated curve too. A useless score has εS = εB and a maximum SIC of 1, at
  εB = 1.

Only the AUC carries an uncertainty: the bootstrap standard deviation (ddof = 1) over
``n_bootstrap`` resamples with replacement of the signal + background jets of that class, computed
with :func:`jetlab.metrics.classification.weighted_auc_and_fpr` (no re-sorting per resample).

References: SIC as used for anomaly detection in e.g. Collins, Howe & Nachman, arXiv:1805.02664 and
the LHC Olympics 2020 report, arXiv:2101.08320.

Example:
    >>> m = anomaly_metrics([0.1, 0.2, 0.3, 0.9, 0.8], [0, 0, 1, 2, 2], background=[0, 1],
    ...                     class_names=["g", "q", "t"], n_bootstrap=0)
    >>> list(m["signals"]), m["signals"]["t"]["auc"], m["signals"]["t"]["eff_s"]["0.1"]
    (['t'], 1.0, None)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import roc_auc_score, roc_curve

from jetlab.metrics.classification import roc_points, sorted_groups, weighted_auc_and_fpr

__all__ = ["anomaly_metrics", "signal_efficiency_at", "sic_curve"]

_CHUNK_ELEMENTS = 4_000_000  # resamples x jets held at once in the bootstrap (~16 MB of int32 counts)
_MAX_POINTS = 500            # points kept of the SIC and ROC curves in the JSON


def signal_efficiency_at(fpr: ArrayLike, tpr: ArrayLike, eff_b: float) -> float:
    """εS at background efficiency εB = ``eff_b`` on the ROC path (``fpr`` = εB, ``tpr`` = εS).

    Both arrays non-decreasing from the (0, 0) end, as from :func:`sklearn.metrics.roc_curve`.
    A vertical run at εB = ``eff_b`` gives its largest εS; otherwise the two neighbouring points
    are joined by a straight line.

    Example:
        >>> signal_efficiency_at([0.0, 0.0, 0.2, 1.0], [0.0, 0.5, 0.7, 1.0], 0.1)  # (0, .5)-(.2, .7)
        0.6
    """
    f, t = np.asarray(fpr, dtype=np.float64), np.asarray(tpr, dtype=np.float64)
    if f.ndim != 1 or f.shape != t.shape or f.size == 0:
        raise ValueError(f"fpr and tpr must be 1-D of equal non-zero length, got {f.shape} and {t.shape}")
    if not 0.0 <= eff_b <= 1.0:
        raise ValueError(f"background efficiency must be in [0, 1], got {eff_b}")
    i = int(np.searchsorted(f, eff_b, side="right"))                  # first point with εB > eff_b
    if i == 0:
        return 0.0
    if i == f.size or f[i - 1] == eff_b:
        return float(t[i - 1])                                        # last (= highest) point at εB <= eff_b
    frac = (eff_b - f[i - 1]) / (f[i] - f[i - 1])
    return float(t[i - 1] + frac * (t[i] - t[i - 1]))


def sic_curve(fpr: ArrayLike, tpr: ArrayLike, min_eff_b: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SIC = εS / sqrt(εB) at the ROC points with εB >= ``min_eff_b`` (> 0).

    Returns ``eff_s``, ``eff_b`` and ``sic`` (K,), in the ROC's order (εS non-decreasing).

    Example:
        >>> s, b, sic = sic_curve([0.0, 0.01, 0.25, 1.0], [0.0, 0.3, 0.5, 1.0], min_eff_b=0.1)
        >>> sic.tolist()
        [1.0, 1.0]
    """
    f, t = np.asarray(fpr, dtype=np.float64), np.asarray(tpr, dtype=np.float64)
    if min_eff_b <= 0:
        raise ValueError(f"min_eff_b must be > 0 (SIC diverges at εB = 0), got {min_eff_b}")
    keep = f >= min_eff_b
    return t[keep], f[keep], t[keep] / np.sqrt(f[keep])


def _downsample(x: np.ndarray, y: np.ndarray, max_points: int, always: int) -> np.ndarray:
    """Indices of at most ~``max_points`` points spread evenly along the curve (x, y) as drawn.

    Path length is measured in the unit box (both axes scaled to their range); both ends and index
    ``always`` (e.g. the maximum) are kept.
    """
    if x.size <= max_points:
        return np.arange(x.size)
    span_x, span_y = max(float(np.ptp(x)), 1e-12), max(float(np.ptp(y)), 1e-12)
    s = np.r_[0.0, np.cumsum(np.hypot(np.diff(x) / span_x, np.diff(y) / span_y))]
    keep = np.searchsorted(s, np.linspace(0.0, s[-1], max_points - 3))
    return np.unique(np.r_[0, np.minimum(keep, x.size - 1), always, x.size - 1])


def _bootstrap_auc(pos: np.ndarray, score: np.ndarray, n_bootstrap: int, seed: int) -> np.ndarray:
    """AUC (R,) of ``score`` on ``n_bootstrap`` resamples (with replacement) of the jets."""
    n = score.size
    rng = np.random.default_rng(seed)
    order, starts = sorted_groups(score)
    positive = pos[order]
    out = np.empty(n_bootstrap)
    step = max(1, _CHUNK_ELEMENTS // max(n, 1))
    for lo in range(0, n_bootstrap, step):
        r = min(step, n_bootstrap - lo)
        draws = rng.integers(0, n, size=(r, n)) + n * np.arange(r)[:, None]       # (r, N) flat indices
        counts = np.bincount(draws.ravel(), minlength=r * n).reshape(r, n).astype(np.int32)
        out[lo:lo + r], _ = weighted_auc_and_fpr(counts[:, order], positive, starts, [])
    return out


def _class_entry(pos: np.ndarray, score: np.ndarray, bkg_effs: Sequence[float], n_bootstrap: int,
                 seed: int, sic_min_bkg: int) -> dict[str, Any]:
    """Metrics of one signal class against the background; ``pos`` (M,) True = signal jet."""
    n_sig, n_bkg = int(pos.sum()), int((~pos).sum())
    fpr, tpr, _ = roc_curve(pos, score, drop_intermediate=False)
    boot = _bootstrap_auc(pos, score, n_bootstrap, seed) if n_bootstrap > 1 else np.zeros(0)
    finite = boot[np.isfinite(boot)]
    eff_s = {f"{e:g}": (signal_efficiency_at(fpr, tpr, e) if e >= 1.0 / n_bkg else None) for e in bkg_effs}
    min_eff_b = min(sic_min_bkg / n_bkg, 1.0)
    s, b, sic = sic_curve(fpr, tpr, min_eff_b)
    best = int(np.argmax(sic))
    keep = _downsample(s, sic, _MAX_POINTS, best)
    roc_b, roc_s = roc_points(np.column_stack([-score, score]), pos.astype(np.int64), 1, _MAX_POINTS)
    return {
        "n_signal": n_sig, "n_background": n_bkg,
        "auc": float(roc_auc_score(pos, score)),
        "auc_unc": float(np.std(finite, ddof=1)) if finite.size >= 2 else None,
        "eff_s": eff_s,
        "max_sic": float(sic[best]), "max_sic_eff_s": float(s[best]), "max_sic_eff_b": float(b[best]),
        "sic_min_eff_b": float(min_eff_b),
        "sic_curve": {"eff_s": s[keep].tolist(), "eff_b": b[keep].tolist(), "sic": sic[keep].tolist()},
        "roc": {"eff_s": roc_s.tolist(), "eff_b": roc_b.tolist()},
    }  # fmt: skip


def _check(scores: ArrayLike, labels: ArrayLike, background: Sequence[int], class_names: Sequence[str],
           bkg_effs: Sequence[float], sic_min_bkg: int) -> tuple[np.ndarray, np.ndarray, list[int], list[float]]:
    """Validated float64 scores (N,), int64 labels (N,), background indices and εB working points."""
    s, y = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    if s.ndim != 1 or y.shape != s.shape:
        raise ValueError(f"scores and labels must be 1-D of equal length, got {s.shape} and {y.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError("anomaly scores contain NaN or infinite values")
    c = len(class_names)
    if y.size and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= c):
        raise ValueError(f"labels must be integers in 0..{c - 1} for classes {list(class_names)}")
    bkg = sorted({int(b) for b in background})
    if not bkg or any(not 0 <= b < c for b in bkg):
        raise ValueError(f"background must name classes in 0..{c - 1}, got {list(background)}")
    effs = [float(e) for e in bkg_effs]
    if any(not 0.0 < e <= 1.0 for e in effs):
        raise ValueError(f"background efficiencies must be in (0, 1], got {effs}")
    if sic_min_bkg < 1:
        raise ValueError(f"sic_min_bkg must be >= 1, got {sic_min_bkg}")
    return s, y.astype(np.int64), bkg, effs


def anomaly_metrics(
    scores: ArrayLike,
    labels: ArrayLike,
    background: Sequence[int],
    class_names: Sequence[str],
    bkg_effs: Sequence[float] = (1e-1, 1e-2, 1e-3),
    n_bootstrap: int = 50,
    seed: int = 0,
    sic_min_bkg: int = 10,
) -> dict[str, Any]:
    """AUC ± bootstrap, εS at fixed εB and the SIC curve of each signal class against the background.

    Arguments:
        scores: (N,) anomaly scores, larger = more anomalous (e.g. an autoencoder's squared error).
        labels: (N,) integer classes in ``0..C-1``.
        background: the background classes (e.g. ``[0, 1]`` for g + q); every other class present
            in ``labels`` is a signal class.
        class_names: C names, e.g. ``["g", "q", "w", "z", "t"]``.
        bkg_effs: working points εB of the signal efficiencies.
        n_bootstrap: resamples for the AUC uncertainty (0 or 1: None).
        seed: seed of the resampling (the same for every class).
        sic_min_bkg: the SIC is evaluated only where at least this many background jets pass.

    Returns a JSON-serializable dict: ``class_names``, ``background`` (names), ``n_background``,
    ``bkg_effs``, ``n_bootstrap``, ``seed``, ``sic_min_bkg`` and ``signals``: signal name ->
    ``n_signal``, ``n_background``, ``auc``, ``auc_unc``, ``eff_s`` (``"0.01"`` -> εS, or None
    when εB < 1/N_bkg), ``max_sic``, ``max_sic_eff_s``, ``max_sic_eff_b``,
    ``sic_min_eff_b``, ``sic_curve`` (``eff_s``, ``eff_b``, ``sic`` lists, at most ~500 points,
    the maximum included) and ``roc`` (``eff_s``, ``eff_b`` lists for :func:`jetlab.report.roc.plot_roc`).
    Signal classes absent from ``labels`` are left out; with no background jet ``signals`` is empty.
    """
    s, y, bkg, effs = _check(scores, labels, background, class_names, bkg_effs, sic_min_bkg)
    is_bkg = np.isin(y, bkg)
    present = [k for k in range(len(class_names)) if k not in bkg and np.any(y == k)]
    signals: dict[str, Any] = {}
    if is_bkg.any():
        for k in present:
            sel = is_bkg | (y == k)
            signals[str(class_names[k])] = _class_entry(y[sel] == k, s[sel], effs, n_bootstrap, seed,
                                                        sic_min_bkg)
    return {
        "class_names": [str(c) for c in class_names],
        "background": [str(class_names[b]) for b in bkg],
        "n_background": int(is_bkg.sum()),
        "bkg_effs": effs, "n_bootstrap": int(n_bootstrap), "seed": int(seed), "sic_min_bkg": int(sic_min_bkg),
        "signals": signals,
    }  # fmt: skip
