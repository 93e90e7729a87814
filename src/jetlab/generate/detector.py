"""``--detector simple``: a parametrized detector response applied before clustering.

Not a full simulation (no material, no pile-up, no particle-flow confusion) but the
effects that matter for substructure, each a documented parameter:

- charged particles are tracks: pT smeared with σ(pT)/pT = a ⊕ b·pT (a = 0.5 %,
  b = 1e-4 /GeV, i.e. 10 % at 1 TeV), direction kept, pT < 0.4 GeV lost;
- photons go to an ECAL with σ(E)/E = 3 %/√E ⊕ 0.5 % and cells Δη×Δφ = 0.0174×0.0174;
- neutral hadrons go to an HCAL with σ(E)/E = 100 %/√E ⊕ 5 % and cells 0.087×0.087;
- calorimeter deposits in the same cell of one event merge into one massless object at
  the cell centre (PDG id 22 for ECAL, 130 for HCAL); cells below 0.5 (ECAL) / 1 GeV
  (HCAL) are lost. An HCAL cell is 5 × 5 ECAL cells, so every fifth ECAL cell centre is an HCAL
  centre too: two objects at identical (η, φ) occur, and every feature handles ΔR = 0.

``tests/test_detector.py`` fits these resolutions and cell sizes on many particles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jetlab.generate.events import EventBatch

__all__ = ["SimpleDetector"]


@dataclass(frozen=True)
class Calorimeter:
    stochastic: float
    constant: float
    cell: float
    threshold: float
    pdgid: int


@dataclass(frozen=True)
class SimpleDetector:
    """Track smearing plus two granular, smeared calorimeters (see module docstring)."""

    track_a: float = 0.005
    track_b: float = 1e-4
    track_min_pt: float = 0.4
    ecal: Calorimeter = Calorimeter(0.03, 0.005, 0.0174, 0.5, 22)
    hcal: Calorimeter = Calorimeter(1.00, 0.05, 0.087, 1.0, 130)

    def __call__(self, batch: EventBatch, rng: np.random.Generator) -> EventBatch:
        event = np.repeat(np.arange(batch.n_events), batch.counts)
        charged = batch.charge != 0
        photon = ~charged & (np.abs(batch.pdgid) == 22)
        tracks = self._tracks(batch, charged, rng)
        deposits = [self._calo(batch, event, sel, cal, rng) for sel, cal in ((photon, self.ecal),
                                                                             (~charged & ~photon, self.hcal))]
        parts = [tracks, *deposits]
        ev = np.concatenate([p[0] for p in parts])
        order = np.argsort(ev, kind="stable")
        p4, charge, pdg = (np.concatenate([p[i] for p in parts])[order] for i in (1, 2, 3))
        return EventBatch(batch.n_events, np.bincount(ev, minlength=batch.n_events), p4, charge, pdg, batch.truth)

    def _tracks(self, b: EventBatch, sel: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        p4 = b.p4[sel]
        pt = np.hypot(p4[:, 0], p4[:, 1])
        sigma = np.hypot(self.track_a, self.track_b * pt)
        scale = np.maximum(1.0 + sigma * rng.standard_normal(len(pt)), 0.0)
        p3 = p4[:, :3] * scale[:, None]
        m2 = np.maximum(p4[:, 3] ** 2 - (p4[:, :3] ** 2).sum(1), 0.0)
        out = np.column_stack([p3, np.sqrt((p3**2).sum(1) + m2)])
        keep = pt * scale >= self.track_min_pt
        event = np.repeat(np.arange(b.n_events), b.counts)[sel]
        return event[keep], out[keep], b.charge[sel][keep], b.pdgid[sel][keep]

    def _calo(self, b: EventBatch, event: np.ndarray, sel: np.ndarray, cal: Calorimeter,
              rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        p4, ev = b.p4[sel], event[sel]
        pt = np.hypot(p4[:, 0], p4[:, 1])
        eta = np.arcsinh(p4[:, 2] / np.maximum(pt, 1e-9))
        phi = np.arctan2(p4[:, 1], p4[:, 0])
        ieta = np.floor(eta / cal.cell).astype(np.int64)
        iphi = np.floor((phi + np.pi) / cal.cell).astype(np.int64)
        key = np.stack([ev, ieta, iphi], axis=1)
        cells, inverse = np.unique(key, axis=0, return_inverse=True)
        energy = np.bincount(inverse.ravel(), weights=p4[:, 3], minlength=len(cells))
        sigma = np.hypot(cal.stochastic / np.sqrt(np.maximum(energy, 1e-9)), cal.constant)
        energy = np.maximum(energy * (1.0 + sigma * rng.standard_normal(len(energy))), 0.0)
        keep = energy >= cal.threshold
        cells, energy = cells[keep], energy[keep]
        c_eta, c_phi = (cells[:, 1] + 0.5) * cal.cell, (cells[:, 2] + 0.5) * cal.cell - np.pi
        c_pt = energy / np.cosh(c_eta)
        out = np.column_stack([c_pt * np.cos(c_phi), c_pt * np.sin(c_phi), c_pt * np.sinh(c_eta), energy])
        n = len(energy)
        return cells[:, 0], out, np.zeros(n), np.full(n, float(cal.pdgid))
