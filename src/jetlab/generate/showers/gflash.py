"""The GFlash parametrization of electromagnetic showers in sampling calorimeters.

References:
    G. Grindhammer and S. Peters, "The Parameterized Simulation of Electromagnetic Showers in
    Homogeneous and Sampling Calorimeters", arXiv:hep-ex/0001020. Constants as in Geant4's GFlash
    (``GVFlashHomoShowerTuning.hh``, ``GFlashSamplingShowerTuning.hh``,
    ``GFlashSamplingShowerParameterisation.cc``).

A shower of energy E in a calorimeter of effective critical energy E_c (``y = E / E_c``) deposits

    dE(t, r, φ) = E f(t) dt f(r) dr dφ / 2π

with t the depth from the shower start in effective radiation lengths and r the distance to the
shower axis in effective Molière radii.

Longitudinal, per shower: f(t) = (βt)^(α-1) β exp(-βt) / Γ(α), T = (α-1)/β the depth of the maximum.
ln T and ln α are drawn from a 2-D normal with correlation ρ:

    <ln T_hom> = ln(ln y - 0.812)               σ(ln T) = (-2.5 + 1.25 ln y)^-1
    <ln α_hom> = ln(0.81 + (0.458 + 2.26/Z) ln y) σ(ln α) = (-0.82 + 0.79 ln y)^-1
    <ln T>     = ln(T_hom - 0.55/F_s - 0.69 (1 - ê))       ρ = 0.784 - 0.023 ln y
    <ln α>     = ln(α_hom - 0.476/F_s)

with the sampling frequency F_s = X0_eff / (d_passive + d_active) and ê = e/mip = 1/(1 + 0.007 (Z_p - Z_a)).

Radial, per spot at τ = t/<t>_i · ᾱ/(ᾱ-1) (ᾱ = exp<ln α>; τ ≈ t/T), with E in GeV and Z = Z_eff:

    f(r) = p 2r R_C² / (r² + R_C²)² + (1 - p) 2r R_T² / (r² + R_T²)²
    R_C = 0.0251 + 0.00319 ln E + (0.1162 - 0.000381 Z) τ - 0.0203 (1 - ê) + 0.0397/F_s e^-τ
    R_T = k1 (e^(k3 (τ - k2)) + e^(k4 (τ - k2))) - 0.14 (1 - ê) - 0.495/F_s e^-τ,
          k1 = 0.659 - 0.00309 Z, k2 = 0.645, k3 = -2.59, k4 = 0.3585 + 0.0412 ln E
    p   = p1 exp((p2 - τ)/p3 - exp((p2 - τ)/p3)) + (1 - ê)(0.348 - 0.642/F_s e^-(τ-1)²),
          p1 = 2.632 - 0.00094 Z, p2 = 0.401 + 0.00187 Z, p3 = 1.313 - 0.0686 ln E

Fluctuations: the shower is cut into N_spot = 10.3 / c · E^0.959 equal spots, and the energy deposited
is smeared as a Gamma variate of variance c² E (GFlash's ``ApplySampling``), c the stochastic term.

Units: lengths in mm, energies in GeV (tabulated critical energies in MeV). Materials and the effective
quantities of a sampling structure (X0_eff, R_M,eff, E_c,eff, F_s, ê) are in :mod:`jetlab.physics.calorimeter`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jetlab.physics.calorimeter import Sampling

__all__ = ["Longitudinal", "longitudinal", "min_energy", "sample_profiles", "radial_parameters", "spot_count"]


@dataclass(frozen=True)
class Longitudinal:
    """Means and widths of (ln T, ln α) and their correlation ρ per shower, each of shape (N,); as in GFlash,
    means are at least 0.1 and widths at most 0.5."""

    mean_ln_t: np.ndarray
    sigma_ln_t: np.ndarray
    mean_ln_alpha: np.ndarray
    sigma_ln_alpha: np.ndarray
    rho: np.ndarray


def longitudinal(sampling: Sampling, energy: np.ndarray) -> Longitudinal:
    """The distribution of (ln T, ln α) for showers of ``energy`` (N,) GeV (module docstring).

    Example:
        >>> from jetlab.physics.calorimeter import LEAD, LIQUID_ARGON
        >>> s = Sampling(LEAD, 2.0, LIQUID_ARGON, 4.0)
        >>> p = longitudinal(s, np.array([10.0]))
        >>> round(float(np.exp(p.mean_ln_t[0])), 2), round(float(p.rho[0]), 3)
        (5.74, 0.623)
    """
    ln_y = np.log(np.asarray(energy, dtype=float) / sampling.critical_eff_gev)    # (N,)
    t_hom = ln_y - 0.812
    alpha_hom = 0.81 + (0.458 + 2.26 / sampling.z_eff) * ln_y
    t_sam = t_hom - 0.55 / sampling.sampling_frequency - 0.69 * (1.0 - sampling.ehat)
    alpha_sam = alpha_hom - 0.476 / sampling.sampling_frequency
    return Longitudinal(
        mean_ln_t=np.maximum(0.1, np.log(t_sam)),
        sigma_ln_t=np.minimum(0.5, 1.0 / (-2.5 + 1.25 * ln_y)),
        mean_ln_alpha=np.maximum(0.1, np.log(alpha_sam)),
        sigma_ln_alpha=np.minimum(0.5, 1.0 / (-0.82 + 0.79 * ln_y)),
        rho=0.784 - 0.023 * ln_y,
    )


def min_energy(sampling: Sampling) -> float:
    """Lowest energy (GeV) where the widths are defined (-2.5 + 1.25 ln y > 0), with a factor 2 margin."""
    return 2.0 * sampling.critical_eff_gev * float(np.exp(2.0))


def sample_profiles(p: Longitudinal, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per-shower (T, α), each (N,): ln T = <ln T> + σ_T (c1 z1 + c2 z2), ln α = <ln α> + σ_α (c1 z1 - c2 z2),
    c1,2 = √((1 ± ρ)/2), so that corr(ln T, ln α) = ρ; clamped to T ≥ 1, α ≥ 1.1 as in GFlash."""
    z1, z2 = rng.standard_normal((2, p.rho.size))                 # (2, N)
    c1, c2 = np.sqrt((1 + p.rho) / 2), np.sqrt((1 - p.rho) / 2)
    t_max = np.maximum(1.0, np.exp(p.mean_ln_t + p.sigma_ln_t * (c1 * z1 + c2 * z2)))
    alpha = np.maximum(1.1, np.exp(p.mean_ln_alpha + p.sigma_ln_alpha * (c1 * z1 - c2 * z2)))
    return t_max, alpha


