"""JetNet (Kansal et al., arXiv:2106.11535; g.hdf5, q.hdf5, t.hdf5, w.hdf5, z.hdf5, g150.hdf5, ...).

Layout::

    particle_features (N, 30|150, 4)  etarel, phirel, ptrel, mask
    jet_features      (N, 4)          pt, eta, mass, num_particles

Classes: the ``jetnet`` scheme ``g, q, t, w, z``; a file holds one class, named by its file name
(``t.hdf5``, ``g150.hdf5``); other names give label -1.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import h5py
import numpy as np

import jetlab.io.guarded as guarded
from jetlab.classes import JETNET
from jetlab.errors import FormatError
from jetlab.io.jets import Jets
from jetlab.io.readers import Reader, register_reader
from jetlab.io.readers._assemble import assemble
from jetlab.physics.kinematics import delta_phi, p4_from_pt_eta_phi_m
from jetlab.schema import KINEMATIC_FEATURES

__all__ = ["read_jetnet"]


def _sniff(path: Path) -> bool:
    if not h5py.is_hdf5(path):
        return False
    with h5py.File(path, "r") as f:
        return {"particle_features", "jet_features"} <= set(f.keys())


def _count(path: Path) -> int:
    with guarded.open_h5(path) as f:
        return int(guarded.dataset(f, "jet_features", path, 2).shape[0])


@np.errstate(all="ignore")
def read_jetnet(path: str | os.PathLike[str], start: int = 0, stop: int | None = None) -> Jets:
    """JetNet: massless particles at pt = ptrel * jet_pt, eta = etarel + jet_eta, phi = phirel (jet phi 0)."""
    path, rows = Path(path), slice(start, stop)
    with guarded.open_h5(path) as f:
        pf_ds = guarded.dataset(f, "particle_features", path, 3)
        jf_ds = guarded.dataset(f, "jet_features", path, 2)
        if pf_ds.shape[2] != 4 or jf_ds.shape[1] != 4:
            raise FormatError(
                f"{path}: particle_features {pf_ds.shape} / jet_features {jf_ds.shape}, expected (N, P, 4) / (N, 4)"
            )
        guarded.same_rows(path, pf_ds, jf_ds)
        pf = guarded.read_float32(pf_ds, path, rows)  # (N, P, 4)
        jf = guarded.read_float32(jf_ds, path, rows)  # (N, 4)
    real = pf[..., 3] > 0
    pt = np.where(real, pf[..., 2] * jf[:, :1], 0.0)  # (N, P)
    eta, phi = np.where(real, pf[..., 0] + jf[:, 1:2], 0.0), np.where(real, delta_phi(pf[..., 1], np.zeros(())), 0.0)
    px, py, pz, e = p4_from_pt_eta_phi_m(pt, eta, phi, np.zeros_like(pt))
    p = dict(zip(KINEMATIC_FEATURES, (px, py, pz, e, pt, eta, phi), strict=True))
    match = re.fullmatch(r"([gqtwz])\d*", path.stem.lower())
    label = JETNET.index(match.group(1)) if match else -1
    jet = {"pt": jf[:, 0], "eta": jf[:, 1], "phi": np.zeros(len(jf)), "mass": jf[:, 2]}
    meta = {"labels_note": "class from the file name", "jet_phi_note": "jets rotated to phi = 0"}
    names = ["j_pt", "j_eta", "j_mass", "j_multiplicity"]  # JetNet's pt, eta, mass, num_particles
    return assemble(path, "jetnet", p, {}, np.full(len(jf), label), jet, JETNET, jf, names, meta)


register_reader(Reader("jetnet", "JetNet", _sniff, read_jetnet, _count, JETNET))
