"""GFlash shower simulator (jetlab.generate.showers) against the published parametrization and dataset layouts.

Reference numbers are written here from the sources, not read from the code under test: GFlash constants
from hep-ex/0001020 / Geant4's GFlashSamplingShowerTuning.hh, material data from the PDG tables, layouts
from CaloGAN's SteppingAction.cc / convert.py and CaloChallenge's binning_dataset_2.xml / XMLHandler.py.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from typing import Any

import numpy as np
import pytest

from jetlab.errors import UsageError
from jetlab.generate.showers import simulate
from jetlab.generate.showers.gflash import longitudinal, sample_profiles
from jetlab.generate.showers.simulate import deposit, sample_spots, start_depth
from jetlab.physics.calorimeter import binning_xml, get_geometry

GEOMETRIES = ["calogan", "challenge2"]
# (passive Z, passive mm, ρ, dE/dx_mip; active Z, active mm, ρ, dE/dx_mip), PDG values
STRUCTURE = {"calogan": (82, 2.0, 11.35, 1.122, 18, 4.0, 1.396, 1.508),
             "challenge2": (74, 1.4, 19.30, 1.145, 14, 0.3, 2.329, 1.664)}


def _reference(name: str) -> tuple[float, float, float]:
    """(ê, f_mip, stochastic term 2.7 % √(d_a/f_mip)) of a geometry from the PDG numbers above."""
    zp, dp, rp, sp, za, da, ra, sa = STRUCTURE[name]
    f_mip = da * ra * sa / (da * ra * sa + dp * rp * sp)
    return 1 / (1 + 0.007 * (zp - za)), f_mip, 0.027 * math.sqrt(da / f_mip)


def _visible_total(out: dict[str, np.ndarray]) -> np.ndarray:
    """Sum of all cells (and overflow) per shower, float64."""
    cells = [v.reshape(len(v), -1) for k, v in out.items() if k not in ("energy", "incident_energies")]
    return np.concatenate(cells, axis=1).astype(float).sum(axis=1)


# ------------------------------------------------------------------------------------ longitudinal
@pytest.mark.parametrize("name", GEOMETRIES)
def test_shower_maximum_grows_as_published_ln_y(name: str) -> None:
    sampling = get_geometry(name).sampling
    rng = np.random.default_rng(0)
    energies = np.geomspace(2.0, 500.0, 6)
    ln_t = [np.log(sample_profiles(longitudinal(sampling, np.full(4000, e)), rng)[0]).mean() for e in energies]
    ln_y = np.log(energies / sampling.critical_eff_gev)
    slope, offset = np.polyfit(ln_y, np.exp(ln_t), 1)
    # T_sam = ln y - 0.812 - 0.55 / F_s - 0.69 (1 - ê)
    ehat = _reference(name)[0]
    assert slope == pytest.approx(1.0, abs=0.02)
    assert offset == pytest.approx(-0.812 - 0.55 / sampling.sampling_frequency - 0.69 * (1 - ehat), abs=0.06)


def test_ln_t_ln_alpha_fluctuate_with_the_published_correlation() -> None:
    sampling = get_geometry("calogan").sampling
    for energy in (5.0, 100.0):
        t_max, alpha = sample_profiles(longitudinal(sampling, np.full(20000, energy)), np.random.default_rng(1))
        rho = np.corrcoef(np.log(t_max), np.log(alpha))[0, 1]
        assert rho == pytest.approx(0.784 - 0.023 * math.log(energy / sampling.critical_eff_gev), abs=0.03)
        assert np.log(t_max).std() == pytest.approx(1 / (-2.5 + 1.25 * math.log(energy / sampling.critical_eff_gev)),
                                                    rel=0.1)


def test_photon_converts_after_nine_sevenths_x0() -> None:
    sampling = get_geometry("calogan").sampling
    depth = start_depth(sampling, "gamma", 40000, np.random.default_rng(2)) / sampling.x0_eff_mm
    assert depth.mean() == pytest.approx(9 / 7, abs=3 * (9 / 7) / math.sqrt(depth.size))
    assert not start_depth(sampling, "e+", 10, np.random.default_rng(2)).any()


def test_photon_showers_start_deeper_than_positrons() -> None:
    geometry, rng = get_geometry("calogan"), np.random.default_rng(3)
    first = {}
    for particle in ("e+", "gamma"):
        out = simulate(geometry, particle, np.full(300, 50.0), rng)
        first[particle] = (out["layer_0"].reshape(300, -1).sum(1) / _visible_total(out)).mean()
    assert first["gamma"] < first["e+"] - 0.05


# ------------------------------------------------------------------------------------------ radial
def _published_containment(sampling: Any, energy: float, radius: float) -> float:
    """∫ f(t) [p r²/(r²+R_C²) + (1-p) r²/(r²+R_T²)] dt at the mean profile, constants of hep-ex/0001020."""
    z, fs, ehat = sampling.z_eff, sampling.sampling_frequency, sampling.ehat
    ln_y, ln_e = math.log(energy / sampling.critical_eff_gev), math.log(energy)
    t_max = ln_y - 0.812 - 0.55 / fs - 0.69 * (1 - ehat)
    alpha = 0.81 + (0.458 + 2.26 / z) * ln_y - 0.476 / fs
    t = np.linspace(1e-3, 40, 4000)
    weight = t ** (alpha - 1) * np.exp(-(alpha - 1) / t_max * t)
    tau = t / t_max
    r_c = 0.0251 + 0.00319 * ln_e + (0.1162 - 0.000381 * z) * tau - 0.0203 * (1 - ehat) + 0.0397 / fs * np.exp(-tau)
    r_t = ((0.659 - 0.00309 * z) * (np.exp(-2.59 * (tau - 0.645)) + np.exp((0.3585 + 0.0412 * ln_e) * (tau - 0.645)))
           - 0.14 * (1 - ehat) - 0.495 / fs * np.exp(-tau))
    x = (0.401 + 0.00187 * z - tau) / (1.313 - 0.0686 * ln_e)
    p = np.clip((2.632 - 0.00094 * z) * np.exp(x - np.exp(x))
                + (1 - ehat) * (0.348 - 0.642 / fs * np.exp(-(tau - 1) ** 2)), 0, 1)
    cdf = p * radius**2 / (radius**2 + r_c**2) + (1 - p) * radius**2 / (radius**2 + r_t**2)
    return float((weight * cdf).sum() / weight.sum())


@pytest.mark.parametrize("name", GEOMETRIES)
def test_containment_in_one_and_two_moliere_radii(name: str) -> None:
    sampling = get_geometry(name).sampling
    spots = sample_spots(sampling, "e+", np.full(100, 50.0), np.random.default_rng(4))
    r = spots.r_mm / sampling.moliere_eff_mm
    for radius, published in ((1.0, 0.90), (2.0, 0.95)):
        contained = float(np.average(r < radius, weights=spots.energy))
        assert contained == pytest.approx(_published_containment(sampling, 50.0, radius), abs=0.015)
        assert contained == pytest.approx(published, abs=0.03)       # the Molière radius' definition
    assert spots.phi.min() >= -np.pi and spots.phi.max() < np.pi
    assert abs(np.cos(spots.phi).mean()) < 0.01                        # uniform azimuth


# -------------------------------------------------------------------------- sampling and resolution
@pytest.mark.parametrize("name", GEOMETRIES)
def test_sampling_fraction_is_ehat_times_mip_fraction(name: str) -> None:
    geometry = get_geometry(name)
    ehat, f_mip, _ = _reference(name)
    assert geometry.sampling.ehat == pytest.approx(ehat, rel=1e-6)
    assert geometry.sampling.mip_fraction == pytest.approx(f_mip, rel=1e-3)
    energies = np.full(100, 50.0)
    # simulate draws its spots first, so the same seed gives it these spots
    spots = sample_spots(geometry.sampling, "e+", energies, np.random.default_rng(5))
    contained = deposit(geometry, spots, energies.size).sum(1)          # GeV inside the cells
    visible = _visible_total(simulate(geometry, "e+", energies, np.random.default_rng(5))) / geometry.visible_scale
    assert visible.sum() / contained.sum() == pytest.approx(ehat * f_mip, rel=0.01)


@pytest.mark.parametrize("name", GEOMETRIES)
def test_resolution_stochastic_term(name: str) -> None:
    geometry, rng = get_geometry(name), np.random.default_rng(6)
    energies = np.array([10.0, 20.0, 50.0, 100.0])
    relative = []
    for energy in energies:
        total = _visible_total(simulate(geometry, "e+", np.full(300, energy), rng))
        relative.append(total.std() / total.mean())
    # least squares of σ/E = a / √E
    a = float(np.sum(np.array(relative) / np.sqrt(energies)) / np.sum(1 / energies))
    assert a == pytest.approx(_reference(name)[2], rel=0.12)


# ------------------------------------------------------------------------ conservation, determinism
@pytest.mark.parametrize("name", GEOMETRIES)
def test_cells_hold_the_energy_of_the_spots_inside(name: str) -> None:
    geometry = get_geometry(name)
    energies = np.array([10.0, 40.0, 90.0])
    spots = sample_spots(geometry.sampling, "gamma", energies, np.random.default_rng(7))
    cells = deposit(geometry, spots, energies.size)
    inside = (spots.depth_mm < geometry.depth_mm)
    if name == "challenge2":                                             # no overflow: the radial range cuts
        inside &= spots.r_mm < 41.85
    expected = np.bincount(spots.shower[inside], weights=spots.energy[inside], minlength=energies.size)
    np.testing.assert_allclose(cells.sum(1), expected, rtol=1e-9)
    np.testing.assert_allclose(np.bincount(spots.shower, weights=spots.energy), energies, rtol=1e-9)
    # sampling fluctuations conserve the visible energy on average
    out = simulate(geometry, "e+", np.full(200, 50.0), np.random.default_rng(8))
    plain = simulate(geometry, "e+", np.full(200, 50.0), np.random.default_rng(8), fluctuate=False)
    assert _visible_total(out).mean() == pytest.approx(_visible_total(plain).mean(), rel=5e-3)


@pytest.mark.parametrize("name", GEOMETRIES)
def test_deterministic_per_seed(name: str) -> None:
    geometry, energies = get_geometry(name), np.array([5.0, 20.0, 70.0])
    a, b, c = (simulate(geometry, "e+", energies, np.random.default_rng(s)) for s in (9, 9, 10))
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a[list(a)[-1]], c[list(c)[-1]])


# ------------------------------------------------------------------------------------------ layouts
def test_calogan_layout_and_units() -> None:
    energies = np.linspace(10.0, 60.0, 40)
    out = simulate(get_geometry("calogan"), "e+", energies, np.random.default_rng(11))
    shapes = {"energy": (40, 1), "layer_0": (40, 3, 96), "layer_1": (40, 12, 12), "layer_2": (40, 12, 6),
              "overflow": (40, 3)}
    assert {k: v.shape for k, v in out.items()} == shapes
    assert all(v.dtype == np.float32 for v in out.values())
    np.testing.assert_array_equal(out["energy"][:, 0], energies.astype(np.float32))      # GeV
    # cells in MeV of LAr-visible energy: ê f_mip ≈ 0.17 of the incident energy
    assert (_visible_total(out) / energies).mean() == pytest.approx(1e3 * np.prod(_reference("calogan")[:2]), rel=0.02)
    # the shower axis (x = y = 0): centre column of layer_0, between its y cells 47 and 48
    assert out["layer_0"][:, 1].sum() > 0.9 * out["layer_0"].sum()
    assert out["layer_0"][:, 1, 46:50].sum() > 0.5 * out["layer_0"].sum()


def test_calogan_cell_index() -> None:
    geometry = get_geometry("calogan")
    x = np.array([-239.0, 239.0, 0.1, 0.1, 300.0, 0.1, 0.1])
    y = np.array([-239.0, 0.1, 0.1, 0.1, 0.0, -79.0, 0.1])
    depth = np.array([1.0, 89.0, 91.0, 436.0, 200.0, 479.0, 481.0])
    r, phi = np.hypot(x, y), np.arctan2(y, x)
    # layer_0 (3, 96) x 160 mm, y 5 mm; layer_1 (12, 12) 40 mm from offset 288; layer_2 (12, 6) from 432; overflow 504+
    expected = [0, 2 * 96 + 48, 288 + 6 * 12 + 6, 288 + 6 * 12 + 6, 504 + 1, 432 + 6 * 6 + 2, -1]
    assert geometry.cell_index(depth, r, phi).tolist() == expected


def test_challenge2_layout_order_and_units() -> None:
    geometry = get_geometry("challenge2")
    # voxel = (layer · 16 + alpha) · 9 + r, alpha bins of 2π/16 from -π, r bins of 4.65 mm
    depth = np.array([0.5, 3.5, 152.9, 153.1, 1.0])
    r = np.array([1.0, 5.0, 41.0, 1.0, 42.0])
    phi = np.array([-np.pi + 0.01, 0.01, np.pi - 0.01, 0.0, 0.0])
    assert geometry.cell_index(depth, r, phi).tolist() == [0, (1 * 16 + 8) * 9 + 1, (44 * 16 + 15) * 9 + 8, -1, -1]
    energies = np.array([10.0, 100.0])
    out = simulate(geometry, "e-", energies, np.random.default_rng(12))
    assert {k: v.shape for k, v in out.items()} == {"incident_energies": (2, 1), "showers": (2, 6480)}
    assert all(v.dtype == np.float32 for v in out.values())
    np.testing.assert_allclose(out["incident_energies"][:, 0], 1e3 * energies)       # MeV
    # voxels: MeV in Si divided by 0.033, so E_tot / E_inc ≈ ê f_mip / 0.033
    ratio = _visible_total(out) / out["incident_energies"][:, 0]
    assert ratio == pytest.approx(np.prod(_reference("challenge2")[:2]) / 0.033, rel=0.08)


def test_binning_xml_matches_the_published_file() -> None:
    text = binning_xml(get_geometry("challenge2"))
    root = ET.fromstring(text)
    (particle,) = list(root)
    assert root.tag == "Bins" and particle.attrib == {"pid": "11", "name": "electron"}
    layers = list(particle)
    assert [int(layer.attrib["id"]) for layer in layers] == list(range(45))
    edges = "0,4.65,9.3,13.95,18.6,23.25,27.9,32.55,37.2,41.85"
    assert all(layer.attrib == {"id": str(i), "r_edges": edges, "n_bin_alpha": "16"} for i, layer in enumerate(layers))
    assert text.splitlines()[2] == f'      <Layer id="0" r_edges="{edges}" n_bin_alpha="16" />'
    assert text.endswith("   </Bin>\n</Bins>\n")


# --------------------------------------------------------------------------------------- bad input
def test_bad_names_and_energies() -> None:
    with pytest.raises(ValueError, match="unknown shower geometry"):
        get_geometry("calo")
    with pytest.raises(UsageError, match="unknown shower particle"):
        simulate(get_geometry("calogan"), "pi+", np.array([10.0]), np.random.default_rng(0))
    for energies in (np.array([0.01]), np.array([np.nan]), np.ones((2, 2))):
        with pytest.raises(ValueError, match="shower energies"):
            simulate(get_geometry("calogan"), "e+", energies, np.random.default_rng(0))
