"""Anomaly metrics (jetlab.metrics.anomaly) on hand-checkable inputs, and the anomaly plots as PNGs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from jetlab.metrics.anomaly import anomaly_metrics, sic_curve, signal_efficiency_at
from tests.reference_metrics import mann_whitney_auc

NAMES = ["g", "q", "w", "z", "t"]
PNG = b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------- signal_efficiency_at
def test_signal_efficiency_interpolates_and_takes_top_of_vertical_runs() -> None:
    fpr, tpr = [0.0, 0.0, 0.05, 0.2, 0.2, 1.0], [0.0, 0.4, 0.5, 0.6, 0.9, 1.0]
    assert signal_efficiency_at(fpr, tpr, 0.0) == pytest.approx(0.4)   # top of the εB = 0 run
    assert signal_efficiency_at(fpr, tpr, 0.1) == pytest.approx(0.5 + 0.1 / 3)
    assert signal_efficiency_at(fpr, tpr, 0.2) == pytest.approx(0.9)   # top of the εB = 0.2 run
    assert signal_efficiency_at(fpr, tpr, 0.6) == pytest.approx(0.95)
    assert signal_efficiency_at(fpr, tpr, 1.0) == pytest.approx(1.0)


def test_sic_curve_keeps_only_resolved_points() -> None:
    eff_s, eff_b, sic = sic_curve([0.0, 0.001, 0.04, 1.0], [0.0, 0.2, 0.4, 1.0], min_eff_b=0.01)
    assert eff_b.tolist() == [0.04, 1.0]
    assert sic == pytest.approx([0.4 / 0.2, 1.0])
    with pytest.raises(ValueError):
        sic_curve([0.0, 1.0], [0.0, 1.0], min_eff_b=0.0)


# ---------------------------------------------------------------------------------- anomaly_metrics
def test_perfect_separation() -> None:
    n = 5000
    labels = np.r_[np.zeros(n, int), np.ones(n, int), np.full(500, 4)]      # g, q background; t signal
    rng = np.random.default_rng(0)
    scores = np.r_[rng.uniform(0, 1, 2 * n), rng.uniform(2, 3, 500)]
    m = anomaly_metrics(scores, labels, [0, 1], NAMES, n_bootstrap=10)
    t = m["signals"]["t"]
    assert list(m["signals"]) == ["t"] and m["background"] == ["g", "q"] and m["n_background"] == 2 * n
    assert t["auc"] == 1.0 and t["auc_unc"] == 0.0
    assert t["eff_s"] == {"0.1": 1.0, "0.01": 1.0, "0.001": 1.0}
    # εS = 1 at every εB: the SIC is largest at the tightest resolved cut, 10 background jets
    assert t["max_sic_eff_b"] == pytest.approx(10 / (2 * n))
    assert t["max_sic"] == pytest.approx(1 / math.sqrt(10 / (2 * n)))
    json.dumps(m, allow_nan=False)


def test_identical_distributions() -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 5, 40_000)
    scores = rng.normal(size=labels.size)
    m = anomaly_metrics(scores, labels, [0, 1], NAMES, n_bootstrap=20)
    assert list(m["signals"]) == ["w", "z", "t"]
    for c in m["signals"].values():
        assert c["auc"] == pytest.approx(0.5, abs=0.02)
        assert 0.001 < c["auc_unc"] < 0.02
        assert c["eff_s"]["0.1"] == pytest.approx(0.1, abs=0.02)
        # εS ≈ εB: SIC ≈ sqrt(εB) <= 1, largest (= 1) with no cut
        assert c["max_sic"] == pytest.approx(1.0, abs=0.05)
        assert c["max_sic_eff_s"] > 0.8
        assert len(c["sic_curve"]["sic"]) <= 500 and max(c["sic_curve"]["sic"]) == c["max_sic"]


def test_crafted_roc_reads_eff_s_at_eff_b() -> None:
    # 100 background jets at 0..99, 10 signal jets: 4 above every background jet, 3 between the
    # 10th and 11th highest background jets, 3 at the bottom -> εS(εB = 0.1) = 0.7, εS(0.01) = 0.4
    bkg = np.arange(100.0)
    sig = np.array([200, 201, 202, 203, 89.5, 89.6, 89.7, -3, -2, -1.0])
    scores, labels = np.r_[bkg, sig], np.r_[np.zeros(100, int), np.full(10, 2)]
    m = anomaly_metrics(scores, labels, [0], ["g", "q", "w"], n_bootstrap=0)
    w = m["signals"]["w"]
    assert w["eff_s"]["0.1"] == pytest.approx(0.7)
    assert w["eff_s"]["0.01"] == pytest.approx(0.4)
    assert w["eff_s"]["0.001"] is None                               # below 1 / 100 background jets
    # U: 4 signal above all 100 background jets, 3 above 90 of them, 3 below all -> (400 + 270) / 1000
    assert w["auc"] == pytest.approx(0.67) == pytest.approx(mann_whitney_auc(sig, bkg))
    assert w["auc_unc"] is None
    assert list(m["signals"]) == ["w"]                                    # q: neither signal nor present


def test_larger_score_means_more_anomalous_and_classes_are_separate() -> None:
    rng = np.random.default_rng(2)
    labels = np.r_[np.zeros(3000, int), np.full(1000, 2), np.full(1000, 4)]
    scores = rng.normal(size=labels.size) + np.where(labels == 4, 2.0, np.where(labels == 2, -2.0, 0.0))
    m = anomaly_metrics(scores, labels, [0], NAMES, n_bootstrap=0)
    assert m["signals"]["t"]["auc"] > 0.9 > 0.1 > m["signals"]["w"]["auc"]
    assert m["signals"]["t"]["n_background"] == m["signals"]["w"]["n_background"] == 3000


@pytest.mark.parametrize("kwargs", [
    {"scores": [0.1, math.nan], "labels": [0, 2]},
    {"scores": [0.1, 0.2], "labels": [0, 7]},
    {"scores": [0.1, 0.2], "labels": [0, 2], "background": [9]},
    {"scores": [0.1, 0.2], "labels": [0, 2], "bkg_effs": [0.0]},
])  # fmt: skip
def test_bad_inputs_raise(kwargs: dict) -> None:
    args = {"background": [0], "class_names": ["g", "q", "w"], **kwargs}
    with pytest.raises(ValueError):
        anomaly_metrics(**args)


# ------------------------------------------------------------------------------------------- plots
def test_anomaly_plots_write_pngs(tmp_path: Path) -> None:
    from jetlab.report.anomaly_plots import plot_image_examples, plot_latent, plot_score_distributions, plot_sic

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 5, 2000)
    scores = np.exp(rng.normal(size=2000) + labels * 0.5)
    m = anomaly_metrics(scores, labels, [0, 1], NAMES, n_bootstrap=0)
    curves = {k: (c["sic_curve"]["eff_s"], c["sic_curve"]["sic"]) for k, c in m["signals"].items()}
    imgs = rng.exponential(size=(3, 1, 12, 12)) * (rng.uniform(size=(3, 1, 12, 12)) < 0.2)
    paths = [
        plot_score_distributions(scores, labels, NAMES, tmp_path / "scores.png", background=[0, 1]),
        plot_sic(curves, tmp_path / "sic.png"),
        plot_latent(rng.normal(size=(2000, 3)), labels, NAMES, tmp_path / "latent.png", max_per_class=100),
        plot_image_examples(imgs, imgs * 0.5 + 0.01, tmp_path / "images.png"),
    ]
    for p in paths:
        assert p.read_bytes()[:8] == PNG
