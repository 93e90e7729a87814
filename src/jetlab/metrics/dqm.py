"""Data-quality monitoring: the shifter's baselines and the numbers every method is judged by.

Baselines (per map ``m`` against the reference mean ``r`` and standard deviation ``σ`` of the good reference runs,
over the K active channels, those with ``r > 0``):

- **χ²/pull**: ``p_k = (m_k − r_k) / σ_k`` per channel; map scores ``χ²/ndf = (1/K) Σ_k p_k²`` and
  ``max_k |p_k|``; the per-channel score ``p_k²`` localizes.
- **Kolmogorov–Smirnov** (ROOT's ``KolmogorovTest`` of two histograms): the occupancy as a histogram over the
  channel index, ``D = max_j |F_m(j) − F_r(j)|`` with ``F`` the normalized cumulative sums; the score is ``D``.

Metrics (scores: higher = more anomalous; labels 1 = faulty):

- per-map AUC;
- efficiency at a false-alarm rate α: the threshold is the (1 − α) quantile of the good maps' scores, the
  efficiency the fraction of faulty maps above it. Measuring α needs at least 1/α good maps; with fewer the
  entry is ``measurable: false`` and no efficiency is given (1e-3 needs ≥ 1000 good test maps);
- false-alarm rate at a fault-finding efficiency ε (0.5, 0.9): the threshold is the (1 − ε) quantile of the
  faulty maps' scores, the rate the fraction of good maps above it (how two methods compare at equal
  efficiency; 0 means below 1 / n_good);
- localization efficiency: per faulty map with k faulty channels, the fraction of them among the k channels of
  highest per-channel score (reconstruction error or pull²), summed over maps;
- each of these overall, per fault strength and per fault kind.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from jetlab.errors import FormatError
from jetlab.io.maps import FAULT_KINDS, Maps
from jetlab.represent.maps import normalized_maps

__all__ = ["chi2_scores", "ks_scores", "check_reference", "auc", "efficiency_at_rate", "false_alarms_at",
           "localization", "dqm_metrics", "RATES", "EFFICIENCIES"]

RATES = (1e-2, 1e-3)
EFFICIENCIES = (0.5, 0.9)


def check_reference(maps: Maps, reference: np.ndarray | None, reference_std: np.ndarray | None = None,
                    source: str = "reference") -> Maps:
    """``maps`` compared with another reference (mean and std, (C, H, W)); :class:`FormatError` if it is of
    another geometry (shape) than the maps."""
    if reference is None:
        return maps
    reference = np.asarray(reference, np.float32)
    std = np.asarray(reference_std if reference_std is not None else np.sqrt(reference), np.float32)
    if reference.shape != maps.shape or std.shape != maps.shape:
        raise FormatError(f"{source}: reference map of shape {reference.shape} does not fit {maps.detector} maps of "
                          f"shape {maps.shape} (a reference of another geometry?)")
    if not (np.isfinite(reference).all() and (reference >= 0).all() and np.isfinite(std).all()):
        raise FormatError(f"{source}: NaN, inf or negative values in the reference map")
    return Maps(maps.maps, maps.labels, maps.channel_faults, maps.fault_kind, maps.strength, maps.detector,
                reference, std, maps.meta, maps.scheme)


def chi2_scores(maps: Maps, channels: tuple[int, ...] = (0,)) -> dict[str, np.ndarray]:
    """``{"chi2_ndf": (N,), "max_pull": (N,), "channel": (N, H, W) Σ_c p²}`` of the χ²/pull test."""
    pulls = normalized_maps(maps, channels, clip=1e6).astype(np.float64)  # (N, C, H, W)
    active = maps.reference[0] > 0  # (H, W)
    sq = (pulls**2).sum(axis=1) * active  # (N, H, W)
    ndf = max(int(active.sum()) * len(channels), 1)
    return {"chi2_ndf": sq.reshape(len(maps), -1).sum(axis=1) / ndf,
            "max_pull": np.sqrt(sq.reshape(len(maps), -1).max(axis=1)), "channel": sq}


def ks_scores(maps: Maps) -> np.ndarray:
    """(N,) Kolmogorov–Smirnov distance of each occupancy map to the reference, as histograms over channels."""
    m = maps.maps[:, 0].reshape(len(maps), -1).astype(np.float64)  # (N, H·W)
    r = maps.reference[0].reshape(-1).astype(np.float64)  # (H·W,)
    fm = np.cumsum(m, axis=1) / np.maximum(m.sum(axis=1, keepdims=True), 1e-12)
    fr = np.cumsum(r) / max(r.sum(), 1e-12)
    return np.abs(fm - fr).max(axis=1)


def auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """ROC AUC of faulty (1) against good (0) maps; None without both."""
    if len(np.unique(labels)) < 2:
        return None
    return float(roc_auc_score(labels, scores))


def efficiency_at_rate(scores: np.ndarray, labels: np.ndarray, rate: float) -> dict[str, Any]:
    """Fraction of faulty maps found at false-alarm ``rate`` (threshold from the good maps' scores)."""
    good, bad = scores[labels == 0], scores[labels == 1]
    out: dict[str, Any] = {"rate": rate, "n_good": int(len(good)), "n_faulty": int(len(bad)),
                           "measurable": bool(len(good) >= round(1 / rate) and len(bad) > 0)}
    if not out["measurable"]:
        out["note"] = f"not measurable: needs >= {round(1 / rate)} good and some faulty maps"
        return out
    threshold = float(np.quantile(good, 1.0 - rate, method="higher"))
    out.update(threshold=threshold, efficiency=float((bad > threshold).mean()),
               false_alarms=float((good > threshold).mean()))
    return out


def false_alarms_at(scores: np.ndarray, labels: np.ndarray, efficiency: float) -> float | None:
    """Fraction of good maps scored above the threshold that finds ``efficiency`` of the faulty maps."""
    good, bad = scores[labels == 0], scores[labels == 1]
    if not len(good) or not len(bad):
        return None
    threshold = float(np.quantile(bad, 1.0 - efficiency, method="lower"))
    return float((good >= threshold).mean())


def localization(channel_scores: np.ndarray, channel_faults: np.ndarray) -> dict[str, Any]:
    """Fraction of faulty channels among the top-k channels by score (k = faulty channels of the map)."""
    flat_s = channel_scores.reshape(len(channel_scores), -1)  # (N, H·W)
    flat_t = channel_faults.reshape(len(channel_faults), -1)  # (N, H·W) bool
    k = flat_t.sum(axis=1)  # (N,)
    keep = k > 0
    if not keep.any():
        return {"efficiency": None, "n_maps": 0, "n_channels": 0}
    rank = np.argsort(np.argsort(-flat_s[keep], axis=1, kind="stable"), axis=1)  # (M, H·W) 0 = highest
    found = ((rank < k[keep, None]) & flat_t[keep]).sum()
    return {"efficiency": float(found / k[keep].sum()), "n_maps": int(keep.sum()), "n_channels": int(k.sum())}


def _summary(scores: np.ndarray, labels: np.ndarray, channel: np.ndarray | None, faults: np.ndarray
             ) -> dict[str, Any]:
    out: dict[str, Any] = {"n_good": int((labels == 0).sum()), "n_faulty": int((labels == 1).sum()),
                           "auc": auc(scores, labels),
                           "efficiency": {f"{r:g}": efficiency_at_rate(scores, labels, r) for r in RATES},
                           "false_alarms_at": {f"{e:g}": false_alarms_at(scores, labels, e) for e in EFFICIENCIES}}
    if channel is not None:
        out["localization"] = localization(channel[labels == 1], faults[labels == 1])
    return out


def dqm_metrics(scores: np.ndarray, maps: Maps, channel: np.ndarray | None = None) -> dict[str, Any]:
    """Every metric of the module docstring for one method: overall, ``by_strength`` and ``by_kind`` (each
    against all good maps)."""
    labels, good = maps.labels, maps.labels == 0
    out = _summary(scores, labels, channel, maps.channel_faults)
    for key, values, names in (("by_strength", maps.strength, None), ("by_kind", maps.fault_kind, FAULT_KINDS)):
        out[key] = {}
        for v in np.unique(values[~good]):
            rows = good | (values == v)
            name = f"{float(v):g}" if names is None else names[int(v)]
            out[key][name] = _summary(scores[rows], labels[rows], None if channel is None else channel[rows],
                                      maps.channel_faults[rows])
    return out
