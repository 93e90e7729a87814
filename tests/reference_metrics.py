"""Slow, obvious reference implementations of the tagger metrics, for tests only (no scikit-learn).

Each function is written from the definition, on small samples, so that a test comparing it with
:mod:`jetlab.metrics` compares two independent computations:

- :func:`mann_whitney_auc`: AUC = U / (S B), U = #{(s, b): score_s > score_b} + ½ #{score_s = score_b},
  counted over all S x B pairs (Mann & Whitney 1947; the area under the ROC, Bamber 1975);
- :func:`hand_roc`: the ROC from sorting and cumulative counts, one point per distinct cut;
- :func:`eps_b_at_eps_s`, :func:`eps_s_at_eps_b`: points read off that ROC with jetlab's conventions,
  by walking its segments in a Python loop;
- :func:`delong_auc_std`: the DeLong et al. (1988) standard error of the AUC from placement values.
"""

from __future__ import annotations

import numpy as np

__all__ = ["mann_whitney_auc", "hand_roc", "eps_b_at_eps_s", "eps_s_at_eps_b", "delong_auc_std"]


def mann_whitney_auc(sig: np.ndarray, bkg: np.ndarray) -> float:
    """U / (S B) with ties counted one half: an O(S B) count over every (signal, background) pair."""
    s, b = np.asarray(sig, np.float64)[:, None], np.asarray(bkg, np.float64)[None, :]   # (S, 1), (1, B)
    u = np.count_nonzero(s > b) + 0.5 * np.count_nonzero(s == b)
    return float(u) / (s.size * b.size)


def hand_roc(sig: np.ndarray, bkg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(εB, εS) of the cuts ``score >= t`` for every distinct score t, highest first, from (0, 0) to (1, 1)."""
    cuts = np.unique(np.concatenate([sig, bkg]))[::-1]                                   # descending
    tp = len(sig) - np.searchsorted(np.sort(sig), cuts, side="left")                    # #{sig >= t}
    fp = len(bkg) - np.searchsorted(np.sort(bkg), cuts, side="left")                    # #{bkg >= t}
    return np.r_[0.0, fp / len(bkg)], np.r_[0.0, tp / len(sig)]


def eps_b_at_eps_s(fpr: np.ndarray, tpr: np.ndarray, eff: float) -> float:
    """εB where the ROC path first reaches εS = ``eff``: linear on the segment that crosses it.

    jetlab's convention (:func:`jetlab.metrics.classification.rejection_at`): walking from (0, 0),
    take the first point with εS >= ``eff``; if it is exactly ``eff`` (or the segment is flat) its εB,
    otherwise interpolate linearly between it and the point before.
    """
    for i in range(len(tpr)):
        if tpr[i] >= eff:
            if i == 0 or tpr[i] == eff or tpr[i] == tpr[i - 1]:
                return float(fpr[i])
            w = (eff - tpr[i - 1]) / (tpr[i] - tpr[i - 1])
            return float(fpr[i - 1] + w * (fpr[i] - fpr[i - 1]))
    raise ValueError(f"the ROC never reaches εS = {eff}")


def eps_s_at_eps_b(fpr: np.ndarray, tpr: np.ndarray, eff_b: float) -> float:
    """εS at εB = ``eff_b``: the highest point with εB <= ``eff_b`` if one sits at ``eff_b`` (top of a
    vertical run), else linear between the last point below and the first point above
    (jetlab's convention, :func:`jetlab.metrics.anomaly.signal_efficiency_at`)."""
    at = [tpr[i] for i in range(len(fpr)) if fpr[i] == eff_b]
    if at:
        return float(max(at))
    below = max(i for i in range(len(fpr)) if fpr[i] < eff_b)
    above = min(i for i in range(len(fpr)) if fpr[i] > eff_b)
    w = (eff_b - fpr[below]) / (fpr[above] - fpr[below])
    return float(tpr[below] + w * (tpr[above] - tpr[below]))


def delong_auc_std(sig: np.ndarray, bkg: np.ndarray) -> float:
    """DeLong standard error: sqrt(var(V10) / S + var(V01) / B) with the placement values
    V10_i = P(b < s_i) + ½ P(b = s_i) and V01_j = P(s > b_j) + ½ P(s = b_j) (DeLong, DeLong &
    Clarke-Pearson, Biometrics 44 (1988) 837)."""
    s, b = np.asarray(sig, np.float64)[:, None], np.asarray(bkg, np.float64)[None, :]
    psi = (s > b) + 0.5 * (s == b)                                                       # (S, B)
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return float(np.sqrt(v10.var(ddof=1) / v10.size + v01.var(ddof=1) / v01.size))
