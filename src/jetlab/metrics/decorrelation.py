"""Mass decorrelation: the DisCo penalty (distance correlation) and the measures of mass sculpting.

A tagger that learns the jet mass *sculpts* the background: cutting on it leaves background jets
whose mass distribution peaks where the signal's does, faking a bump. DisCo (Kasieczka & Shih,
arXiv:2001.05310) adds to the loss ``λ · dCorr²(score, m)`` computed on the background jets of each
batch; dCorr² is zero if and only if score and mass are independent (for large samples).

Distance correlation (Székely, Rizzo & Bakirov, Ann. Statist. 35 (2007) 2769, arXiv:0803.4101), with
optional event weights ``w_i`` normalised to ``Σ w_i = 1`` (unweighted: ``w_i = 1/n``)::

    a_ij = |x_i - x_j|,   A_ij = a_ij - ā_i· - ā_·j + ā_··          (double centring, weighted means
    b_ij = |y_i - y_j|,   B_ij likewise                              ā_i· = Σ_j w_j a_ij, ā_·· = Σ_i w_i ā_i·)
    dCov²(x, y) = Σ_ij w_i w_j A_ij B_ij
    dCorr²(x, y) = dCov²(x, y) / sqrt(dCov²(x, x) · dCov²(y, y))     in [0, 1]

This is the V-statistic (biased) estimator, as in the DisCo reference code; it is 1 for
``y = a·x + b`` (a ≠ 0) and of order 1/n for independent samples of size n. ``dCorr² = 0`` when
either variable is constant.

Sculpting is measured as in the DisCo paper: the cut on the score that keeps a fraction εS = 0.5 of
the signal; the background rejection ``1/εB`` at that cut; and the Jensen–Shannon divergence between
the background mass histograms of the jets passing and failing that cut (each normalised to unit sum)::

    JSD(P, Q) = ½ KL(P ‖ M) + ½ KL(Q ‖ M),   M = (P + Q) / 2,   KL in bits (log base 2)

so that JSD is in [0, 1]: 0 for identical histograms, 1 for disjoint ones. The paper quotes
``1/JSD`` against ``1/εB``; both large is the goal. With finite samples JSD is biased upwards by
about (bins - 1) / (8 ln 2) · (1/n_pass + 1/n_fail) when the two agree, so compare taggers at equal binning and size.

Example:
    >>> x = np.arange(10.0)
    >>> round(distance_correlation_np(x, 3 * x - 1), 6)
    1.0
    >>> jsd_after_cut(np.array([1.0, 2.0, 8.0, 9.0]), np.array([True, True, False, False]), bins=[0, 5, 10])
    1.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from scipy.spatial.distance import jensenshannon
from torch import Tensor

__all__ = ["distance_correlation", "disco_penalty", "distance_correlation_np", "jsd_after_cut",
           "threshold_at_efficiency", "sculpting_metrics"]  # fmt: skip


def _centred(v: Tensor, w: Tensor) -> Tensor:
    """Doubly centred distance matrix (B, B) of ``v`` (B,) under weights ``w`` (B,) summing to 1."""
    a = (v[:, None] - v[None, :]).abs()                     # (B, B) |v_i - v_j|
    row = a @ w                                             # (B,) weighted row means ā_i· (= column means)
    return a - row[:, None] - row[None, :] + row @ w        # (B, B)


def distance_correlation(x: Tensor, y: Tensor, weights: Tensor | None = None) -> Tensor:
    """Squared distance correlation dCorr²(x, y) of a batch (see the module docstring), differentiable.

    Arguments:
        x, y: (B,) the two variables, e.g. a classifier output and the jet mass.
        weights: (B,) non-negative event weights, or None for equal weights; normalised internally,
            so all-ones weights give the unweighted value and zero-weight jets drop out (all zero: 0).

    Returns a 0-dim tensor in [0, 1] in the promoted floating dtype of the inputs (at least float32).
    Memory and time are O(B²): a few (B, B) matrices, 64 MB each at B = 4096 in float32.
    """
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"x and y must be 1-D of equal length, got {tuple(x.shape)} and {tuple(y.shape)}")
    dtype = torch.promote_types(torch.promote_types(x.dtype, y.dtype), torch.float32)
    x, y = x.to(dtype), y.to(dtype)
    if weights is None:
        w = torch.full_like(x, 1.0 / max(x.shape[0], 1))   # (B,)
    else:
        if weights.shape != x.shape:
            raise ValueError(f"weights must be ({x.shape[0]},), got {tuple(weights.shape)}")
        w = weights.to(dtype)
        w = w / w.sum().clamp_min(torch.finfo(dtype).tiny)    # all weights 0: w = 0, result 0
    a, b = _centred(x, w), _centred(y, w)                     # (B, B) each
    dcov_xy = w @ (a * b) @ w
    dvar = (w @ (a * a) @ w) * (w @ (b * b) @ w)
    return dcov_xy / dvar.clamp_min(torch.finfo(dtype).tiny).sqrt()  # constant x or y: 0 / tiny = 0


def disco_penalty(scores: Tensor, mass: Tensor, is_background: Tensor, lam: float,
                  weights: Tensor | None = None) -> Tensor:
    """DisCo loss term ``λ · dCorr²(score, mass)`` over the background jets of a batch.

    Arguments:
        scores: (B,) the classifier output (e.g. the signal probability).
        mass: (B,) jet mass.
        is_background: (B,) bool, True = background jet; only these enter the penalty.
        lam: the DisCo weight λ >= 0.
        weights: (B,) optional event weights.

    Returns a 0-dim tensor; exactly 0 when the batch has fewer than 2 background jets. The
    selection is applied as a 0/1 weight rather than a boolean index, which gives the same value
    (zero-weight jets drop out of every mean) with fixed shapes and no device-to-host synchronisation.

    Reference: Kasieczka & Shih, "DisCo Fever", arXiv:2001.05310, eq. (2.2).
    """
    if is_background.shape != scores.shape:
        raise ValueError(f"is_background must be {tuple(scores.shape)}, got {tuple(is_background.shape)}")
    w = is_background.to(device=scores.device, dtype=torch.promote_types(scores.dtype, torch.float32))  # (B,)
    if weights is not None:
        w = w * weights.to(w)
    return lam * distance_correlation(scores, mass.to(scores.device), w)


def distance_correlation_np(x: ArrayLike, y: ArrayLike) -> float:
    """Reference dCorr²(x, y), unweighted, by the textbook formula (O(N²) memory); for tests.

    ``A = a - a.mean(0) - a.mean(1) + a.mean()`` with ``a_ij = |x_i - x_j|`` (likewise B);
    dCov² = mean(A·B); dCorr² = dCov²(x, y) / sqrt(dCov²(x, x) dCov²(y, y)); 0 if either is constant.
    """
    xs, ys = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    if xs.shape != ys.shape or xs.size == 0:
        raise ValueError(f"x and y must have the same non-zero size, got {xs.size} and {ys.size}")
    a = np.abs(xs[:, None] - xs[None, :])
    b = np.abs(ys[:, None] - ys[None, :])
    a = a - a.mean(axis=0, keepdims=True) - a.mean(axis=1, keepdims=True) + a.mean()
    b = b - b.mean(axis=0, keepdims=True) - b.mean(axis=1, keepdims=True) + b.mean()
    dvar = float(np.mean(a * a) * np.mean(b * b))
    return float(np.mean(a * b) / math.sqrt(dvar)) if dvar > 0 else 0.0


def jsd_after_cut(mass_bkg: ArrayLike, passes: ArrayLike, bins: int | Sequence[float] = 50) -> float:
    """Jensen–Shannon divergence (base 2, in [0, 1]) between background mass passing and failing a cut.

    Arguments:
        mass_bkg: (N,) mass of the background jets.
        passes: (N,) bool, True where the jet passes the cut.
        bins: number of equal bins over the full mass range of all N jets, or explicit edges.

    Each histogram is normalised to unit sum; jets outside explicit edges are dropped. Computed as
    the square of :func:`scipy.spatial.distance.jensenshannon` (which returns the JS *distance*).
    Returns NaN when either side has no jet inside the bins.
    """
    m, p = np.asarray(mass_bkg, dtype=np.float64), np.asarray(passes, dtype=bool)
    if m.ndim != 1 or p.shape != m.shape:
        raise ValueError(f"mass_bkg and passes must be 1-D of equal length, got {m.shape} and {p.shape}")
    edges = np.histogram_bin_edges(m, bins)
    h_pass, _ = np.histogram(m[p], edges)
    h_fail, _ = np.histogram(m[~p], edges)
    if h_pass.sum() == 0 or h_fail.sum() == 0:
        return math.nan
    return float(jensenshannon(h_pass.astype(np.float64), h_fail.astype(np.float64), base=2.0) ** 2)


def threshold_at_efficiency(scores: ArrayLike, eff: float) -> float:
    """Cut ``t`` such that a fraction ``eff`` in (0, 1] of ``scores`` passes ``score >= t``.

    ``t`` is the ``ceil(eff · N)``-th largest score; with ties more than that fraction may pass.

    Example:
        >>> threshold_at_efficiency([0.1, 0.4, 0.3, 0.2], 0.5)
        0.3
    """
    s = np.sort(np.asarray(scores, dtype=np.float64).ravel())[::-1]
    if s.size == 0 or not 0.0 < eff <= 1.0:
        raise ValueError(f"need scores and an efficiency in (0, 1], got {s.size} scores and {eff}")
    return float(s[max(1, math.ceil(eff * s.size - 1e-9)) - 1])


def _as_list(classes: int | Sequence[int]) -> list[int]:
    return [int(classes)] if isinstance(classes, int | np.integer) else [int(c) for c in classes]


def sculpting_metrics(scores: ArrayLike, labels: ArrayLike, mass: ArrayLike, signal: int | Sequence[int],
                      background: int | Sequence[int], eff: float = 0.5,
                      bins: int | Sequence[float] = 50) -> dict[str, Any]:
    """Background rejection and mass sculpting (JSD) at the cut keeping a fraction ``eff`` of the signal.

    Arguments:
        scores: (N,) tagger or anomaly score, larger = more signal-like.
        labels: (N,) integer classes; ``signal`` and ``background`` are class indices (one or several).
        mass: (N,) jet mass.
        eff: the signal efficiency εS of the cut (0.5 in arXiv:2001.05310).
        bins: mass binning of the JSD (see :func:`jsd_after_cut`).

    Returns a JSON-serializable dict: ``eff_s_target``, ``threshold`` (cut ``score >= threshold``),
    ``eff_s`` and ``eff_b`` (fractions passing it), ``rejection`` = 1/εB (None when no background jet
    passes, then ``rejection_inf`` is True), ``jsd``, ``inv_jsd`` = 1/JSD (None when JSD is 0 or
    undefined), ``n_signal``, ``n_background``, ``n_background_pass`` and ``bins``.
    """
    s, y, m = (np.asarray(a) for a in (scores, labels, mass))
    s, m = s.astype(np.float64), m.astype(np.float64)
    if not s.ndim == 1 or s.shape != y.shape or s.shape != m.shape:
        raise ValueError(f"scores, labels and mass must be 1-D of equal length: {s.shape}, {y.shape}, {m.shape}")
    is_sig, is_bkg = np.isin(y, _as_list(signal)), np.isin(y, _as_list(background))
    if not is_sig.any() or not is_bkg.any():
        raise ValueError(f"need signal and background jets, got {int(is_sig.sum())} and {int(is_bkg.sum())}")
    t = threshold_at_efficiency(s[is_sig], eff)
    passes = s[is_bkg] >= t
    eff_b = float(passes.mean())
    jsd = jsd_after_cut(m[is_bkg], passes, bins)
    return {
        "eff_s_target": float(eff), "threshold": t, "eff_s": float(np.mean(s[is_sig] >= t)), "eff_b": eff_b,
        "rejection": 1.0 / eff_b if eff_b > 0 else None, "rejection_inf": eff_b == 0,
        "jsd": None if math.isnan(jsd) else jsd, "inv_jsd": 1.0 / jsd if jsd > 0 else None,
        "n_signal": int(is_sig.sum()), "n_background": int(is_bkg.sum()), "n_background_pass": int(passes.sum()),
        "bins": bins if isinstance(bins, int) else [float(e) for e in bins],
    }  # fmt: skip
