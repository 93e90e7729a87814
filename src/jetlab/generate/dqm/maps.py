"""Detector maps of one lumisection: the calorimeter from simulated showers, the tracker from simulated events.

**Calorimeter** (CaloGAN layer 1, 12 × 12 cells, :mod:`jetlab.physics.calorimeter`). A library of GFlash
electron showers (energies uniform in 10-100 GeV, :func:`jetlab.generate.showers.simulate`) is simulated once
per dataset seed. An event of a lumisection is a library shower translated to its impact cell (a Gaussian beam
profile of σ = 2.5 cells around the lumisection's beam centre, which moves by σ = 0.5 cells between
lumisections; periodic in both directions). Per cell, the faults' gain multiplies the energy, noise hits add
``thr (1 + Exp(1))`` MeV with the fault's extra-hit probability, and a hit is an energy above ``thr`` = 1 MeV.
Channel 0 is the fraction of events with a hit, channel 1 the mean energy per event (MeV). All events of a
lumisection are one (E, 12, 12) array operation.

**Tracker** (the Generic detector's innermost pixel barrel layer, volume 8 layer 2: 16 modules in φ × 14 in z,
padded to 16 × 16 with inactive channels). Simulating events takes 0.1-0.3 s each, too slow for thousands of
events per map, so the mean hits per event of every module is measured once from a few simulated tt̄ events with
pile-up (:func:`jetlab.generate.tracking.simulate_events`, cached in the dataset as ``tracker_occupancy.npz``),
and a lumisection's hit counts are Poisson around ``E · a · gain · μ + E · extra`` with ``a`` its pile-up scale
(uniform in 0.8-1.2). Channel 0 is hits per event.

The lumisection-to-lumisection changes (beam centre, pile-up) are what good maps differ by besides statistics: a
reference map does not follow them, an autoencoder trained on good maps can.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from jetlab.generate.dqm.faults import Fault, shifted

__all__ = ["calorimeter_map", "tracker_map", "shower_library", "tracker_occupancy", "active_channels",
           "CALO_SHAPE", "TRACKER_SHAPE", "TRACKER_LAYER"]

CALO_SHAPE = (12, 12)
TRACKER_SHAPE = (16, 16)
TRACKER_LAYER = (8, 2)  # volume, layer: the innermost pixel barrel layer, 16 φ × 14 z modules
THRESHOLD_MEV = 1.0
BEAM_SIGMA, BEAM_WANDER = 2.5, 0.5  # cells
PILEUP_SCALE = (0.8, 1.2)


@functools.lru_cache(maxsize=2)
def shower_library(seed: int, n: int = 2000) -> np.ndarray:
    """(n, 12, 12) float32 MeV: CaloGAN layer-1 images of GFlash e+ showers of 10-100 GeV, centred."""
    from jetlab.generate.showers import get_geometry, simulate

    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5A0]))
    out = simulate(get_geometry("calogan"), "e+", rng.uniform(10.0, 100.0, n), rng)
    return out["layer_1"].astype(np.float32)


def calorimeter_map(library: np.ndarray, fault: Fault, n_events: int, rng: np.random.Generator) -> np.ndarray:
    """(2, 12, 12) float32: occupancy and mean energy per event of one lumisection (see the module docstring)."""
    h, w = CALO_SHAPE
    centre = np.array([h / 2, w / 2]) + rng.normal(0.0, BEAM_WANDER, 2)  # this lumisection's beam centre
    impact = np.rint(centre + rng.normal(0.0, BEAM_SIGMA, (n_events, 2))).astype(np.int64) - np.array([h, w]) // 2
    rows = (np.arange(h)[None, :] - impact[:, :1]) % h  # (E, H) source row of each cell
    cols = (np.arange(w)[None, :] - impact[:, 1:]) % w  # (E, W)
    pick = rng.integers(len(library), size=n_events)
    energy = library[pick[:, None, None], rows[:, :, None], cols[:, None, :]] * fault.gain  # (E, H, W) MeV
    noise = rng.random(energy.shape) < np.minimum(fault.extra, 1.0)  # (E, H, W) noise hits
    energy = energy + noise * THRESHOLD_MEV * (1.0 + rng.exponential(1.0, energy.shape))
    hits = energy > THRESHOLD_MEV  # (E, H, W)
    values = np.stack([hits.mean(axis=0), energy.mean(axis=0)])  # (2, H, W)
    return shifted(values, fault).astype(np.float32)


def tracker_occupancy(directory: Path, seed: int, n_events: int = 5, pileup: float = 20.0) -> np.ndarray:
    """(16, 16) mean hits per event of each module of the tracker layer (0: padding), cached in ``directory``."""
    path = Path(directory) / "tracker_occupancy.npz"
    if path.is_file():
        with np.load(path) as z:
            if int(z["seed"]) == seed and int(z["n_events"]) == n_events:
                return np.asarray(z["occupancy"], np.float64)
    from jetlab.generate.tracking import module_table, simulate_events
    from jetlab.io.atomic import atomic_savez

    table = module_table()
    volume, layer = TRACKER_LAYER
    sel = (table["volume_id"] == volume) & (table["layer_id"] == layer)
    phi = np.arctan2(table["cy"][sel], table["cx"][sel])
    iphi = np.unique(np.round(phi, 3), return_inverse=True)[1]  # (M,) φ index
    iz = np.unique(np.round(table["cz"][sel], 0), return_inverse=True)[1]  # (M,) z index
    grid = np.full((table["module_id"].max() + 1, 2), -1, np.int64)
    grid[table["module_id"][sel]] = np.stack([iphi, iz], axis=1)
    counts = np.zeros(TRACKER_SHAPE)
    for event in simulate_events(n_events=n_events, pileup=pileup, hard="ttbar", seed=seed):
        hits = event["hits"]
        on = (hits["volume_id"] == volume) & (hits["layer_id"] == layer)
        where = grid[hits["module_id"][on]]  # (n, 2) φ, z cell of each hit
        np.add.at(counts, (where[:, 0], where[:, 1]), 1.0)
    occupancy = counts / n_events
    atomic_savez(path, occupancy=occupancy, seed=np.array(seed), n_events=np.array(n_events))
    return occupancy


def tracker_map(occupancy: np.ndarray, fault: Fault, n_events: int, rng: np.random.Generator) -> np.ndarray:
    """(1, 16, 16) float32 hits per event of one lumisection: Poisson counts around the mean occupancy."""
    scale = rng.uniform(*PILEUP_SCALE)  # this lumisection's pile-up relative to the reference
    mean = n_events * (scale * fault.gain * occupancy + fault.extra * (occupancy > 0))  # (H, W) expected hits
    values = (rng.poisson(mean) / n_events)[None]  # (1, H, W)
    return shifted(values, fault).astype(np.float32)


def active_channels(reference: np.ndarray) -> np.ndarray:
    """(H, W) bool: channels with a signal in the reference occupancy (the tracker's padding is not)."""
    return reference[0] > 0
