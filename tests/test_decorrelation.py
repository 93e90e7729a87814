"""DisCo penalty and sculpting measures (jetlab.metrics.decorrelation) against direct computations."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from jetlab.metrics.decorrelation import (
    disco_penalty,
    distance_correlation,
    distance_correlation_np,
    jsd_after_cut,
    jsd_floor_curve,
    jsd_floor_draws,
    sculpting_metrics,
    threshold_at_efficiency,
)

PNG = b"\x89PNG\r\n\x1a\n"


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(a, dtype=torch.float64)


# ------------------------------------------------------------------------------- distance correlation
@pytest.mark.parametrize("n", [2, 3, 17, 256])
@pytest.mark.parametrize("dependent", [False, True])
def test_torch_matches_numpy_reference(n: int, dependent: bool) -> None:
    rng = np.random.default_rng(n)
    x = rng.normal(size=n)
    y = x**2 + 0.3 * rng.normal(size=n) if dependent else rng.exponential(size=n)
    assert distance_correlation(_t(x), _t(y)).item() == pytest.approx(distance_correlation_np(x, y), rel=1e-10)


def test_numpy_reference_by_hand() -> None:
    # two distinct points: A = [[-1, 1], [1, -1]] / 2 and B = 5 A -> dCorr² = 1
    assert distance_correlation_np([0, 1], [0, 5]) == pytest.approx(1.0)
    # x = (0, 1, 2), y = (0, 1, 0): 9 A = [[-10, 2, 8], [2, -4, 2], [8, 2, -10]],
    # 9 B = [[-2, 4, -2], [4, -8, 4], [-2, 4, -2]]; ΣAB = 72/81, ΣA² = 360/81, ΣB² = 144/81
    # -> dCorr² = 72 / sqrt(360 · 144) = 1/sqrt(10)
    assert distance_correlation_np([0, 1, 2], [0, 1, 0]) == pytest.approx(1 / math.sqrt(10))


@pytest.mark.parametrize("a, b", [(3.0, -1.0), (-0.5, 100.0), (1e-3, 0.0)])
def test_linear_relation_gives_one(a: float, b: float) -> None:
    x = np.random.default_rng(0).normal(size=300)
    assert distance_correlation_np(x, a * x + b) == pytest.approx(1.0, abs=1e-12)
    assert distance_correlation(_t(x), _t(a * x + b)).item() == pytest.approx(1.0, abs=1e-12)
    xf = torch.as_tensor(x, dtype=torch.float32)
    assert distance_correlation(xf, a * xf + b).item() == pytest.approx(1.0, abs=1e-4)


def test_independent_large_samples_give_about_zero() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=2000), rng.uniform(size=2000)
    assert distance_correlation(_t(x), _t(y)).item() < 0.005          # V-statistic bias ~ 1/n


def test_constant_variable_gives_zero() -> None:
    x = torch.randn(50, dtype=torch.float64, requires_grad=True)
    d = distance_correlation(x, torch.full((50,), 3.0, dtype=torch.float64))
    assert d.item() == 0.0
    d.backward()
    assert torch.isfinite(x.grad).all()


def test_zero_weights_drop_jets_out() -> None:
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=30), rng.normal(size=30)
    keep = rng.uniform(size=30) < 0.5
    d = distance_correlation(_t(x), _t(y), _t(keep.astype(float)))
    assert d.item() == pytest.approx(distance_correlation_np(x[keep], y[keep]), rel=1e-10)


def test_unit_weights_equal_unweighted_and_weights_act_as_repeats() -> None:
    rng = np.random.default_rng(2)
    x, y = _t(rng.normal(size=40)), _t(rng.normal(size=40))
    y = y + x
    plain = distance_correlation(x, y)
    assert distance_correlation(x, y, torch.ones(40, dtype=torch.float64)).item() == pytest.approx(plain.item())
    assert distance_correlation(x, y, torch.full((40,), 7.5)).item() == pytest.approx(plain.item())
    w = torch.as_tensor(rng.integers(1, 4, 40), dtype=torch.float64)      # integer weight = repeated jet
    rep = w.long()
    expected = distance_correlation_np(np.repeat(x.numpy(), rep), np.repeat(y.numpy(), rep))
    assert distance_correlation(x, y, w).item() == pytest.approx(expected, rel=1e-10)


def test_gradient_exists_and_is_finite() -> None:
    rng = np.random.default_rng(3)
    scores = torch.as_tensor(rng.uniform(size=64), dtype=torch.float32).requires_grad_()
    mass = torch.as_tensor(rng.gamma(3.0, 30.0, 64), dtype=torch.float32)
    d = distance_correlation(scores, mass)
    d.backward()
    assert scores.grad is not None and torch.isfinite(scores.grad).all() and scores.grad.abs().sum() > 0


def test_gradient_matches_finite_differences() -> None:
    x = torch.randn(12, dtype=torch.float64, requires_grad=True)
    y = torch.randn(12, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda v: distance_correlation(v, y), (x,))


def test_bad_shapes_raise() -> None:
    with pytest.raises(ValueError):
        distance_correlation(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError):
        distance_correlation(torch.zeros(3), torch.zeros(3), torch.ones(2))


# ------------------------------------------------------------------------------------- disco_penalty
def test_disco_penalty_uses_background_only() -> None:
    rng = np.random.default_rng(4)
    scores, mass = _t(rng.uniform(size=30)), _t(rng.gamma(3.0, 30.0, 30))
    is_bkg = torch.as_tensor(rng.uniform(size=30) < 0.6)
    expected = 2.5 * distance_correlation_np(scores[is_bkg].numpy(), mass[is_bkg].numpy())
    assert disco_penalty(scores, mass, is_bkg, 2.5).item() == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("n_bkg", [0, 1])
def test_disco_penalty_is_zero_with_fewer_than_two_background_jets(n_bkg: int) -> None:
    scores = torch.rand(8, requires_grad=True)
    is_bkg = torch.arange(8) < n_bkg
    p = disco_penalty(scores, torch.rand(8) * 100, is_bkg, 10.0)
    assert p.item() == 0.0 and p.ndim == 0
    (scores.sum() + p).backward()                                     # adds to a loss without harm
    assert torch.isfinite(scores.grad).all()


def test_disco_penalty_backward_through_a_softmax() -> None:
    logits = torch.randn(32, 2, requires_grad=True)
    mass = torch.rand(32) * 200
    p = disco_penalty(torch.softmax(logits, dim=1)[:, 1], mass, torch.arange(32) % 2 == 0, 1.0)
    p.backward()
    assert torch.isfinite(logits.grad).all()


# ------------------------------------------------------------------------------------ JSD, sculpting
def test_jsd_identical_and_disjoint() -> None:
    m = np.array([10.0, 20, 30, 40, 10, 20, 30, 40])
    half = np.arange(8) < 4
    assert jsd_after_cut(m, half, bins=4) == pytest.approx(0.0, abs=1e-12)
    assert jsd_after_cut(np.r_[m[:4], m[:4] + 100], half, bins=[0, 50, 100, 150]) == pytest.approx(1.0)
    assert math.isnan(jsd_after_cut(m, np.ones(8, bool), bins=4))


def test_jsd_by_hand() -> None:
    # P = (1, 0), Q = (1/2, 1/2), M = (3/4, 1/4): JSD = ½[log2(4/3)] + ½[½ log2(2/3) + ½ log2(2)]
    m, passes = np.array([1.0, 1.0, 1.0, 3.0]), np.array([True, True, False, False])
    expected = 0.5 * math.log2(4 / 3) + 0.5 * (0.5 * math.log2(2 / 3) + 0.5 * math.log2(2))
    assert jsd_after_cut(m, passes, bins=[0, 2, 4]) == pytest.approx(expected)


def test_threshold_at_efficiency() -> None:
    s = np.arange(1.0, 11.0)                                           # 1..10
    assert threshold_at_efficiency(s, 0.5) == 6.0                      # 6..10 pass: 5 of 10
    assert threshold_at_efficiency(s, 1.0) == 1.0
    assert threshold_at_efficiency(s, 0.05) == 10.0                    # at least one jet passes


def _sample(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.r_[np.zeros(n, int), np.ones(n, int), np.full(n // 2, 4)]
    mass = np.r_[rng.gamma(3.0, 20.0, 2 * n), rng.normal(172.0, 15.0, n // 2)]
    return labels, mass


def test_sculpting_mass_correlated_versus_independent_score() -> None:
    labels, mass = _sample(10_000, 5)
    rng = np.random.default_rng(6)
    correlated = sculpting_metrics(mass + rng.normal(0, 5, mass.size), labels, mass, 4, [0, 1])
    assert correlated["eff_s"] == pytest.approx(0.5, abs=1e-3)
    assert correlated["jsd"] > 0.5 and correlated["rejection"] > 10
    independent = rng.normal(size=mass.size) + 1.0 * (labels == 4)       # separates, ignores mass
    flat = sculpting_metrics(independent, labels, mass, 4, [0, 1], bins=30)
    n_pass = flat["n_background_pass"]
    bias = 29 / (8 * math.log(2)) * (1 / n_pass + 1 / (20_000 - n_pass))  # finite-sample JSD of equal shapes
    assert flat["jsd"] < 3 * bias < 0.01 and flat["inv_jsd"] > 100
    assert flat["rejection"] == pytest.approx(1 / flat["eff_b"])
    assert flat["n_background"] == 20_000 and flat["n_background_pass"] == round(flat["eff_b"] * 20_000)


# ------------------------------------------------------------------------------------ the JSD floor
def test_floor_matches_the_large_sample_bias() -> None:
    # all 20 bins well filled: the floor approaches (bins - 1) / (8 ln 2) · (1/n1 + 1/n2)
    m = np.random.default_rng(10).uniform(0.0, 300.0, 40_000)
    floor = jsd_floor_draws(m, 2_000, bins=20, n_draws=300)
    assert floor.shape == (300,) and np.isfinite(floor).all()
    assert floor.mean() == pytest.approx(19 / (8 * math.log(2)) * (1 / 2_000 + 1 / 38_000), rel=0.1)


def test_floor_draws_are_reproducible_and_follow_the_binning() -> None:
    m = np.random.default_rng(11).gamma(3.0, 20.0, 3_000)
    a, b = jsd_floor_draws(m, 100, seed=4), jsd_floor_draws(m, 100, seed=4)
    assert np.array_equal(a, b) and not np.array_equal(a, jsd_floor_draws(m, 100, seed=5))
    assert jsd_floor_draws(m, 100, bins=5).mean() < a.mean() < jsd_floor_draws(m, 100, bins=80).mean()
    assert jsd_floor_draws(m, 100, n_draws=130).shape == (130,)               # more than one chunk of 64


def test_two_samples_of_one_distribution_are_consistent_with_the_floor() -> None:
    """JSDs of two independent samples of one law scatter as the floor does (same sizes, same bins)."""
    rng = np.random.default_rng(12)
    n_pass, n_fail = 150, 2_850
    passes = np.arange(n_pass + n_fail) < n_pass
    measured = np.array([jsd_after_cut(rng.gamma(3.0, 20.0, n_pass + n_fail), passes, bins=20) for _ in range(200)])
    floor = jsd_floor_draws(rng.gamma(3.0, 20.0, n_pass + n_fail), n_pass, bins=20, n_draws=400)
    assert measured.mean() == pytest.approx(floor.mean(), rel=0.15)
    assert measured.std() == pytest.approx(floor.std(), rel=0.3)
    assert np.mean(measured > floor.mean() + 3 * floor.std()) < 0.05      # rarely beyond 3 sigma


def test_a_sculpted_cut_is_far_above_the_floor() -> None:
    rng = np.random.default_rng(13)
    m = rng.gamma(3.0, 20.0, 3_000)
    sculpted = np.abs(m - 80.0) < 15.0                                  # a mass window passes
    jsd = jsd_after_cut(m, sculpted, bins=20)
    floor = jsd_floor_draws(m, int(sculpted.sum()), bins=20)
    assert jsd > floor.mean() + 20 * floor.std() and jsd > 0.5


def test_floor_curve_rises_with_rejection() -> None:
    m = np.random.default_rng(14).gamma(3.0, 20.0, 4_000)
    c = jsd_floor_curve(m, [0.5, 2.0, 10.0, 100.0, 1e6], n_draws=100)
    assert c["rejection"] == pytest.approx([2.0, 10.0, 100.0])          # R < 1 and n_pass = 0 dropped
    assert c["n_pass"] == [2_000, 400, 40]
    assert c["inv_jsd"][0] > c["inv_jsd"][1] > c["inv_jsd"][2]          # fewer passing jets: higher floor
    assert all(lo < mid < hi for lo, mid, hi in zip(c["inv_jsd_lo"], c["inv_jsd"], c["inv_jsd_hi"]))


@pytest.mark.parametrize("n_pass", [0, 50])
def test_floor_refuses_empty_sides(n_pass: int) -> None:
    with pytest.raises(ValueError, match="n_pass"):
        jsd_floor_draws(np.arange(50.0), n_pass)


def test_sculpting_reports_the_floor_and_bootstrap() -> None:
    labels, mass = _sample(3_000, 15)
    rng = np.random.default_rng(16)
    blind = rng.normal(size=mass.size) + 1.5 * (labels == 4)             # separates, ignores mass
    sculpt = mass + rng.normal(0, 5, mass.size)                          # cuts on mass
    b = sculpting_metrics(blind, labels, mass, 4, [0, 1], n_bootstrap=50)
    s = sculpting_metrics(sculpt, labels, mass, 4, [0, 1], n_bootstrap=50)
    assert b["mass_range"] == [pytest.approx(mass[labels < 2].min()), pytest.approx(mass[labels < 2].max())]
    assert b["jsd"] < b["jsd_floor"] + 3 * b["jsd_floor_std"]            # consistent with no sculpting
    assert s["jsd"] > s["jsd_floor"] + 20 * s["jsd_floor_std"]           # far above it
    assert b["inv_jsd_floor"] == pytest.approx(1 / b["jsd_floor"])
    for m in (b, s):
        assert 0 < m["rejection_std"] < m["rejection"] and 0 < m["jsd_std"] < 1 and m["inv_jsd_std"] > 0
    assert "rejection_std" not in sculpting_metrics(blind, labels, mass, 4, [0, 1])


def test_sculpting_with_no_background_passing() -> None:
    labels = np.r_[np.zeros(50, int), np.ones(50, int)]
    m = sculpting_metrics(labels.astype(float), labels, np.linspace(0, 1, 100), signal=1, background=0)
    assert m["rejection"] is None and m["rejection_inf"] and m["jsd"] is None and m["inv_jsd"] is None
    assert m["jsd_floor"] is None and m["jsd_floor_std"] is None and m["inv_jsd_floor"] is None


def test_mass_sculpting_plot_is_png(tmp_path: Path) -> None:
    from jetlab.report.anomaly_plots import plot_mass_sculpting

    rng = np.random.default_rng(7)
    mass = rng.gamma(3.0, 20.0, 3000)
    path = plot_mass_sculpting(mass, mass + rng.normal(0, 10, 3000), tmp_path / "sculpt.png")
    assert path.read_bytes()[:8] == PNG


def test_pareto_front_and_plot(tmp_path: Path) -> None:
    from jetlab.report.decorrelation_plots import pareto_indices, plot_pareto

    assert pareto_indices([1.0, 2.0, 3.0, 2.5, 1.0], [5.0, 4.0, 1.0, 3.0, 4.0]) == [0, 1, 3, 2]
    assert pareto_indices([1.0, 1.0], [2.0, 2.0]) == [0, 1]                 # equal points: neither dominates
    pts = [{"lambda": lam, "rejection": 50 / (1 + lam), "inv_jsd": 2 + 10 * lam, "rejection_std": 3.0,
            "inv_jsd_std": 1.0} for lam in (0.0, 0.1, 1.0)] + [{"lambda": 10.0, "rejection": None, "inv_jsd": None}]
    floor = jsd_floor_curve(np.random.default_rng(17).gamma(3.0, 20.0, 2_000), np.geomspace(1.2, 200, 8), n_draws=50)
    path = plot_pareto({"a": pts, "b": pts[:1]}, tmp_path / "pareto.png", floor=floor)
    assert path.read_bytes()[:8] == PNG