def radial_parameters(sampling: Sampling, energy: np.ndarray, tau: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(R_C, R_T, p) in Molière radii at reduced depth ``tau`` for showers of ``energy`` GeV (broadcast
    together); p clipped to [0, 1] (module docstring)."""
    z, fs, one_minus_e = sampling.z_eff, sampling.sampling_frequency, 1.0 - sampling.ehat
    ln_e = np.log(energy)
    exp_tau = np.exp(-tau)
    r_core = (0.0251 + 0.00319 * ln_e + (0.1162 - 0.000381 * z) * tau
              - 0.0203 * one_minus_e + 0.0397 / fs * exp_tau)
    k4 = 0.3585 + 0.0412 * ln_e
    r_tail = ((0.659 - 0.00309 * z) * (np.exp(-2.59 * (tau - 0.645)) + np.exp(k4 * (tau - 0.645)))
              - 0.14 * one_minus_e - 0.495 / fs * exp_tau)
    x = (0.401 + 0.00187 * z - tau) / (1.313 - 0.0686 * ln_e)
    p = ((2.632 - 0.00094 * z) * np.exp(x - np.exp(x))
         + one_minus_e * (0.348 - 0.642 / fs * np.exp(-((tau - 1.0) ** 2))))
    return r_core, r_tail, np.clip(p, 0.0, 1.0)


def spot_count(sampling: Sampling, energy: np.ndarray) -> np.ndarray:
    """N_spot = 10.3 / c · (E/GeV)^0.959 (hep-ex/0001020, sampling calorimeters), at least 1, as int64 (N,).

    Example:
        >>> from jetlab.physics.calorimeter import LEAD, LIQUID_ARGON
        >>> spot_count(Sampling(LEAD, 2.0, LIQUID_ARGON, 4.0), np.array([1.0, 100.0])).tolist()
        [95, 7872]
    """
    n = 10.3 / sampling.stochastic_term * np.power(energy, 0.959)
    return np.maximum(1, np.rint(n)).astype(np.int64)
