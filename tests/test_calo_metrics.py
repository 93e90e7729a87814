"""CaloChallenge evaluation (jetlab.metrics.calo_features, jetlab.metrics.calo, jetlab.report.calo_plots).

Hand-computed tiny showers for the features; the separation power at its limits; and the floor on two
independent GFlash samples against deliberately distorted copies of one of them.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from jetlab.errors import FormatError, UsageError
from jetlab.generate.showers import get_geometry, simulate
from jetlab.metrics.calo import (
    CaloMetricsConfig,
    ClassifierConfig,
    binning,
    classifier_auc,
    compare_showers,
    separation_power,
)
from jetlab.metrics.calo_features import (
    CaloLayout,
    ShowerArrays,
    grid_layout,
    layout_for,
    shower_features,
)
from jetlab.report.calo_plots import FILES, plot_showers

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def one_voxel(layout: CaloLayout, index: int, energy: float = 7.0) -> np.ndarray:
    v = np.zeros((1, layout.n_voxels))
    v[0, index] = energy
    return v


# ----------------------------------------------------------------------------------------- features
def test_calogan_single_voxel_sits_at_its_cell_centre() -> None:
    """Layer 1 (12 x 12 cells of 40 mm over ±240 mm), cell ix = 3, iy = 7: centre (-100, +60) mm."""
    layout = layout_for("calogan")
    f = shower_features(one_voxel(layout, 288 + 3 * 12 + 7), np.array([10e3]), layout)
    assert (f.centre_x[0, 1], f.centre_y[0, 1]) == pytest.approx((-100.0, 60.0))
    assert (f.width_x[0, 1], f.width_y[0, 1]) == (0.0, 0.0)
    np.testing.assert_allclose(f.e_layer[0], [0.0, 7.0, 0.0])
    np.testing.assert_allclose(f.sparsity[0], [1.0, 1 - 1 / 144, 1.0])
    cols = f.columns()
    assert cols["etot_einc"][0] == pytest.approx(7e-4) and cols["elayer_einc_1"][0] == pytest.approx(7e-4)
    # empty layers: centre and width 0, as the challenge's 1e-16 guard gives
    assert f.centre_x[0, 0] == f.width_y[0, 2] == 0.0


def test_challenge2_single_voxel_sits_at_r_cos_alpha() -> None:
    """Layer 2, α bin 4, r bin 2: r = 2.5 · 4.65 mm, α = -π + 4.5 · 2π/16 (voxel (2 · 16 + 4) · 9 + 2)."""
    layout = layout_for("challenge2")
    f = shower_features(one_voxel(layout, (2 * 16 + 4) * 9 + 2), np.array([5e4]), layout)
    r, alpha = 2.5 * 4.65, -math.pi + 4.5 * 2 * math.pi / 16
    assert (f.centre_x[0, 2], f.centre_y[0, 2]) == pytest.approx((r * math.cos(alpha), r * math.sin(alpha)))
    assert f.width_x[0, 2] == f.width_y[0, 2] == 0.0
    assert f.sparsity[0, 2] == pytest.approx(1 - 1 / 144) and f.sparsity[0, 3] == 1.0
    assert f.high_level().shape == (1, 1 + 5 * 45)


def test_two_voxels_give_mean_and_width() -> None:
    """Energies 1 and 3 at y = -5 and +5 mm: ⟨y⟩ = 2.5, σ_y = sqrt(⟨y²⟩ - ⟨y⟩²) = sqrt(25 - 6.25)."""
    layout = grid_layout([(1, 2), (2, 2)], [(10.0, 10.0), (1.0, 1.0)])
    f = shower_features(np.array([[1.0, 3.0, 0.0, 0.0, 0.0, 0.0]]), np.array([8.0]), layout)
    assert f.centre_y[0, 0] == pytest.approx(2.5) and f.centre_x[0, 0] == 0.0
    assert f.width_y[0, 0] == pytest.approx(math.sqrt(18.75)) and f.width_x[0, 0] == 0.0
    assert f.columns()["etot_einc"][0] == pytest.approx(0.5)


def test_sparsity_counts_voxels_above_threshold() -> None:
    layout = grid_layout([(2, 2)], [(1.0, 1.0)])
    v = np.array([[0.0, 0.01, 0.5, 2.0]])
    assert shower_features(v, np.array([1.0]), layout).sparsity[0, 0] == pytest.approx(0.25)
    assert shower_features(v, np.array([1.0]), layout, threshold_mev=0.1).sparsity[0, 0] == pytest.approx(0.5)


@pytest.mark.parametrize("name", ["calogan", "challenge2"])
def test_voxel_centres_lie_in_the_geometry_cells(name: str) -> None:
    """Each voxel's centre, put at the middle of its layer's depth, falls in that voxel for the simulator."""
    geometry, layout = get_geometry(name), layout_for(name)
    depths = (np.cumsum([0] + [lay.thickness_mm for lay in geometry.layers]) if name == "calogan"
              else np.arange(geometry.n_layers + 1) * geometry.layer_mm)
    mid = 0.5 * (depths[:-1] + depths[1:])
    depth = np.repeat(mid, np.diff(layout.edges))
    index = geometry.cell_index(depth, np.hypot(layout.x_mm, layout.y_mm), np.arctan2(layout.y_mm, layout.x_mm))
    np.testing.assert_array_equal(index, np.arange(layout.n_voxels))


def test_bad_showers_raise_one_line_format_errors() -> None:
    layout = grid_layout([(1, 2)], [(1.0, 1.0)])
    good = np.ones((2, 2))
    cases = [(np.array([[1.0, np.nan], [1, 1]]), np.ones(2), "negative or NaN"),
             (np.array([[1.0, -1.0], [1, 1]]), np.ones(2), "negative or NaN"),
             (good, np.array([1.0, 0.0]), "incident energies"),
             (good, np.array([1.0, np.nan]), "incident energies"),
             (np.ones((2, 3)), np.ones(2), "do not match")]
    for voxels, incident, message in cases:
        with pytest.raises(FormatError, match=message) as info:
            shower_features(voxels, incident, layout)
        assert "\n" not in str(info.value)


# -------------------------------------------------------------------------------- separation power
def test_separation_power_limits_and_value() -> None:
    h = np.array([3.0, 10.0, 0.0, 5.0])
    assert separation_power(h, 2 * h) == 0.0
    assert separation_power(np.array([4, 1, 0, 0]), np.array([0, 0, 2, 9])) == pytest.approx(1.0)
    # p = (½, ½), q = (1, 0): ½ [(½ - 1)² / (3/2) + (½)² / ½] = 1/3
    assert separation_power(np.array([1, 1]), np.array([1, 0])) == pytest.approx(1 / 3)


def test_binning_keeps_out_of_range_entries_in_edge_bins() -> None:
    b = binning(np.linspace(0.0, 1.0, 1001), n_bins=10)
    counts = b.counts(np.array([-5.0, 0.5, 7.0, np.inf]))
    assert counts.sum() == 4 and counts[0] == 1 and counts[-1] == 2
    log = binning(np.geomspace(1e-3, 1e3, 500), n_bins=12)
    assert log.log and log.n_bins == 12
    lattice = binning(np.arange(0, 101) / 100, n_bins=20, step=0.01)        # 101 values, 6 per bin
    assert np.allclose(np.diff(lattice.edges), 0.06) and lattice.index(np.array([0.0]))[0] == 0


# ----------------------------------------------------------------------------------- classifier
def test_classifier_is_deterministic_and_leaves_torch_rng_alone() -> None:
    r = np.random.default_rng(0)
    a, b = r.normal(size=(300, 4)), r.normal(size=(300, 4)) + [0.8, 0, 0, 0]
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first = classifier_auc(a, b, seed=3)
    assert torch.rand(1) == before
    assert classifier_auc(a, b, seed=3) == first
    assert first["value"] > 0.65 and first["n_test"] == 120


# ----------------------------------------------------------------------- floor vs distorted showers
def _simulate(n: int, seed: int) -> ShowerArrays:
    rng = np.random.default_rng(seed)
    energies = np.exp(rng.uniform(np.log(10.0), np.log(100.0), n))              # GeV, log-uniform
    return layout_for("calogan").arrays(simulate(get_geometry("calogan"), "e+", energies, rng))


def _shift_layer0(s: ShowerArrays) -> ShowerArrays:
    """Layer 0 (3 x 96 strips of 5 mm in y) moved by one strip in +y; the last strip's energy is lost."""
    layout = layout_for("calogan")
    v = s.voxels.copy()
    img = layout.layer(v, 0).copy()                                              # (N, 3, 96)
    img[:, :, 1:], img[:, :, 0] = img[:, :, :-1], 0.0
    v[:, : layout.edges[1]] = img.reshape(len(v), -1)
    return ShowerArrays(v, s.incident)


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    real, other = _simulate(1000, 1), _simulate(500, 2)
    layout = layout_for("calogan")
    fakes = {"independent": other, "scaled": ShowerArrays(other.voxels * 1.2, other.incident),
             "shifted": _shift_layer0(other)}
    return {k: compare_showers(real, f, layout, CaloMetricsConfig()) for k, f in fakes.items()}


