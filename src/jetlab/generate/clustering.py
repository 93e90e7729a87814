"""Jet clustering (FastJet anti-kT through its vectorized awkward interface) and truth matching.

A jet is kept when it lies in the pT window and |eta| < eta_max, its axis is within ΔR < R of
a truth object of the requested class and, for W, Z and top, every decay quark is within
ΔR < R of the jet axis too. Unmatched jets are dropped, never mislabelled; a truth object
is matched to at most one jet (the closest).
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import fastjet
import numpy as np

from jetlab._quiet import fastjet_quiet
from jetlab.generate.cards import TRUTH_PDG
from jetlab.generate.events import EventBatch
from jetlab.physics.kinematics import delta_r, pt_eta_phi_m

fastjet_quiet()

__all__ = ["MatchedJets", "cluster_and_match"]


@dataclass
class MatchedJets:
    """Matched jets of a batch, ordered by (event, jet pT)."""

    p4: np.ndarray  # (J, P, 4) constituents px, py, pz, E, pT-ordered, zero-padded
    charge: np.ndarray  # (J, P)
    pdgid: np.ndarray  # (J, P)
    counts: np.ndarray  # (J,) all constituents (P = max count in the batch)
    jet: np.ndarray  # (J, 4) pt, eta, phi, mass
    truth_pt: np.ndarray  # (J,)


def _empty() -> MatchedJets:
    z = np.zeros((0, 1))
    return MatchedJets(np.zeros((0, 1, 4)), z, z, np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0))


def cluster_and_match(
    batch: EventBatch, cls: str, radius: float, pt_range: tuple[float, float], eta_max: float
) -> MatchedJets:
    """Cluster each event, keep the jets that match a truth object of class ``cls``."""
    flat = batch.p4
    arr = ak.unflatten(ak.zip({"px": flat[:, 0], "py": flat[:, 1], "pz": flat[:, 2], "E": flat[:, 3]}), batch.counts)
    cs = fastjet.ClusterSequence(arr, fastjet.JetDefinition(fastjet.antikt_algorithm, radius))
    min_pt = 0.9 * pt_range[0]
    jets = cs.inclusive_jets(min_pt=min_pt)
    n_jets = ak.to_numpy(ak.num(jets))
    if n_jets.sum() == 0:
        return _empty()
    jp4 = np.stack([ak.to_numpy(ak.flatten(jets[k])) for k in ("px", "py", "pz", "E")], axis=1)
    jpt, jeta, jphi, jm = pt_eta_phi_m(*jp4.T)
    jevent = np.repeat(np.arange(len(n_jets)), n_jets)

    # --- truth matching: jets x truth objects of the same event (a handful per event)
    t = batch.truth
    want = np.isin(np.abs(t.pdgid), TRUTH_PDG[cls])
    same = (jevent[:, None] == t.event[None, :]) & want[None, :]  # (J, K)
    dr = delta_r(jeta[:, None], jphi[:, None], t.eta[None, :], t.phi[None, :])  # (J, K)
    dq = delta_r(jeta[:, None, None], jphi[:, None, None], t.quark_eta[None], t.quark_phi[None])  # (J, K, 3)
    quarks_in = np.where(t.quark_mask[None], dq < radius, True).all(axis=2)
    ok = same & (dr < radius) & quarks_in
    dr = np.where(ok, dr, np.inf)
    best = dr.argmin(axis=1)
    has = np.isfinite(dr[np.arange(len(jpt)), best])
    # each truth object at most once: the closest jet wins
    closest_jet = np.where(np.isfinite(dr), dr, np.inf).argmin(axis=0)  # (K,)
    unique = closest_jet[best] == np.arange(len(jpt))
    keep = has & unique & (jpt >= pt_range[0]) & (jpt <= pt_range[1]) & (np.abs(jeta) < eta_max)
    if not keep.any():
        return _empty()

    # --- constituents of kept jets: indices into each event's particle list
    cidx = cs.constituent_index(min_pt=min_pt)
    counts_all = ak.to_numpy(ak.flatten(ak.num(cidx, axis=2)))
    offset = np.concatenate([[0], np.cumsum(batch.counts)[:-1]])
    glob = ak.to_numpy(ak.flatten(cidx, axis=None)) + np.repeat(offset[jevent], counts_all)
    rows = np.flatnonzero(keep)
    counts = counts_all[rows]
    width = int(counts.max())
    starts = np.concatenate([[0], np.cumsum(counts_all)[:-1]])[rows]
    slot = np.arange(width)[None, :]
    valid = slot < counts[:, None]
    gidx = np.where(valid, glob[np.minimum(starts[:, None] + slot, len(glob) - 1)], 0)  # (J, P)
    pt = np.where(valid, np.hypot(flat[gidx, 0], flat[gidx, 1]), -1.0)
    order = np.argsort(-pt, axis=1, kind="stable")
    gidx = np.take_along_axis(gidx, order, axis=1)
    p4 = np.where(valid[..., None], flat[gidx], 0.0)
    return MatchedJets(
        p4=p4,
        charge=np.where(valid, batch.charge[gidx], 0.0),
        pdgid=np.where(valid, batch.pdgid[gidx], 0.0),
        counts=counts.astype(np.int64),
        jet=np.stack([jpt, jeta, jphi, jm], axis=1)[rows],
        truth_pt=t.pt[best[rows]],
    )
