"""Pythia 8 quark/gluon jets (Komiske, Metodiev, Thaler, arXiv:1810.05165; energyflow ``QG_jets.npz``).

Layout::

    X (N, M, 4) float   pt, rapidity y, phi, pdgid; zero padded
    y (N,)              1 = quark, 0 = gluon

Classes: the ``qg`` scheme ``q, g``. Four-vectors get the PDG mass of each particle id.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

import jetlab.io.guarded as guarded
from jetlab.classes import QG
from jetlab.errors import FormatError
from jetlab.io.jets import Jets
from jetlab.io.readers import Reader, register_reader
from jetlab.io.readers._assemble import assemble, pdg_features
from jetlab.physics.kinematics import pt_eta_phi_m
from jetlab.schema import KINEMATIC_FEATURES

__all__ = ["read_qg"]


def _sniff(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return {"X.npy", "y.npy"} <= set(z.namelist())


def _count(path: Path) -> int:
    with zipfile.ZipFile(path) as z, z.open("y.npy") as fh:
        version = np.lib.format.read_magic(fh)  # 2.0 and 3.0 headers have the same layout (3.0: utf-8 names)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape = read_header(fh)[0]  # header only, no data
    return int(shape[0]) if shape else 0


@np.errstate(all="ignore")
def read_qg(path: str | os.PathLike[str], start: int = 0, stop: int | None = None) -> Jets:
    """Pythia quark/gluon jets: (pt, y, phi, pdgid) -> four-vectors with PDG masses; y 1 -> q, 0 -> g."""
    path = Path(path)
    x, y = guarded.npz_arrays(path, ("X", "y"), slice(start, stop))
    if x.ndim != 3 or x.shape[2] != 4 or y.shape != x.shape[:1]:
        raise FormatError(f"{path}: X has shape {x.shape} and y {y.shape}, expected (N, M, 4) and (N,)")
    if not np.isin(y, (0.0, 1.0)).all():
        raise FormatError(f"{path}: y holds values other than 0 (gluon) and 1 (quark)")
    pt, rap, phi, pid = (x[..., k].astype(np.float64) for k in range(4))
    mass, extra = pdg_features(pid, path)
    mt = np.sqrt(pt * pt + mass * mass)  # (N, M) transverse mass
    px, py, pz, e = pt * np.cos(phi), pt * np.sin(phi), mt * np.sinh(rap), mt * np.cosh(rap)
    pt, eta, phi, _ = pt_eta_phi_m(px, py, pz, e)
    p = dict(zip(KINEMATIC_FEATURES, (px, py, pz, e, pt, eta, phi), strict=True))
    labels = np.where(y == 1, QG.index("q"), QG.index("g"))
    return assemble(path, "qg", p, extra, labels, {}, QG)


register_reader(Reader("qg", "quark-gluon npz", _sniff, read_qg, _count, QG))
