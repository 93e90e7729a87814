"""Pythia 8 events as flat numpy arrays, and the truth objects jets are matched to.

``Pythia.nextBatch`` (pythia8mc) returns a batch of event records as one awkward array;
everything below works on the flattened record with global indices
(``offset[event] + local index``), so no Python loop touches a particle.
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np

from jetlab._quiet import quiet_stdout
from jetlab.errors import JetlabError
from jetlab.generate.cards import PROCESS_CARDS, TRUTH_PDG, common_settings

__all__ = ["EventBatch", "Truth", "PythiaSource"]

_NEUTRINOS = (12, 14, 16)
_QUARKS = (1, 2, 3, 4, 5)


@dataclass
class EventBatch:
    """Visible final-state particles of a batch of events (flat, event-major)."""

    n_events: int
    counts: np.ndarray  # (E,) visible particles per event
    p4: np.ndarray  # (M, 4) px, py, pz, E
    charge: np.ndarray  # (M,)
    pdgid: np.ndarray  # (M,)
    truth: Truth

    def above_pt(self, min_pt: float) -> EventBatch:
        """The same events without the particles of pT < ``min_pt`` (GeV); see ``MIN_PARTICLE_PT``."""
        keep = np.hypot(self.p4[:, 0], self.p4[:, 1]) >= min_pt
        event = np.repeat(np.arange(self.n_events), self.counts)[keep]
        return EventBatch(self.n_events, np.bincount(event, minlength=self.n_events), self.p4[keep],
                          self.charge[keep], self.pdgid[keep], self.truth)


@dataclass
class Truth:
    """Truth objects (partons, bosons, tops) and their decay quarks."""

    event: np.ndarray  # (K,) event index in the batch
    pdgid: np.ndarray  # (K,)
    pt: np.ndarray  # (K,)
    eta: np.ndarray
    phi: np.ndarray
    quark_eta: np.ndarray  # (K, 3) decay quarks, padded
    quark_phi: np.ndarray
    quark_mask: np.ndarray  # (K, 3) bool


def _first_copy(idx: np.ndarray, ids: np.ndarray, mother: np.ndarray) -> np.ndarray:
    """Walk each index up its chain of same-id recoil copies to the first copy."""
    idx = idx.copy()
    for _ in range(200):
        up = mother[idx]
        same = (up >= 0) & (ids[np.maximum(up, 0)] == ids[idx])
        if not same.any():
            return idx
        idx[same] = up[same]
    return idx


def _eta_phi(px: np.ndarray, py: np.ndarray, pz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pt = np.hypot(px, py)
    return pt, np.arcsinh(pz / np.maximum(pt, 1e-9)), np.arctan2(py, px)


def _truth(cls: str, rec: dict[str, np.ndarray], event: np.ndarray, offset: np.ndarray) -> Truth:
    ids, status = rec["id"], rec["status"]
    mother = np.where(rec["mother1"] > 0, rec["mother1"] + offset[event], -1)
    daughter = np.where(rec["daughter1"] > 0, rec["daughter1"] + offset[event], -1)
    aid = np.abs(ids)
    if cls in ("g", "q"):  # outgoing partons of the hard 2 -> 2 process (record entries 5, 6)
        local = np.arange(len(ids)) - offset[event]
        obj = np.flatnonzero(((local == 5) | (local == 6)) & (np.abs(status) == 23))
        quarks = np.full((len(obj), 3), -1)
    else:
        code = TRUTH_PDG[cls][0]
        last = (aid == code) & ((daughter < 0) | (aid[np.maximum(daughter, 0)] != code))
        obj = np.flatnonzero(last)
        is_q = np.isin(aid, _QUARKS) & (mother >= 0)
        quarks = np.full((len(obj), 3), -1)
        slot = {o: 0 for o in obj.tolist()}
        # direct quark daughters of the object (W/Z -> q q'; t -> b)
        owner = np.full(len(ids), -1)
        owner[obj] = obj
        cand = np.flatnonzero(is_q)
        direct = cand[owner[mother[cand]] >= 0]
        if cls == "t":  # and the quarks of the W from the top decay
            w_last = np.flatnonzero((aid == 24) & ((daughter < 0) | (aid[np.maximum(daughter, 0)] != 24)))
            top_of_w = mother[_first_copy(w_last, ids, mother)]
            w_owner = np.full(len(ids), -1)
            ok = top_of_w >= 0
            w_owner[w_last[ok]] = owner[top_of_w[ok]]
            via_w = cand[w_owner[mother[cand]] >= 0]
            pairs = list(zip(owner[mother[direct]].tolist(), direct.tolist())) + list(
                zip(w_owner[mother[via_w]].tolist(), via_w.tolist())
            )
        else:
            pairs = list(zip(owner[mother[direct]].tolist(), direct.tolist()))
        row = {o: r for r, o in enumerate(obj.tolist())}
        for o, q in pairs:  # at most 3 entries per truth object
            if o in row and slot[o] < 3:
                quarks[row[o], slot[o]] = q
                slot[o] += 1
    px, py, pz = rec["px"], rec["py"], rec["pz"]
    pt, eta, phi = _eta_phi(px[obj], py[obj], pz[obj])
    qmask = quarks >= 0
    _, qeta, qphi = _eta_phi(*(a[np.maximum(quarks, 0)] for a in (px, py, pz)))
    return Truth(event[obj], ids[obj], pt, eta, phi, np.where(qmask, qeta, 0), np.where(qmask, qphi, 0), qmask)


class PythiaSource:
    """A seeded Pythia 8 generator for one jet class, yielding :class:`EventBatch` es."""

    def __init__(self, cls: str, seed: int, sqrt_s: float, pthat: tuple[float, float]) -> None:
        import pythia8mc

        self.cls = cls
        with quiet_stdout():
            self.pythia = pythia8mc.Pythia("", False)
            for line in common_settings(seed, sqrt_s, pthat) + PROCESS_CARDS[cls]:
                if not self.pythia.readString(line):
                    raise JetlabError(f"Pythia rejected setting {line!r}")
            if not self.pythia.init():
                raise JetlabError(f"Pythia failed to initialize for class {cls!r}")
        self._charge: dict[int, float] = {}

    def _charges(self, ids: np.ndarray) -> np.ndarray:
        uniq, inv = np.unique(ids, return_inverse=True)
        pdt = self.pythia.particleData
        for u in uniq.tolist():
            if u not in self._charge:
                self._charge[u] = float(pdt.charge(u))
        return np.array([self._charge[u] for u in uniq.tolist()])[inv]

    def next_batch(self, n_events: int) -> EventBatch:
        prt = self.pythia.nextBatch(n_events).prt
        n_per = ak.to_numpy(ak.num(prt))
        offset = np.concatenate([[0], np.cumsum(n_per)[:-1]])
        flat = ak.flatten(prt)
        rec = {k: ak.to_numpy(flat[k]) for k in ("id", "status", "mother1", "daughter1")}
        rec.update({k: ak.to_numpy(flat.p[f]) for k, f in zip(("px", "py", "pz", "e"), ("px", "py", "pz", "e"))})
        event = np.repeat(np.arange(len(n_per)), n_per)
        visible = (rec["status"] > 0) & ~np.isin(np.abs(rec["id"]), _NEUTRINOS)
        p4 = np.stack([rec["px"], rec["py"], rec["pz"], rec["e"]], axis=1)[visible]
        ids = rec["id"][visible]
        return EventBatch(
            n_events=len(n_per),
            counts=np.bincount(event[visible], minlength=len(n_per)),
            p4=p4,
            charge=self._charges(ids),
            pdgid=ids.astype(np.float64),
            truth=_truth(self.cls, rec, event, offset),
        )

