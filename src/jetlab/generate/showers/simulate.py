"""Vectorized GFlash shower simulation: energy spots -> cells of a geometry -> a public dataset layout.

Per shower (all showers of a chunk at once, no loop over showers or spots):

1. (T, α) from the correlated log-normal of :func:`~jetlab.generate.showers.gflash.longitudinal`;
2. the shower starts at depth 0 (e±) or, for a photon, after an exponential depth of mean 9/7 X0_eff
   (GFlash's ``GenerateExponential``);
3. N_spot spots of E / N_spot each: depth t ~ Gamma(α, β = (α-1)/T) behind the start, radius
   r = R_M,eff R sqrt(u/(1-u)) with R = R_C (probability p) or R_T at the spot's τ, azimuth uniform;
4. spots are summed per cell, the deposited energy of each cell is smeared with the sampling
   fluctuation Gamma(E/c², c²) (variance c² E, so σ/E = c/√E for the whole shower: Gamma variates of
   one scale add up, so smearing a cell equals smearing its spots one by one as GFlash does), and
   multiplied by the visible fraction ê · f_mip.

GFlash distributes spots by their own profile (T_spot = T (0.813 + 0.0019 Z), α_spot = α (0.844 + 0.0026 Z))
and weights them by the energy profile; here spots follow the energy profile and carry equal energy, so
the energy of each shower is conserved spot by spot.

A ``pi0`` decays :data:`PI0_DISTANCE_MM` in front of the face (:func:`jetlab.physics.decays.pi0_photons`): its two
photons shower as photons whose axes are displaced to their impact points (parallel to the calorimeter axis:
their angles, ≲ 0.03 rad above 10 GeV, are neglected); a photon below the parametrization's lowest energy
showers as one of that energy with its spots scaled down, and one emitted backwards deposits nothing.
``impact_mm`` > 0 moves every shower's axis (a π⁰'s flight line) by (x, y) uniform in [−a/2, a/2]², a the
value: a beam spread over a cell, so that images are not all centred on a cell corner.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from jetlab.generate.showers.gflash import longitudinal, min_energy, radial_parameters, sample_profiles, spot_count
from jetlab.physics.calorimeter import Geometry, Sampling, ShowerUsageError
from jetlab.physics.decays import pi0_photons

__all__ = ["PARTICLES", "KNOWN", "PI0_DISTANCE_MM", "Spots", "start_depth", "sample_spots", "shift", "pi0_spots",
           "particle_spots", "deposit", "smear", "simulate"]

# mean depth of the first interaction, in X0_eff: e± shower at once, photons convert after 9/7 X0
PARTICLES: dict[str, float] = {"e-": 0.0, "e+": 0.0, "gamma": 9.0 / 7.0}
KNOWN = (*PARTICLES, "pi0")  # and what decays into them before the calorimeter
PI0_DISTANCE_MM = 1500.0  # decay point to front face: ATLAS's barrel ECAL at η = 0 (inner radius ~1.5 m)

_SPOTS_PER_CHUNK = 1 << 20


@dataclass(frozen=True)
class Spots:
    """Energy spots of a batch of showers, each (S,): ``shower`` index in the batch, ``depth_mm`` from the
    front face, ``r_mm`` from the axis, ``phi`` ∈ [-π, π), ``energy`` in GeV."""

    shower: np.ndarray
    depth_mm: np.ndarray
    r_mm: np.ndarray
    phi: np.ndarray
    energy: np.ndarray


def start_depth(sampling: Sampling, particle: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Depth (mm) of the shower start for ``n`` particles: 0 for e±, exponential of mean 9/7 X0_eff for photons."""
    if particle not in PARTICLES:
        raise ShowerUsageError(f"unknown shower particle {particle!r} (known: {','.join(PARTICLES)})")
    return rng.exponential(PARTICLES[particle] * sampling.x0_eff_mm, n) if PARTICLES[particle] else np.zeros(n)


