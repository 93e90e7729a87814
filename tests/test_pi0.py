"""π⁰ → γγ showers: decay kinematics against the analytic separation, energy conservation, impact spread, mixing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jetlab.generate.showers.simulate import particle_spots, pi0_spots, simulate
from jetlab.physics.calorimeter import ShowerUsageError, get_geometry
from jetlab.physics.decays import PI0_MASS_GEV, opening_angle, pi0_photons

D = 1500.0


@pytest.mark.parametrize("energy", [10.0, 50.0, 200.0])
def test_front_face_separation_is_the_minimum_opening_angle_times_distance(energy: float) -> None:
    cos_star = np.random.default_rng(0).uniform(-1, 1, 100_000)
    e1, e2, r1, r2 = pi0_photons(np.full(cos_star.size, energy), cos_star, D)
    d = (r1 + r2)[np.isfinite(r1 + r2)] * energy / (PI0_MASS_GEV * D)  # separation in units of m D / E
    assert np.allclose(e1 + e2, energy)                                 # energy conservation
    assert d.min() == pytest.approx(2.0, rel=2e-3)                      # d_min = 2 m D / p ≈ 2 m D / E
    # x = E1/E uniform: d ≈ 1/√(x(1-x)); its median (x = 1/4) is 1/√(3/16), its mean π
    assert np.median(d) == pytest.approx(1 / math.sqrt(3 / 16), rel=0.01)
    assert np.mean(d[d < 200]) == pytest.approx(math.pi, rel=0.03)


def test_opening_angle_matches_the_invariant_mass() -> None:
    e1, e2, r1, r2 = pi0_photons(np.array([20.0, 20.0]), np.array([0.0, 0.6]), D)
    theta = np.arctan(r1 / D) + np.arctan(r2 / D)
    assert np.allclose(opening_angle(e1, e2), theta, rtol=1e-6)
    assert opening_angle(e1, e2)[0] == pytest.approx(2 * math.asin(PI0_MASS_GEV / 20.0), rel=1e-9)


def test_pi0_spots_carry_the_pi0_energy_and_two_separated_cores() -> None:
    sampling = get_geometry("calogan").sampling
    energies = np.array([10.0, 20.0, 100.0])
    spots = pi0_spots(sampling, energies, np.random.default_rng(1))
    assert np.allclose(np.bincount(spots.shower, weights=spots.energy), energies)
    with pytest.raises(ShowerUsageError, match="unknown shower particle 'kaon'"):
        simulate(get_geometry("calogan"), "kaon", energies, np.random.default_rng(0))


def test_impact_spread_moves_the_shower_centroid_over_the_square() -> None:
    sampling = get_geometry("calogan").sampling
    spots = particle_spots(sampling, "e+", np.full(400, 10.0), np.random.default_rng(2), impact_mm=40.0)
    x = np.bincount(spots.shower, weights=spots.energy * spots.r_mm * np.cos(spots.phi)) / 10.0  # (400,) centroid
    assert -25 < x.min() < -15 and 15 < x.max() < 25 and abs(x.mean()) < 3  # spots' own spread: ±a/2 + a bit


def test_pi0_images_are_wider_than_photon_images_at_low_energy() -> None:
    geometry, energies = get_geometry("calogan"), np.full(300, 10.0)
    widths = {}
    for particle in ("gamma", "pi0"):
        strips = simulate(geometry, particle, energies, np.random.default_rng(3))["layer_0"].sum(1)  # (N, 96)
        strips = strips[strips.sum(1) > 0]  # a photon may convert behind the strips
        pos = np.arange(96)
        mean = (strips * pos).sum(1) / strips.sum(1)
        widths[particle] = np.sqrt((strips * (pos - mean[:, None]) ** 2).sum(1) / strips.sum(1)).mean()
    assert widths["pi0"] > 1.5 * widths["gamma"]
