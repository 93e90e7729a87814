"""Tagger and anomaly metrics against independent references (tests/reference_metrics.py; no scikit-learn).

- AUC against the Mann-Whitney U count over every (signal, background) pair, ties counted ½;
- 1/εB at fixed εS and εS at fixed εB against a ROC built by sorting and counting, read with the
  stated interpolation conventions (linear along the ROC path; see the reference docstrings);
- bootstrap uncertainties against closed forms: the binomial error of the accuracy, DeLong's
  standard error of the AUC, and the delta-method error of εB at a fixed εS for two Gaussians;
- the SIC maximum against a loop over the hand-built ROC.
Samples are small and scores rounded, so ties occur in every case.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from jetlab.metrics.anomaly import anomaly_metrics
from jetlab.metrics.classification import classification_metrics, sorted_groups, versus_auc, weighted_auc_and_fpr
from tests.reference_metrics import delong_auc_std, eps_b_at_eps_s, eps_s_at_eps_b, hand_roc, mann_whitney_auc

NAMES = ["g", "q", "w", "z", "t"]


def tied_probs(n: int, seed: int, decimals: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(N, 5) softmax probabilities rounded to ``decimals`` (many ties), (N,) labels."""
    r = np.random.default_rng(seed)
    labels = r.integers(0, 5, n)
    logits = r.normal(size=(n, 5))
    logits[np.arange(n), labels] += 1.2
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return np.round(p, decimals), labels


def test_reference_auc_agrees_with_the_u_statistic_on_a_worked_example() -> None:
    # signal 3, 2, 2; background 2, 1: pairs (3>2, 3>1, 2=2, 2>1, 2=2, 2>1) -> U = 4 + 2 * 0.5 = 5 of 6
    assert mann_whitney_auc(np.array([3.0, 2, 2]), np.array([2.0, 1])) == pytest.approx(5 / 6)
    fpr, tpr = hand_roc(np.array([3.0, 2, 2]), np.array([2.0, 1]))
    assert fpr.tolist() == [0, 0, 0.5, 1] and tpr.tolist() == [0, 1 / 3, 1, 1]
    assert float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)) == pytest.approx(5 / 6)  # trapezoids


@pytest.mark.parametrize("decimals", [1, 2, 6])
def test_one_vs_rest_auc_and_rejection_match_hand_references(decimals: int) -> None:
    probs, labels = tied_probs(600, seed=decimals, decimals=decimals)
    m = classification_metrics(probs, labels, NAMES, signal_effs=(0.3, 0.5, 0.8), n_bootstrap=0)
    for k, c in enumerate(NAMES):
        sig, bkg = probs[labels == k, k], probs[labels != k, k]
        assert m["auc"][c] == pytest.approx(mann_whitney_auc(sig, bkg), abs=1e-12)
        fpr, tpr = hand_roc(sig, bkg)
        for eff in (0.3, 0.5, 0.8):
            eps_b = eps_b_at_eps_s(fpr, tpr, eff)
            entry = m["rejection"][c][f"{eff:g}"]
            assert entry["inf"] is (eps_b == 0)
            assert entry["value"] == (None if eps_b == 0 else pytest.approx(1 / eps_b, rel=1e-12))


def test_rejection_interpolates_inside_a_tie_group() -> None:
    # signal 0.9, 0.5, 0.5, 0.1; background 0.7, 0.5, 0.5, 0.5, 0.2, 0.0: the cut at 0.5 adds two
    # signal and three background jets at once, so εS = 0.5 lies halfway along the diagonal from
    # (1/6, 1/4) to (4/6, 3/4): εB = 1/6 + ½ 3/6 = 5/12 (not the 4/6 of the cut's end point)
    sig, bkg = np.array([0.9, 0.5, 0.5, 0.1]), np.array([0.7, 0.5, 0.5, 0.5, 0.2, 0.0])
    probs = np.column_stack([1 - np.r_[sig, bkg], np.r_[sig, bkg]])
    labels = np.r_[np.ones(4, int), np.zeros(6, int)]
    m = classification_metrics(probs, labels, ["g+q", "t"], signal_effs=(0.5,), n_bootstrap=0)
    assert eps_b_at_eps_s(*hand_roc(sig, bkg), 0.5) == pytest.approx(5 / 12)
    assert m["rejection"]["t"]["0.5"]["value"] == pytest.approx(12 / 5)
    assert m["auc"]["t"] == pytest.approx(mann_whitney_auc(sig, bkg))


def test_versus_auc_is_the_u_statistic_of_the_ratio() -> None:
    probs, labels = tied_probs(500, seed=11)
    keep = np.isin(labels, [4, 0, 1])
    ratio = probs[:, 4] / np.maximum(probs[:, [4, 0, 1]].sum(axis=1), 1e-12)
    ref = mann_whitney_auc(ratio[keep & (labels == 4)], ratio[keep & (labels != 4)])
    assert versus_auc(probs, labels, 4, [0, 1]) == pytest.approx(ref, abs=1e-12)