def _sigmas(m: dict[str, float]) -> float:
    """(value - floor) in units of their combined uncertainty."""
    return (m["value"] - m["floor"]) / math.hypot(m["unc"], m["floor_unc"])


def test_independent_sample_is_consistent_with_the_floor(results: dict[str, Any]) -> None:
    r = results["independent"]
    assert r["n"] == 500
    for key in ("classifier_low", "classifier_high"):
        for value, unc in ((r[key]["value"], r[key]["unc"]), (r[key]["floor"], r[key]["floor_unc"])):
            assert abs(value - 0.5) < 4 * unc, (key, value, unc)
        assert abs(_sigmas(r[key])) < 4
    for key in ("fpd", "kpd"):
        assert abs(_sigmas(r[key])) < 4, (key, r[key])
    for name, m in r["separation_power"].items():
        assert abs(_sigmas(m)) < 4, (name, m)
        assert m["value"] < 0.12 and m["floor"] < 0.12                          # ≈ K/(2n) = 40/1000
    worst = r["separation_power_max"]["all"]
    assert worst["value"] < 2 * worst["floor"]


def test_scaled_energies_are_clearly_separated(results: dict[str, Any]) -> None:
    """Every voxel × 1.2: E_tot/E_inc and E_l/E_inc move; both classifiers and the histograms see it."""
    r = results["scaled"]
    assert r["classifier_high"]["value"] > 0.85 and _sigmas(r["classifier_high"]) > 5
    assert _sigmas(r["classifier_low"]) > 4
    assert r["separation_power_max"]["etot_einc"]["value"] > 0.9
    assert _sigmas(r["separation_power"]["etot_einc"]) > 20
    assert _sigmas(r["separation_power"]["elayer_einc_1"]) > 5


