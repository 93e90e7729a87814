"""Tagger metrics (jetlab.metrics.classification) on inputs whose answers can be checked by hand.

Values are checked against the hand-built references of tests/reference_metrics.py (Mann-Whitney
count, sorted-and-counted ROC); more of them in tests/test_metric_references.py. The bootstrap
machinery (integer weights on one sorted sample) is also checked against scikit-learn's weighted ROC
and AUC, an implementation independent of jetlab's cumulative sums.
"""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from jetlab.metrics.classification import (
    classification_metrics,
    rejection_at,
    roc_points,
    sorted_groups,
    weighted_auc_and_fpr,
)
from tests.reference_metrics import eps_b_at_eps_s, hand_roc, mann_whitney_auc

NAMES = ["g", "q", "w", "z", "t"]


def fake_probs(n: int, n_classes: int = 5, sep: float = 1.5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Softmax of Gaussian logits with the true class shifted up by ``sep``: (N, C) probs, (N,) labels."""
    r = np.random.default_rng(seed)
    labels = r.integers(0, n_classes, n)
    logits = r.normal(size=(n, n_classes))
    logits[np.arange(n), labels] += sep
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True), labels


# ------------------------------------------------------------------------------------- rejection_at
def test_rejection_interpolates_six_point_roc() -> None:
    fpr = [0.0, 0.0, 0.1, 0.2, 0.5, 1.0]
    tpr = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert rejection_at(fpr, tpr, 0.5) == pytest.approx(1 / 0.15)        # halfway from (0.1, .4) to (.2, .6)
    assert rejection_at(fpr, tpr, 0.4) == pytest.approx(10.0)            # on a point
    assert rejection_at(fpr, tpr, 0.7) == pytest.approx(1 / 0.35)
    assert rejection_at(fpr, tpr, 1.0) == pytest.approx(1.0)
    assert rejection_at(fpr, tpr, 0.2) == math.inf                        # εB = 0 there
    assert rejection_at(fpr, tpr, 0.1) == math.inf


def test_rejection_follows_the_roc_path_on_flat_and_steep_runs() -> None:
    # εS stays 0.5 while εB grows 0.1 -> 0.3: the working point εS = 0.5 takes the smallest εB
    assert rejection_at([0, 0.1, 0.3, 0.3, 1], [0, 0.5, 0.5, 1, 1], 0.5) == pytest.approx(10.0)
    # εB stays 0.2 while εS grows 0.5 -> 1: εS = 0.75 lies on that segment, εB = 0.2 (not a chord)
    assert rejection_at([0, 0, 0.2, 0.2, 1], [0, 0.5, 0.5, 1, 1], 0.75) == pytest.approx(5.0)


@pytest.mark.parametrize("fpr, tpr, eff", [
    ([0.0, 0.5, 0.4], [0.0, 0.5, 1.0], 0.5),      # εB decreasing
    ([0.0, 1.0], [0.0, 1.0], 0.0),                 # εS = 0
    ([0.0, 1.0], [0.0, 1.0], 1.5),                 # εS > 1
    ([0.0, 1.0], [0.0, 0.4], 0.5),                 # never reaches εS
    ([0.0, 1.0], [0.0], 0.5),                      # lengths differ
])  # fmt: skip
def test_rejection_rejects_bad_input(fpr: list[float], tpr: list[float], eff: float) -> None:
    with pytest.raises(ValueError):
        rejection_at(fpr, tpr, eff)


# ------------------------------------------------------------------------ classification_metrics
def test_perfect_classifier() -> None:
    labels = np.repeat(np.arange(5), 40)
    probs = np.eye(5)[labels] * 0.9 + 0.02                               # rows sum to 1, arg-max = truth
    m = classification_metrics(probs, labels, NAMES, n_bootstrap=20)
    json.dumps(m, allow_nan=False)                                        # valid JSON despite 1/εB = inf
    assert m["accuracy"] == 1.0 and m["macro_auc"] == 1.0
    assert m["confusion"]["counts"] == (np.eye(5, dtype=int) * 40).tolist()
    assert m["auc"] == dict.fromkeys(NAMES, 1.0) and m["auc_unc"] == dict.fromkeys(NAMES, 0.0)
    assert m["n_signal"] == dict.fromkeys(NAMES, 40) and m["n_background"] == dict.fromkeys(NAMES, 160)
    for c in NAMES:
        assert m["rejection"][c] == {e: {"value": None, "unc": None, "inf": True} for e in ("0.3", "0.5")}


def test_random_classifier_has_auc_one_half() -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 5, 50_000)
    probs = rng.dirichlet(np.ones(5), size=50_000)
    m = classification_metrics(probs, labels, NAMES, n_bootstrap=10)
    for c in NAMES:
        assert m["auc"][c] == pytest.approx(0.5, abs=0.015)
        assert m["rejection"][c]["0.3"]["value"] == pytest.approx(1 / 0.3, rel=0.1)   # εB = εS
        assert m["rejection"][c]["0.5"]["value"] == pytest.approx(2.0, rel=0.1)
    assert m["accuracy"] == pytest.approx(0.2, abs=0.01)


def test_confusion_matrix_against_manual_count() -> None:
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    pred = np.array([0, 1, 0, 1, 1, 2, 0, 2, 1])
    probs = np.full((9, 3), 0.1)
    probs[np.arange(9), pred] = 0.8
    m = classification_metrics(probs, labels, ["g", "q", "w"], n_bootstrap=0)
    manual = np.zeros((3, 3), int)
    for t, p in zip(labels, pred):
        manual[t, p] += 1
    assert m["confusion"]["counts"] == manual.tolist() == [[2, 1, 0], [0, 2, 0], [1, 1, 2]]
    assert m["confusion"]["normalized"][2] == pytest.approx([0.25, 0.25, 0.5])
    assert m["accuracy"] == pytest.approx(6 / 9)
    assert m["accuracy_unc"] is None and m["auc_unc"]["g"] is None


def test_per_class_auc_and_rejection_match_hand_references() -> None:
    probs, labels = fake_probs(3000, seed=1)
    m = classification_metrics(probs, labels, NAMES, n_bootstrap=0)
    for k, c in enumerate(NAMES):
        sig, bkg = probs[labels == k, k], probs[labels != k, k]
        assert m["auc"][c] == pytest.approx(mann_whitney_auc(sig, bkg), abs=1e-12)
        eps_b = eps_b_at_eps_s(*hand_roc(sig, bkg), 0.5)
        assert m["rejection"][c]["0.5"]["value"] == pytest.approx(1 / eps_b, rel=1e-12)
    assert m["macro_auc"] == pytest.approx(np.mean(list(m["auc"].values())))


def test_binary_mode() -> None:
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, 4000)
    p_sig = 1 / (1 + np.exp(-(rng.normal(size=4000) + 2.0 * labels - 1.0)))
    probs = np.stack([1 - p_sig, p_sig], axis=1)
    m = classification_metrics(probs, labels, ["g+q", "t"], n_bootstrap=30)
    assert m["binary"] and m["signal"] == "t" and m["background"] == "g+q"
    assert list(m["auc"]) == list(m["rejection"]) == list(m["n_signal"]) == ["t"]
    assert m["auc"]["t"] == m["macro_auc"] == pytest.approx(mann_whitney_auc(p_sig[labels == 1], p_sig[labels == 0]))
    assert m["auc_unc"]["t"] > 0 and m["rejection"]["t"]["0.3"]["unc"] > 0
    eps_b = eps_b_at_eps_s(*hand_roc(p_sig[labels == 1], p_sig[labels == 0]), 0.3)
    assert m["rejection"]["t"]["0.3"]["value"] == pytest.approx(1 / eps_b, rel=1e-12)
    assert m["n_signal"]["t"] + m["n_background"]["t"] == 4000
    assert np.array(m["confusion"]["counts"]).sum() == 4000
    json.dumps(m, allow_nan=False)


def test_bootstrap_uncertainties_positive_shrink_with_n_and_are_seeded() -> None:
    small = classification_metrics(*fake_probs(1_000, seed=4), NAMES, n_bootstrap=100)
    large = classification_metrics(*fake_probs(16_000, seed=4), NAMES, n_bootstrap=100)
    for c in NAMES:
        assert small["auc_unc"][c] > 0 and large["auc_unc"][c] > 0
        assert large["auc_unc"][c] < small["auc_unc"][c] / 2              # ~ 1/sqrt(N): expect a factor 4
        assert large["rejection"][c]["0.5"]["unc"] < small["rejection"][c]["0.5"]["unc"]
    assert 0 < large["accuracy_unc"] < small["accuracy_unc"] / 2
    assert 0 < large["macro_auc_unc"] < small["macro_auc_unc"] / 2
    again = classification_metrics(*fake_probs(1_000, seed=4), NAMES, n_bootstrap=100)
    assert again == small


def test_absent_class_has_no_auc() -> None:
    probs, labels = fake_probs(500, seed=5)
    labels[labels == 3] = 0
    m = classification_metrics(probs, labels, NAMES, n_bootstrap=5)
    assert m["auc"]["z"] is None and m["n_signal"]["z"] == 0 and m["rejection"]["z"]["0.3"]["value"] is None
    assert m["macro_auc"] is None and m["auc"]["t"] is not None
    json.dumps(m, allow_nan=False)


@pytest.mark.parametrize("probs, labels", [
    (np.full((4, 3), 1 / 3), [0, 1, 2, 0]),            # 3 columns for 5 names
    (np.full((4, 5), 0.2), [0, 1, 2]),                 # length mismatch
    (np.full((4, 5), 0.2), [0, 1, 2, 5]),              # label out of range
    (np.full((4, 5), np.nan), [0, 1, 2, 3]),           # NaN scores
])  # fmt: skip
def test_metrics_reject_bad_input(probs: np.ndarray, labels: list[int]) -> None:
    with pytest.raises(ValueError):
        classification_metrics(probs, np.array(labels), NAMES)


def test_metrics_reject_bad_working_points() -> None:
    probs, labels = fake_probs(100, seed=0)
    for effs in [(0.0,), (0.5, 1.2)]:
        with pytest.raises(ValueError, match="signal efficiencies"):
            classification_metrics(probs, labels, NAMES, signal_effs=effs)


def test_bootstrap_is_fast_for_1e5_jets() -> None:
    probs, labels = fake_probs(100_000, seed=6)
    start = time.perf_counter()
    classification_metrics(probs, labels, NAMES, n_bootstrap=100)
    assert time.perf_counter() - start < 20.0                             # ~1 s on 2 cores


# ------------------------------------------------------------------ weighted ROC vs scikit-learn
@pytest.mark.parametrize("decimals", [None, 2])                          # continuous and tied scores
def test_weighted_auc_and_fpr_match_sklearn_sample_weight(decimals: int | None) -> None:
    probs, labels = fake_probs(3000, seed=7)
    score = probs[:, 4] if decimals is None else np.round(probs[:, 4], decimals)
    pos = labels == 4
    weights = np.random.default_rng(8).integers(0, 4, size=(3, 3000))    # three "resamples"
    order, starts = sorted_groups(score)
    auc, eps_b = weighted_auc_and_fpr(weights[:, order], pos[order], starts, [0.3, 0.5])
    for r in range(3):
        assert auc[r] == pytest.approx(roc_auc_score(pos, score, sample_weight=weights[r]), abs=1e-12)
        fpr, tpr, _ = roc_curve(pos, score, sample_weight=weights[r])
        for k, eff in enumerate([0.3, 0.5]):
            assert 1 / eps_b[r, k] == pytest.approx(rejection_at(fpr, tpr, eff), rel=1e-9)


# -------------------------------------------------------------------------------------- roc_points
def test_roc_points_downsampled_keeps_ends_and_rejection() -> None:
    probs, labels = fake_probs(40_000, seed=9)
    fpr, tpr = roc_points(probs, labels, 4, max_points=500)
    full_f, full_t = hand_roc(probs[labels == 4, 4], probs[labels != 4, 4])
    assert full_f.size > 500 >= fpr.size > 400
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    for eff in (0.3, 0.5):
        assert rejection_at(fpr, tpr, eff) == pytest.approx(1 / eps_b_at_eps_s(full_f, full_t, eff), rel=0.02)
    # a short curve is kept whole: every point of it lies on the hand-built ROC, none is dropped there
    # except interior points of straight runs (which change no interpolated value)
    short_f, short_t = roc_points(probs[:50], labels[:50], 4)
    ref_f, ref_t = hand_roc(probs[:50][labels[:50] == 4, 4], probs[:50][labels[:50] != 4, 4])
    assert set(zip(short_f.tolist(), short_t.tolist())) <= set(zip(ref_f.tolist(), ref_t.tolist()))
    for eff in np.linspace(0.05, 1.0, 20):
        assert 1 / rejection_at(short_f, short_t, eff) == pytest.approx(eps_b_at_eps_s(ref_f, ref_t, eff))