def sample_spots(sampling: Sampling, particle: str, energies: np.ndarray, rng: np.random.Generator) -> Spots:
    """The energy spots of one shower per entry of ``energies`` (N,) GeV (module docstring, steps 1-3)."""
    profile = longitudinal(sampling, energies)
    t_max, alpha = sample_profiles(profile, rng)                       # (N,)
    start = start_depth(sampling, particle, energies.size, rng)        # (N,)
    counts = spot_count(sampling, energies)                            # (N,)
    shower = np.repeat(np.arange(energies.size), counts)               # (S,)
    mean_alpha = np.exp(profile.mean_ln_alpha)
    # τ = t / <t>_i · ᾱ / (ᾱ - 1) with <t>_i = T α / (α - 1), so τ ≈ t / T (GFlash's ComputeTau)
    tau_per_t = (alpha - 1) / (t_max * alpha) * mean_alpha / (mean_alpha - 1)     # (N,)
    # per-spot arithmetic in float32: 2-30x faster Gamma variates and transcendental functions
    alpha_s, scale_s, tau_per_t_s, energy_s = (
        v.astype(np.float32)[shower] for v in (alpha, t_max / (alpha - 1), tau_per_t, energies))   # (S,) each
    t = rng.standard_gamma(alpha_s, dtype=np.float32) * scale_s        # (S,) X0 behind the start
    r_core, r_tail, p = radial_parameters(sampling, energy_s, t * tau_per_t_s)
    u = rng.random((3, shower.size), dtype=np.float32)                 # (3, S)
    radius = np.where(u[0] < p, r_core, r_tail) * np.sqrt(u[1] / (1.0 - u[1]))
    return Spots(shower=shower,
                 depth_mm=start.astype(np.float32)[shower] + t * np.float32(sampling.x0_eff_mm),
                 r_mm=radius * np.float32(sampling.moliere_eff_mm),
                 phi=(2.0 * u[2] - 1.0) * np.float32(np.pi),
                 energy=(energies / counts)[shower])


def shift(spots: Spots, dx: np.ndarray, dy: np.ndarray) -> Spots:
    """The spots with the axis of shower k moved by (``dx[k]``, ``dy[k]``) mm in the front face's plane."""
    x = spots.r_mm * np.cos(spots.phi) + dx.astype(np.float32)[spots.shower]     # (S,)
    y = spots.r_mm * np.sin(spots.phi) + dy.astype(np.float32)[spots.shower]
    return replace(spots, r_mm=np.hypot(x, y), phi=np.arctan2(y, x))


