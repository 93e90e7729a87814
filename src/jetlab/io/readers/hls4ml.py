"""hls4ml LHC jets (Duarte et al., arXiv:1804.06913; Zenodo 3602260, ``jetImage_7_100p_0_10000.h5``).

Layout (N jets, P particle slots)::

    jets                 (N, 59) float   columns named by jetFeatureNames (= schema.HLS4ML_JET_FEATURES),
                                         one-hot label j_g, j_q, j_w, j_z, j_t, j_undef in columns -6:
    jetFeatureNames      (59,)   bytes
    jetConstituentList   (N, P, 16) float  columns named by particleFeatureNames
    particleFeatureNames (16,) bytes     (some files list a 17th name, j1_pdgid, with no column)
    jetImage             (N, 100, 100)   (and jetImageECAL/HCAL; never read)

Classes: the ``jetlab`` scheme ``g, q, w, z, t`` (j_undef jets get label -1).
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

import jetlab.io.guarded as guarded
from jetlab.classes import JETLAB
from jetlab.errors import FormatError
from jetlab.io.jets import Jets
from jetlab.io.readers import Reader, register_reader
from jetlab.io.readers._assemble import assemble, pdg_features
from jetlab.schema import HLS4ML_JET_FEATURES, KINEMATIC_FEATURES

__all__ = ["read_hls4ml"]

_HLS4ML_LABELS = HLS4ML_JET_FEATURES[-6:]  # j_g, j_q, j_w, j_z, j_t, j_undef
_HLS4ML_PARTICLE = ("j1_px", "j1_py", "j1_pz", "j1_e", "j1_pt", "j1_eta", "j1_phi")  # = KINEMATIC_FEATURES


def _sniff(path: Path) -> bool:
    if not h5py.is_hdf5(path):
        return False
    with h5py.File(path, "r") as f:
        return {"jets", "jetConstituentList"} <= set(f.keys())


def _count(path: Path) -> int:
    with guarded.open_h5(path) as f:
        return int(guarded.dataset(f, "jets", path, 2).shape[0])


@np.errstate(all="ignore")  # overflow gives inf, which validation reports
def read_hls4ml(path: str | os.PathLike[str], start: int = 0, stop: int | None = None) -> Jets:
    """hls4ml LHC jets: kinematics from j1_*, jet pt/eta/mass from j_*, phi from the constituent sum."""
    path, rows = Path(path), slice(start, stop)
    with guarded.open_h5(path) as f:
        jet_names = guarded.names(guarded.dataset(f, "jetFeatureNames", path, 1), path)
        part_names = guarded.names(guarded.dataset(f, "particleFeatureNames", path, 1), path)
        table_ds = guarded.dataset(f, "jets", path, 2)
        cons_ds = guarded.dataset(f, "jetConstituentList", path, 3)
        guarded.check_columns(path, "jets", table_ds.shape[1], jet_names, HLS4ML_JET_FEATURES, exact=True)
        part_names = part_names[: cons_ds.shape[2]]  # a listed name without a column (j1_pdgid) is ignored
        guarded.check_columns(path, "jetConstituentList", cons_ds.shape[2], part_names, _HLS4ML_PARTICLE)
        guarded.same_rows(path, table_ds, cons_ds)
        table = guarded.read_float32(table_ds, path, rows)  # (N, 59)
        cons = guarded.read_float32(cons_ds, path, rows)  # (N, P, F)
    col = {n: i for i, n in enumerate(part_names)}
    p = {k: cons[..., col[s]] for k, s in zip(KINEMATIC_FEATURES, _HLS4ML_PARTICLE, strict=True)}
    extra = pdg_features(cons[..., col["j1_pdgid"]], path)[1] if "j1_pdgid" in col else {}
    labels = _one_hot_labels(table[:, [jet_names.index(n) for n in _HLS4ML_LABELS]], path)
    keep = [i for i, n in enumerate(jet_names) if n not in _HLS4ML_LABELS]
    jet = {k: table[:, jet_names.index(f"j_{k}")] for k in ("pt", "eta", "mass")}
    return assemble(path, "hls4ml", p, extra, labels, jet, JETLAB, table[:, keep], [jet_names[i] for i in keep])




def _one_hot_labels(onehot: np.ndarray, path: Path) -> np.ndarray:
    """(N, 6) j_g..j_t, j_undef one-hot -> labels 0..4, -1 for j_undef."""
    bad = ~(np.isin(onehot, (0.0, 1.0)).all(1) & (onehot.sum(1) == 1))
    if bad.any():
        raise FormatError(f"{path}: label columns {','.join(_HLS4ML_LABELS)} not one-hot in {bad.sum()} jets")
    label = onehot.argmax(1)
    return np.where(label == 5, -1, label)


register_reader(Reader("hls4ml", "hls4ml LHC jets", _sniff, read_hls4ml, _count, JETLAB))
