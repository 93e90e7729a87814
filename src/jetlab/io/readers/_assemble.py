"""What every reader shares: particle ordering and padding, the jet four-vector, PDG masses and charges.

Output conventions: particle features ``px, py, pz, E, pt, eta, phi`` (+ ``charge, pdgid`` where the
source has particle ids); a particle is real if E > 0 or pt > 0; real particles first, by pT
descending; padding exactly zero; ``jet`` = source columns where present, else the four-vector sum.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jetlab.classes import LabelScheme
from jetlab.errors import FormatError
from jetlab.io.jets import Jets
from jetlab.physics.kinematics import pt_eta_phi_m
from jetlab.schema import JET_FIELDS, KINEMATIC_FEATURES

__all__ = ["Arrays", "assemble", "pdg_features"]

Arrays = dict[str, np.ndarray]

# |pdgid| -> mass in GeV and charge of the positive id (PDG 2024).
_PDG = {
    11: (0.000511, -1), 13: (0.10566, -1), 22: (0.0, 0), 130: (0.49761, 0), 211: (0.13957, 1),
    310: (0.49761, 0), 321: (0.49368, 1), 2112: (0.93957, 0), 2212: (0.93827, 1), 3112: (1.19745, -1),
    3122: (1.11568, 0), 3222: (1.18937, 1), 3312: (1.32171, -1), 3322: (1.31486, 0), 3334: (1.67245, -1),
}  # fmt: skip
PDG_IDS = np.array(sorted(_PDG))
_PDG_MASS = np.array([_PDG[k][0] for k in PDG_IDS])
_PDG_CHARGE = np.array([_PDG[k][1] for k in PDG_IDS], np.float64)


def assemble(path: Path, fmt: str, p: Arrays, extra: Arrays, labels: np.ndarray, jet: Arrays, scheme: LabelScheme,
             hlf: np.ndarray | None = None, hlf_names: list[str] | None = None, meta: dict[str, str] | None = None,
             ) -> Jets:  # fmt: skip
    """Order particles (real first, pT descending), zero the padding, fill the jet, validate.

    ``p`` maps KINEMATIC_FEATURES to (N, P) arrays, ``extra`` more particle features (charge, pdgid),
    ``jet`` any of pt, eta, phi, mass (N,) taken from the source instead of the four-vector sum.
    """
    cons = np.stack([p[k] for k in KINEMATIC_FEATURES] + list(extra.values()), -1).astype(np.float32)
    n = len(cons)  # cons (N, P, F)
    real = (cons[..., 3] > 0) | (cons[..., 4] > 0)  # (N, P)
    order = np.argsort(np.where(real, -cons[..., 4], np.inf), axis=1, kind="stable")
    cons = np.take_along_axis(cons, order[..., None], axis=1)
    real = np.take_along_axis(real, order, axis=1)
    cons[~real] = 0.0
    summed = np.stack(pt_eta_phi_m(*(cons[..., k].sum(1, dtype=np.float64) for k in range(4))), 1)  # (N, 4)
    for i, name in enumerate(JET_FIELDS):
        if name in jet:
            summed[:, i] = jet[name]
    return Jets(
        constituents=cons,
        n_particles=real.sum(1).astype(np.int32),
        particle_names=list(KINEMATIC_FEATURES) + list(extra),
        jet=summed.astype(np.float32),
        hlf=np.zeros((n, 0), np.float32) if hlf is None else np.ascontiguousarray(hlf, np.float32),
        hlf_names=list(hlf_names or []),
        labels=np.asarray(labels, np.int64),
        meta={"format": fmt, "path": str(path), **(meta or {})},
        scheme=scheme,
    ).validate(str(path))


def pdg_features(pid: np.ndarray, path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """PDG mass and {charge, pdgid} (N, P) of particle ids (0 = padding); FormatError on unknown ids."""
    absid = np.abs(pid)
    idx = np.clip(np.searchsorted(PDG_IDS, absid), 0, len(PDG_IDS) - 1)
    unknown = (absid != 0) & (PDG_IDS[idx] != absid)
    if unknown.any():
        raise FormatError(f"{path}: unknown PDG ids {np.unique(pid[unknown])[:5].tolist()}")
    real = pid != 0
    charge = np.where(real, _PDG_CHARGE[idx] * np.sign(pid), 0.0)
    return np.where(real, _PDG_MASS[idx], 0.0), {"charge": charge, "pdgid": pid}