@pytest.mark.parametrize("decimals", [2, None])
def test_weighted_auc_and_fpr_equal_the_references_on_repeated_jets(decimals: int | None) -> None:
    """Integer weights w mean 'this jet w times': the references run on the expanded sample."""
    probs, labels = tied_probs(400, seed=12, decimals=decimals or 15)
    score, pos = probs[:, 4], labels == 4
    weights = np.random.default_rng(13).integers(0, 4, size=(3, 400))
    order, starts = sorted_groups(score)
    auc, eps_b = weighted_auc_and_fpr(weights[:, order], pos[order], starts, [0.3, 0.5])
    for r in range(3):
        sig, bkg = np.repeat(score[pos], weights[r][pos]), np.repeat(score[~pos], weights[r][~pos])
        assert auc[r] == pytest.approx(mann_whitney_auc(sig, bkg), abs=1e-12)
        fpr, tpr = hand_roc(sig, bkg)
        assert eps_b[r] == pytest.approx([eps_b_at_eps_s(fpr, tpr, e) for e in (0.3, 0.5)], rel=1e-12)


# ---------------------------------------------------------------------------------- uncertainties
def test_accuracy_uncertainty_is_the_binomial_error() -> None:
    probs, labels = tied_probs(4000, seed=14)
    m = classification_metrics(probs, labels, NAMES, n_bootstrap=400, seed=1)
    a = m["accuracy"]
    assert m["accuracy_unc"] == pytest.approx(math.sqrt(a * (1 - a) / 4000), rel=0.12)


def test_auc_uncertainty_is_delong_standard_error() -> None:
    r = np.random.default_rng(15)
    sig, bkg = np.round(r.normal(1.0, 1.0, 1500), 1), np.round(r.normal(0.0, 1.0, 2500), 1)   # ties
    score = np.r_[sig, bkg]
    labels = np.r_[np.ones(1500, int), np.zeros(2500, int)]
    m = classification_metrics(np.column_stack([-score, score]), labels, ["g+q", "t"], n_bootstrap=400, seed=2)
    assert m["auc_unc"]["t"] == pytest.approx(delong_auc_std(sig, bkg), rel=0.12)
    a = anomaly_metrics(score, labels, background=[0], class_names=["g+q", "t"], n_bootstrap=400, seed=3)
    assert a["signals"]["t"]["auc_unc"] == pytest.approx(delong_auc_std(sig, bkg), rel=0.12)


def test_rejection_uncertainty_is_the_delta_method_error_for_two_gaussians() -> None:
    """Signal N(2, 1), background N(0, 1), εS = 0.5: the cut t sits near the signal median 2.

    εB at a fixed εS fluctuates with the background passing a fixed cut (binomial) and with the cut,
    which moves with the signal quantile: Var εB = εB(1 - εB)/B + (φ_B(t)/φ_S(t))² εS(1 - εS)/S,
    and σ(1/εB) = σ(εB)/εB². Both terms are comparable here (S = 5000, B = 40000), so either alone
    would miss by 25-60 %. The bootstrap of a quantile scatters by ~10 % from sample to sample, so
    the ratio bootstrap / formula (at each sample's own εB and t) is averaged over 6 samples.
    """
    s_n, b_n, ratios = 5000, 40_000, []
    for seed in range(6):
        r = np.random.default_rng(100 + seed)
        score = np.r_[r.normal(2.0, 1.0, s_n), r.normal(0.0, 1.0, b_n)]
        labels = np.r_[np.ones(s_n, int), np.zeros(b_n, int)]
        m = classification_metrics(np.column_stack([-score, score]), labels, ["g+q", "t"], signal_effs=(0.5,),
                                   n_bootstrap=200, seed=seed)  # fmt: skip
        rej = m["rejection"]["t"]["0.5"]
        eps_b, t = 1 / rej["value"], float(np.median(score[:s_n]))
        assert eps_b == pytest.approx(norm.sf(2.0), rel=0.15)
        var = eps_b * (1 - eps_b) / b_n + (norm.pdf(t) / norm.pdf(t - 2.0)) ** 2 * 0.25 / s_n
        ratios.append(rej["unc"] / (math.sqrt(var) / eps_b**2))
    assert np.mean(ratios) == pytest.approx(1.0, abs=0.1), ratios


# ---------------------------------------------------------------------------------- anomaly
def test_anomaly_eps_s_and_sic_match_the_hand_built_roc() -> None:
    r = np.random.default_rng(17)
    labels = np.r_[np.zeros(900, int), np.ones(600, int), np.full(300, 2)]           # g, q background; w
    scores = np.round(np.r_[r.exponential(1.0, 1500), r.exponential(2.5, 300)], 1)  # ties
    m = anomaly_metrics(scores, labels, [0, 1], ["g", "q", "w"], bkg_effs=(0.3, 0.1, 0.01, 1e-4), n_bootstrap=0)
    w = m["signals"]["w"]
    sig, bkg = scores[labels == 2], scores[labels != 2]
    fpr, tpr = hand_roc(sig, bkg)
    assert w["auc"] == pytest.approx(mann_whitney_auc(sig, bkg), abs=1e-12)
    for e in (0.3, 0.1, 0.01):
        assert w["eff_s"][f"{e:g}"] == pytest.approx(eps_s_at_eps_b(fpr, tpr, e), abs=1e-12)
    assert w["eff_s"]["0.0001"] is None                                              # below 1 / 1500
    resolved = [(tpr[i] / math.sqrt(fpr[i]), tpr[i], fpr[i]) for i in range(len(fpr)) if fpr[i] >= 10 / 1500]
    best = max(resolved)
    assert (w["max_sic"], w["max_sic_eff_s"], w["max_sic_eff_b"]) == pytest.approx(best, abs=1e-12)
