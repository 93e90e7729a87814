"""π⁰ → γγ in the lab: photon energies, angles and impact points on a calorimeter's front face (pure numpy).

A π⁰ of energy E (mass m, γ = E/m, β = √(1 − 1/γ²)) flies along the calorimeter axis and decays at a distance
D in front of its face. In the π⁰ rest frame the photons are back to back, each of energy m/2, at an angle θ*
to the flight direction with cos θ* uniform in [−1, 1] (a spin-0 decay is isotropic). Boosted to the lab::

    E_1,2 = E/2 (1 ± β cos θ*)                       (so E_1 + E_2 = E and E_1/E is uniform in [(1−β)/2, (1+β)/2])
    tan θ_1,2 = sin θ* / (γ (β ± cos θ*))            (angle of each photon to the π⁰ direction)
    cos θ_12 = 1 − m² / (2 E_1 E_2)                  (opening angle; smallest, 2 arcsin(m/E), at E_1 = E_2)

The photons leave in one plane, on opposite sides of the flight line, and hit the face at r_i = D tan θ_i,
a separation d = D (tan θ_1 + tan θ_2). Its minimum (E_1 = E_2) is d_min = 2 m D / p with p = βE, ≈ 2 m D / E;
for E ≫ m its mean is π m D / E, since then θ_12 ≈ m / (E √(x (1 − x))) with x = E_1/E uniform and
∫₀¹ dx / √(x (1 − x)) = π. For ATLAS's barrel (D ≈ 1.5 m) d_min ≈ 405 mm / (E/GeV): 40 mm at 10 GeV (one
middle-layer cell), 4 mm at 100 GeV (one strip): the photons merge as the energy grows.

A photon emitted backwards in the lab (cos θ* < −β, θ > π/2, probability (1 − β)/2) carries E(1 − β)/2 at most;
its impact radius is returned as ``inf`` (it misses the face).

Example:
    >>> import numpy as np
    >>> e1, e2, r1, r2 = pi0_photons(np.array([10.0]), np.array([0.0]), 1500.0)   # symmetric decay
    >>> float(e1[0] + e2[0]), round(float(r1[0] + r2[0]), 2), round(2 * PI0_MASS_GEV * 1500.0 / 10.0, 2)
    (10.0, 40.5, 40.49)
"""

from __future__ import annotations

import numpy as np

__all__ = ["PI0_MASS_GEV", "pi0_photons", "opening_angle"]

PI0_MASS_GEV = 0.1349768  # PDG 2024


def pi0_photons(energy: np.ndarray, cos_star: np.ndarray, distance_mm: float, mass: float = PI0_MASS_GEV
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Lab energies (GeV) and front-face impact radii (mm) of the two photons of π⁰s of ``energy`` (N,) GeV that
    decay ``distance_mm`` before the face with rest-frame angles ``cos_star`` (N,): (E_1, E_2, r_1, r_2), each (N,).
    Photon 1 is emitted at θ*, photon 2 at π − θ* on the other side of the flight line (module docstring)."""
    energy, cos_star = np.asarray(energy, np.float64), np.asarray(cos_star, np.float64)
    gamma = np.maximum(energy / mass, 1.0)                          # (N,) an energy below m decays at rest
    beta = np.sqrt(1.0 - 1.0 / gamma**2)
    sin_star = np.sqrt(np.clip(1.0 - cos_star**2, 0.0, 1.0))
    e1, e2 = 0.5 * energy * (1.0 + beta * cos_star), 0.5 * energy * (1.0 - beta * cos_star)
    radii = []
    for along in (beta + cos_star, beta - cos_star):               # γ (β ± cos θ*): longitudinal momentum / (m/2)
        theta = np.arctan2(sin_star, gamma * along)                 # (N,) in [0, π]
        forward = theta < 0.5 * np.pi
        radii.append(np.where(forward, distance_mm * np.tan(np.where(forward, theta, 0.0)), np.inf))
    return e1, e2, radii[0], radii[1]


def opening_angle(e1: np.ndarray, e2: np.ndarray, mass: float = PI0_MASS_GEV) -> np.ndarray:
    """θ_12 (rad) of two massless daughters of energies ``e1``, ``e2`` (GeV) of a parent of ``mass``:
    m² = 2 E_1 E_2 (1 − cos θ_12)."""
    return np.arccos(np.clip(1.0 - mass**2 / (2.0 * np.asarray(e1) * np.asarray(e2)), -1.0, 1.0))
