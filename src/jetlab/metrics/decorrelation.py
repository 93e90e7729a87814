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
``1/JSD`` against ``1/εB``; both large is the goal. Binning here: ``bins`` (default 20) equal bins
over the full mass range of the background jets evaluated.

The finite-sample floor. With finite samples JSD is biased upwards even when passing and failing jets
share one distribution, by about (bins - 1) / (8 ln 2) · (1/n_pass + 1/n_fail) (the χ²/(8 ln 2 · n)
limit of the KL divergence). :func:`jsd_floor_draws` measures that floor directly: the JSD between a
random subset of ``n_pass`` background jets and the rest, over many draws (a permutation test). A
tagger whose JSD lies within the spread of the floor has no measurable sculpting at this sample size;
``1/JSD`` above ``1/JSD_floor`` is not measurable.

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
           "jsd_floor_draws", "jsd_floor_curve", "threshold_at_efficiency", "sculpting_metrics"]  # fmt: skip


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


def _bin_index(m: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """(N,) bin of each value as :func:`numpy.histogram` assigns it; ``len(edges) - 1`` = outside."""
    nb = len(edges) - 1
    idx = np.clip(np.searchsorted(edges, m, side="right") - 1, 0, nb - 1)  # [e_k, e_k+1); last bin closed
    return np.where((m >= edges[0]) & (m <= edges[-1]), idx, nb)


def jsd_floor_draws(mass_bkg: ArrayLike, n_pass: int, bins: int | Sequence[float] = 20, n_draws: int = 200,
                    seed: int = 0) -> np.ndarray:
    """JSD between ``n_pass`` background jets drawn at random (without replacement) and the rest.

    The finite-sample floor of :func:`jsd_after_cut`: what a cut passing ``n_pass`` of the N jets
    gives when it ignores mass entirely. Same binning as :func:`jsd_after_cut` (``bins`` equal bins
    over the range of all N jets, or explicit edges; jets outside are dropped).

    Arguments:
        mass_bkg: (N,) mass of the background jets.
        n_pass: size of the random "passing" subset, 0 < n_pass < N.
        n_draws: number of random subsets; ``seed`` makes them reproducible.

    Returns (n_draws,) JSD values (NaN where a side has no jet inside the bins); their mean is the
    floor, their standard deviation its spread.

    Example:
        >>> m = np.random.default_rng(1).uniform(0.0, 300.0, 20_000)    # all 20 bins well filled
        >>> floor = jsd_floor_draws(m, n_pass=200)
        >>> approx = 19 / (8 * math.log(2)) * (1 / 200 + 1 / 19_800)      # the large-sample bias
        >>> bool(abs(floor.mean() / approx - 1) < 0.15)
        True
    """
    m = np.asarray(mass_bkg, dtype=np.float64).ravel()
    if not 0 < n_pass < m.size or n_draws < 1:
        raise ValueError(f"need 0 < n_pass < {m.size} jets and n_draws >= 1, got n_pass={n_pass}, n_draws={n_draws}")
    edges = np.histogram_bin_edges(m, bins)
    nb = len(edges) - 1
    idx = _bin_index(m, edges)                                    # (N,) in 0..nb (nb = outside)
    total = np.bincount(idx, minlength=nb + 1)                    # (nb + 1,)
    rng, out = np.random.default_rng(seed), []
    step = max(1, min(64, 2**22 // m.size))                      # chunks of <= 4M random keys bound memory
    for k in np.diff(np.r_[0:n_draws:step, n_draws]):
        sel = np.argpartition(rng.random((k, m.size)), n_pass - 1, axis=1)[:, :n_pass]  # (k, n_pass) subset
        flat = idx[sel] + (nb + 1) * np.arange(k)[:, None]        # (k, n_pass) bin, offset per draw
        h_pass = np.bincount(flat.ravel(), minlength=k * (nb + 1)).reshape(k, nb + 1)[:, :nb]
        h_fail = total[:nb] - h_pass                              # (k, nb)
        ok = (h_pass.sum(axis=1) > 0) & (h_fail.sum(axis=1) > 0)
        jsd = np.full(k, np.nan)
        jsd[ok] = jensenshannon(h_pass[ok].astype(np.float64), h_fail[ok].astype(np.float64), axis=1, base=2.0) ** 2
        out.append(jsd)
    return np.concatenate(out)


def jsd_floor_curve(mass_bkg: ArrayLike, rejections: ArrayLike, bins: int | Sequence[float] = 20,
                    n_draws: int = 200, seed: int = 0) -> dict[str, list[float]]:
    """The JSD floor as a function of the background rejection, for the Pareto plane 1/εB vs 1/JSD.

    A cut of rejection R passes ``n_pass = round(N / R)`` of the N background jets; its floor is
    :func:`jsd_floor_draws` at that size. Returns ``rejection`` (the values kept: 1 <= n_pass < N),
    ``n_pass``, and ``inv_jsd`` / ``inv_jsd_lo`` / ``inv_jsd_hi``: 1 / (mean, 84th and 16th percentile
    of the floor draws), the largest 1/JSD a mass-blind cut shows at that rejection and its spread.
    """
    m = np.asarray(mass_bkg, dtype=np.float64).ravel()
    out: dict[str, list[float]] = {"rejection": [], "n_pass": [], "inv_jsd": [], "inv_jsd_lo": [], "inv_jsd_hi": []}
    for r in np.asarray(rejections, dtype=np.float64).ravel():
        n_pass = int(round(m.size / r)) if r > 0 else 0
        if not 0 < n_pass < m.size:
            continue
        d = jsd_floor_draws(m, n_pass, bins, n_draws, seed)
        d = d[np.isfinite(d) & (d > 0)]
        if d.size == 0:
            continue
        lo, hi = np.percentile(d, [16.0, 84.0])
        for key, v in zip(out, (m.size / n_pass, n_pass, 1 / d.mean(), 1 / hi, 1 / lo), strict=True):
            out[key].append(float(v))
    return out


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


def _bootstrap(s_sig: np.ndarray, s_bkg: np.ndarray, m_bkg: np.ndarray, eff: float, edges: np.ndarray,
               n: int, seed: int) -> dict[str, float | None]:
    """Standard deviations of 1/εB, JSD and 1/JSD over ``n`` bootstrap resamplings of signal and background.

    Each draw resamples both with replacement, recomputes the cut at εS = ``eff`` and its JSD;
    draws where nothing passes (or JSD = 0) drop out of the 1/εB (1/JSD) spread.
    """
    rng, rej, jsd = np.random.default_rng(seed), [], []
    for _ in range(n):
        sb = rng.integers(0, s_bkg.size, s_bkg.size)                 # (N_b,) resampled background
        passes = s_bkg[sb] >= threshold_at_efficiency(s_sig[rng.integers(0, s_sig.size, s_sig.size)], eff)
        rej.append(1.0 / passes.mean() if passes.any() else math.nan)
        jsd.append(jsd_after_cut(m_bkg[sb], passes, edges))
    r, j = np.array(rej), np.array(jsd)

    def std(v: np.ndarray) -> float | None:
        v = v[np.isfinite(v)]
        return float(v.std(ddof=1)) if v.size > 1 else None

    return {"rejection_std": std(r), "jsd_std": std(j), "inv_jsd_std": std(1.0 / j[j > 0])}


def sculpting_metrics(scores: ArrayLike, labels: ArrayLike, mass: ArrayLike, signal: int | Sequence[int],
                      background: int | Sequence[int], eff: float = 0.5, bins: int | Sequence[float] = 20,
                      n_bootstrap: int = 0, n_floor_draws: int = 200, seed: int = 0) -> dict[str, Any]:
    """Background rejection and mass sculpting (JSD) at the cut keeping a fraction ``eff`` of the signal.

    Arguments:
        scores: (N,) tagger or anomaly score, larger = more signal-like.
        labels: (N,) integer classes; ``signal`` and ``background`` are class indices (one or several).
        mass: (N,) jet mass.
        eff: the signal efficiency εS of the cut (0.5 in arXiv:2001.05310).
        bins: mass binning of the JSD: equal bins over the background mass range, or edges.
        n_bootstrap: resamplings for the statistical uncertainties (0: none); ``n_floor_draws``
            random subsets for the JSD floor (:func:`jsd_floor_draws`); ``seed`` for both.

    Returns a JSON-serializable dict: ``eff_s_target``, ``threshold`` (cut ``score >= threshold``),
    ``eff_s`` and ``eff_b`` (fractions passing it), ``rejection`` = 1/εB (None when no background jet
    passes, then ``rejection_inf`` is True), ``jsd``, ``inv_jsd`` = 1/JSD (None when JSD is 0 or
    undefined), ``jsd_floor`` and ``jsd_floor_std`` (mean and spread of the JSD of a random cut
    passing as many background jets; None when all or none pass), ``inv_jsd_floor``, ``n_signal``,
    ``n_background``, ``n_background_pass``, ``bins`` and ``mass_range`` (the binned range), and with
    ``n_bootstrap`` > 0 ``rejection_std``, ``jsd_std``, ``inv_jsd_std``.
    """
    s, y, m = (np.asarray(a) for a in (scores, labels, mass))
    s, m = s.astype(np.float64), m.astype(np.float64)
    if not s.ndim == 1 or s.shape != y.shape or s.shape != m.shape:
        raise ValueError(f"scores, labels and mass must be 1-D of equal length: {s.shape}, {y.shape}, {m.shape}")
    is_sig, is_bkg = np.isin(y, _as_list(signal)), np.isin(y, _as_list(background))
    if not is_sig.any() or not is_bkg.any():
        raise ValueError(f"need signal and background jets, got {int(is_sig.sum())} and {int(is_bkg.sum())}")
    edges = np.histogram_bin_edges(m[is_bkg], bins)
    t = threshold_at_efficiency(s[is_sig], eff)
    passes = s[is_bkg] >= t
    n_pass, eff_b = int(passes.sum()), float(passes.mean())
    jsd = jsd_after_cut(m[is_bkg], passes, edges)
    floor = (jsd_floor_draws(m[is_bkg], n_pass, edges, n_floor_draws, seed) if 0 < n_pass < passes.size
             else np.array([math.nan]))
    out = {
        "eff_s_target": float(eff), "threshold": t, "eff_s": float(np.mean(s[is_sig] >= t)), "eff_b": eff_b,
        "rejection": 1.0 / eff_b if eff_b > 0 else None, "rejection_inf": eff_b == 0,
        "jsd": None if math.isnan(jsd) else jsd, "inv_jsd": 1.0 / jsd if jsd > 0 else None,
        "jsd_floor": _finite(np.nanmean(floor)) if np.isfinite(floor).any() else None,
        "jsd_floor_std": _finite(np.nanstd(floor)) if np.isfinite(floor).sum() > 1 else None,
        "n_signal": int(is_sig.sum()), "n_background": int(is_bkg.sum()), "n_background_pass": n_pass,
        "bins": bins if isinstance(bins, int) else [float(e) for e in bins],
        "mass_range": [float(edges[0]), float(edges[-1])],
    }  # fmt: skip
    out["inv_jsd_floor"] = 1.0 / out["jsd_floor"] if out["jsd_floor"] else None
    if n_bootstrap > 0:
        out.update(_bootstrap(s[is_sig], s[is_bkg], m[is_bkg], eff, edges, n_bootstrap, seed))
    return out


def _finite(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None
