"""Generative-model metrics: hand-computed values on tiny inputs, zero floors and clear separations."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from jetlab.metrics.generative import (
    GenMetricsConfig,
    classifier_auc,
    compare_with_floor,
    extrapolate_inverse_n,
    fpd,
    frechet_distance,
    jet_mass_from_relative,
    kpd,
    mmd2_unbiased,
    truth_vs_truth,
    w1,
    w1p,
)

SMALL = GenMetricsConfig(n_eval=1500, n_batches=3, fpd_min=300, fpd_max=1500, fpd_points=5, fpd_batches=4,
                         kpd_batches=6, kpd_batch_size=600, classifier_threads=1)


def particle_jets(n: int, seed: int, p: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """JetNet-like (N, P, 3) (Δη, Δφ, pT_rel) clouds with 3..P real particles, pT-ordered, Σ pT_rel = 1."""
    r = np.random.default_rng(seed)
    counts = r.integers(3, p + 1, n)
    mask = np.arange(p)[None, :] < counts[:, None]  # (N, P)
    width = r.uniform(0.09, 0.11, (n, 1))
    pt = np.where(mask, 1.0 / np.arange(1, p + 1), 0.0)  # fixed pT profile 1/rank: smearing shows
    pt /= pt.sum(1, keepdims=True)
    x = np.stack([r.normal(0, 1, (n, p)) * width, r.normal(0, 1, (n, p)) * width, pt], axis=-1)
    x[~mask] = 0.0
    return x, mask


def test_jet_mass_by_hand() -> None:
    a = 0.2
    x = np.array([[[a, 0.0, 0.5], [-a, 0.0, 0.5], [3.0, 1.0, 9.0]]])  # third slot is padding
    mask = np.array([[True, True, False]])
    want = np.sqrt(2 * 0.25 * (np.cosh(2 * a) - 1.0))  # m² = 2 pT1 pT2 (cosh Δη - cos Δφ)
    np.testing.assert_allclose(jet_mass_from_relative(x, mask), [want], rtol=1e-12)


def test_w1_identical_and_shifted(rng: np.random.Generator) -> None:
    assert w1(np.ones(50), np.ones(80), n_eval=100)[0] == 0.0
    a = rng.normal(size=4000)
    same, same_std = w1(a, a, n_eval=3000, n_batches=4)  # bootstrap draws: only the finite-sample floor
    assert same < 0.05 and same_std < 0.02
    mean, std = w1(a, rng.normal(0.5, 1.0, 4000), n_eval=3000, n_batches=4)
    assert mean == pytest.approx(0.5, abs=0.06) and 0 < std < 0.05


def test_frechet_distance_by_hand() -> None:
    # 1-D: (μ1 - μ2)² + σ1² + σ2² - 2 σ1 σ2 = 4 + 4 + 1 - 4 = 5
    assert frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([3.0]), np.array([[1.0]])) == pytest.approx(5)
    cov = np.array([[2.0, 0.3, 0.0], [0.3, 1.0, 0.2], [0.0, 0.2, 0.5]])
    mu = np.array([0.1, -0.2, 0.3])
    assert frechet_distance(mu, cov, mu, cov) == pytest.approx(0.0, abs=1e-10)
    # commuting (diagonal) covariances: Σ_k (μ1k - μ2k)² + (σ1k - σ2k)²
    got = frechet_distance(np.zeros(2), np.diag([1.0, 9.0]), np.array([1.0, 0.0]), np.diag([4.0, 1.0]))
    assert got == pytest.approx(1.0 + 1.0 + 4.0)


def test_inverse_n_extrapolation() -> None:
    sizes = np.array([500, 1000, 2000, 4000])
    c, unc = extrapolate_inverse_n(sizes, 0.3 + 50.0 / sizes)
    assert c == pytest.approx(0.3) and unc == pytest.approx(0.0, abs=1e-9)


def whitened(x: np.ndarray) -> np.ndarray:
    """``x`` with sample mean exactly 0 and sample covariance exactly the identity."""
    x = x - x.mean(0)
    return x @ np.linalg.inv(np.linalg.cholesky(np.cov(x, rowvar=False))).T


def test_fpd_recovers_true_distance(rng: np.random.Generator) -> None:
    real = whitened(rng.normal(size=(6000, 3)))
    fake = whitened(rng.normal(size=(6000, 3))) + [0.5, 0.0, 0.0]  # the samples' FD is exactly 0.25
    value, unc = fpd(real, fake, n_min=500, n_max=3000, n_points=6, n_batches=8, seed=1)
    assert value == pytest.approx(0.25, abs=max(3 * unc, 0.01))
    same, same_unc = fpd(real, rng.normal(size=(6000, 3)), n_min=500, n_max=3000, n_points=6, n_batches=8)
    assert abs(same) < max(3 * same_unc, 0.01)


def test_mmd_and_kpd(rng: np.random.Generator) -> None:
    x, y = rng.normal(size=(5, 2)), rng.normal(size=(4, 2))
    k = lambda a, b: (a @ b.T / 2 + 1) ** 3  # noqa: E731
    kxx, kyy = k(x, x), k(y, y)
    want = ((kxx.sum() - np.trace(kxx)) / 20 + (kyy.sum() - np.trace(kyy)) / 12 - 2 * k(x, y).mean())
    assert mmd2_unbiased(x, y) == pytest.approx(want)
    real = rng.normal(size=(3000, 4))
    value, spread = kpd(real, rng.normal(size=(3000, 4)), n_batches=8, batch_size=800)
    assert abs(value) < 3 * spread + 1e-3
    shifted, s_spread = kpd(real, rng.normal(size=(3000, 4)) + 0.5, n_batches=8, batch_size=800)
    assert shifted > 0.05 and shifted > 10 * s_spread


def test_classifier_auc(rng: np.random.Generator) -> None:
    real = rng.normal(size=(2000, 3))
    auc, unc = classifier_auc(real, rng.normal(size=(2000, 3)), n_threads=1)
    assert auc == pytest.approx(0.5, abs=max(3 * unc, 0.05))
    far, _ = classifier_auc(real, rng.normal(size=(2000, 3)) + [1.5, 0.0, 0.0], n_threads=1)
    assert far > 0.7


def test_w1p_excludes_padding() -> None:
    x, mask = particle_jets(300, seed=3)
    junk = x.copy()
    junk[~mask] = 7.0  # padding content must not matter
    clean, dirty = w1p(x, x, mask, mask, n_eval=300, n_batches=2), w1p(x, junk, mask, mask, n_eval=300, n_batches=2)
    assert dirty == clean and set(clean["per_feature"]) == {"eta_rel", "phi_rel", "pt_rel"}


def test_floor_vs_smeared_copy() -> None:
    x, mask = particle_jets(3000, seed=5)
    r = np.random.default_rng(6)
    smeared = x.copy()
    smeared[..., 2] *= np.where(mask, r.lognormal(0.0, 0.3, mask.shape), 1.0)  # pT_rel × lognormal(0, 0.3)
    res = compare_with_floor(x, smeared, mask, mask, SMALL)
    json.dumps(res)  # JSON-serializable
    truth, fake = res["truth"], res["fake"]
    for key in ("fpd", "kpd"):
        assert abs(truth[key]["value"]) < 3 * truth[key]["unc"] + 0.02, key
    assert truth["classifier_auc"]["value"] == pytest.approx(0.5, abs=0.06)
    pt_floor = truth["w1p"]["per_feature"]["pt_rel"]
    pt_fake = fake["w1p"]["per_feature"]["pt_rel"]
    assert pt_fake["value"] > 2 * pt_floor["value"]
    assert pt_fake["value"] - pt_floor["value"] > 3 * (pt_floor["unc"] + pt_fake["unc"])
    assert fake["classifier_auc"]["value"] > truth["classifier_auc"]["value"]
    assert fake["config"]["fpd_max"] == 1500 and fake["n_real"] == fake["n_fake"] == 1500


def test_fpd_kpd_see_wider_jets() -> None:
    x, mask = particle_jets(3000, seed=8)
    wide = x.copy()
    wide[..., :2] *= 1.3  # angular scale 30 % too wide: every EFP grows by 1.3^d
    res = compare_with_floor(x, wide, mask, mask, replace(SMALL, classifier=False))
    truth, fake = res["truth"], res["fake"]
    for key in ("fpd", "kpd"):
        assert fake[key]["value"] > truth[key]["value"] + 3 * (fake[key]["unc"] + truth[key]["unc"]), key


def test_truth_vs_truth_layout() -> None:
    x, mask = particle_jets(400, seed=7)
    cfg = GenMetricsConfig(n_eval=500, n_batches=2, fpd_points=4, fpd_batches=2, kpd_batches=3, classifier=False)
    res = truth_vs_truth(x, mask, cfg)
    assert set(res) == {"n_real", "n_fake", "w1m", "w1p", "w1efp", "fpd", "kpd", "classifier_auc", "config"}
    assert res["n_real"] == res["n_fake"] == 200 and res["config"]["kpd_batch_size"] == 200
    assert len(res["w1efp"]["per_feature"]) == 20 and res["classifier_auc"] is None
    json.dumps(res)