def pi0_spots(sampling: Sampling, energies: np.ndarray, rng: np.random.Generator,
              distance_mm: float = PI0_DISTANCE_MM) -> Spots:
    """The spots of the two photon showers of each π⁰ of ``energies`` (N,) GeV, ``shower`` the π⁰'s index."""
    n = energies.size
    e1, e2, r1, r2 = pi0_photons(energies, rng.uniform(-1.0, 1.0, n), distance_mm)   # (N,) each
    azimuth = rng.uniform(-np.pi, np.pi, n)                                          # of the decay plane
    energy, radius = np.stack([e1, e2], 1).ravel(), np.stack([r1, r2], 1).ravel()     # (2N,) photons 2k, 2k+1
    angle = np.stack([azimuth, azimuth + np.pi], 1).ravel()
    hits = np.isfinite(radius)                                                       # not emitted backwards
    drawn = np.maximum(energy, min_energy(sampling))
    spots = sample_spots(sampling, "gamma", drawn, rng)
    spots = replace(spots, energy=spots.energy * np.where(hits, energy / drawn, 0.0)[spots.shower])
    radius = np.where(hits, radius, 0.0)
    spots = shift(spots, radius * np.cos(angle), radius * np.sin(angle))
    return replace(spots, shower=spots.shower // 2)


def particle_spots(sampling: Sampling, particle: str, energies: np.ndarray, rng: np.random.Generator,
                   impact_mm: float = 0.0) -> Spots:
    """The spots of showers of ``particle`` (any of :data:`KNOWN`), axes spread over ``impact_mm`` (docstring)."""
    if particle == "pi0":
        spots = pi0_spots(sampling, energies, rng)
    else:
        spots = sample_spots(sampling, particle, energies, rng)
    if impact_mm > 0:
        dx, dy = rng.uniform(-0.5 * impact_mm, 0.5 * impact_mm, (2, energies.size))
        spots = shift(spots, dx, dy)
    return spots


def deposit(geometry: Geometry, spots: Spots, n: int) -> np.ndarray:
    """Energy (GeV) that the spots of ``n`` showers deposit in each cell, (n, n_cells); escaping spots dropped."""
    index = geometry.cell_index(spots.depth_mm, spots.r_mm, spots.phi)    # (S,)
    keep = index >= 0
    flat = spots.shower[keep] * geometry.n_cells + index[keep]
    return np.bincount(flat, weights=spots.energy[keep], minlength=n * geometry.n_cells).reshape(n, -1)


def smear(deposited: np.ndarray, stochastic: float, rng: np.random.Generator) -> np.ndarray:
    """Each cell's energy E (GeV) replaced by a Gamma variate of mean E and variance ``stochastic``² E."""
    out = np.zeros_like(deposited)
    hit = deposited > 0
    out[hit] = rng.standard_gamma((deposited[hit] / stochastic**2).astype(np.float32), dtype=np.float32) * stochastic**2
    return out


def _chunks(counts: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive shower ranges holding about ``_SPOTS_PER_CHUNK`` spots each (at least one shower)."""
    chunk = (np.cumsum(counts) - 1) // _SPOTS_PER_CHUNK                 # (N,)
    edges = [0, *(np.flatnonzero(np.diff(chunk)) + 1).tolist(), counts.size]
    return list(zip(edges[:-1], edges[1:]))


def simulate(geometry: Geometry, particle: str, energies: np.ndarray, rng: np.random.Generator,
             *, fluctuate: bool = True, impact_mm: float = 0.0) -> dict[str, np.ndarray]:
    """Showers of ``particle`` ("e+", "e-", "gamma", "pi0") of ``energies`` (N,) GeV in ``geometry``, in the layout
    of its public dataset (float32; see the geometry's docstring for keys and units). The same ``rng`` state
    and energies give the same showers. ``fluctuate=False`` drops the sampling fluctuation; ``impact_mm``
    spreads the impact points (module docstring).

    Example:
        >>> from jetlab.physics.calorimeter import get_geometry
        >>> out = simulate(get_geometry("calogan"), "e+", np.array([10.0, 50.0]), np.random.default_rng(0))
        >>> {k: v.shape for k, v in out.items()}
        {'energy': (2, 1), 'layer_0': (2, 3, 96), 'layer_1': (2, 12, 12), 'layer_2': (2, 12, 6), 'overflow': (2, 3)}
    """
    energies = np.asarray(energies, dtype=float)
    lowest = min_energy(geometry.sampling)
    if particle not in KNOWN:
        raise ShowerUsageError(f"unknown shower particle {particle!r} (known: {','.join(KNOWN)})")
    if not (np.isfinite(impact_mm) and impact_mm >= 0):
        raise ShowerUsageError(f"impact spread must be a finite length ≥ 0 mm, got {impact_mm!r}")
    if energies.ndim != 1 or not np.all(np.isfinite(energies)) or np.any(energies < lowest):
        raise ShowerUsageError(f"shower energies must be a 1-D array of finite values ≥ {lowest:.3g} GeV")
    deposited = np.zeros((energies.size, geometry.n_cells))
    for lo, hi in _chunks(spot_count(geometry.sampling, energies)):
        spots = particle_spots(geometry.sampling, particle, energies[lo:hi], rng, impact_mm)
        deposited[lo:hi] = deposit(geometry, spots, hi - lo)
    if fluctuate:
        deposited = smear(deposited, geometry.sampling.stochastic_term, rng)
    return geometry.layout(deposited * geometry.sampling.electron_fraction, energies)