def test_shifted_layer_is_clearly_separated(results: dict[str, Any]) -> None:
    r = results["shifted"]
    assert r["classifier_high"]["value"] > 0.95 and _sigmas(r["classifier_high"]) > 8
    assert r["classifier_low"]["value"] > 0.7 and _sigmas(r["classifier_low"]) > 4
    assert r["fpd"]["value"] > 10 * r["fpd"]["floor"] and _sigmas(r["fpd"]) > 20
    assert _sigmas(r["kpd"]) > 10
    assert _sigmas(r["separation_power"]["centre_y_0"]) > 20
    assert r["separation_power_max"]["centre"]["feature"] == "centre_y_0"
    # the untouched layers stay at the floor
    assert abs(_sigmas(r["separation_power"]["centre_y_1"])) < 4


def test_compare_showers_needs_enough_showers() -> None:
    layout = grid_layout([(1, 2)], [(1.0, 1.0)])
    with pytest.raises(UsageError, match="at least"):
        compare_showers((np.ones((12, 2)), np.ones(12)), (np.ones((12, 2)), np.ones(12)), layout)


def test_small_classifier_config_and_challenge_sizes() -> None:
    assert ClassifierConfig.challenge().n_hidden == 512 and ClassifierConfig().n_hidden < 512


# ----------------------------------------------------------------------------------------- plots
@pytest.mark.parametrize("name, layers", [("calogan", [0, 2]), ("challenge2", [20])])
def test_plots_are_non_empty_pngs(tmp_path: Path, name: str, layers: list[int]) -> None:
    layout, rng = layout_for(name), np.random.default_rng(0)
    out = layout.arrays(simulate(get_geometry(name), "e+", rng.uniform(10, 50, 120), rng))
    fake = ShowerArrays(out.voxels * rng.lognormal(0, 0.1, out.voxels.shape), out.incident)
    paths = plot_showers(out, fake, layout, tmp_path / "plots", layers=layers, n_bins=20)
    assert [p.name for p in paths] == list(FILES)
    for p in paths:
        assert p.read_bytes()[:8] == PNG_MAGIC and p.stat().st_size > 20_000
    assert not list((tmp_path / "plots").glob(".*.tmp"))
    with pytest.raises(UsageError, match="layers"):
        plot_showers(out, fake, layout, tmp_path / "bad", layers=[layout.n_layers])
