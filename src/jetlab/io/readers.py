"""Readers for the public jet datasets; each returns a validated :class:`~jetlab.io.jets.Jets`.

Layouts read (N jets, P particle slots); every reader reads only the datasets and rows it needs,
as float32, and turns h5py/numpy/zip errors into :class:`InputError` / :class:`FormatError`.

``hls4ml`` -- hls4ml LHC jets (Duarte et al., arXiv:1804.06913; Zenodo 3602260,
``jetImage_7_100p_0_10000.h5``)::

    jets                 (N, 59) float   columns named by jetFeatureNames (= schema.HLS4ML_JET_FEATURES),
                                         one-hot label j_g, j_q, j_w, j_z, j_t, j_undef in columns -6:
    jetFeatureNames      (59,)   bytes
    jetConstituentList   (N, P, 16) float  columns named by particleFeatureNames
    particleFeatureNames (16,) bytes     (some files list a 17th name, j1_pdgid, with no column)
    jetImage             (N, 100, 100)   (and jetImageECAL/HCAL; never read)

``toptag`` -- Top Tagging landscape (Kasieczka et al., arXiv:1902.09914; train.h5, val.h5, test.h5),
a pandas ``DataFrame.to_hdf(key="table")`` fixed-format store, read with h5py::

    table/axis0, table/axis1                    column names (bytes), row index
    table/block{b}_items, table/block{b}_values  names and (N, k) values of the columns in block b:
        E_0, PX_0, PY_0, PZ_0, ..., PZ_199, truthE, truthPX, truthPY, truthPZ, ttv, is_signal_new

``qg`` -- Pythia 8 quark/gluon jets (Komiske, Metodiev, Thaler, arXiv:1810.05165; energyflow
``QG_jets.npz``)::

    X (N, M, 4) float   pt, rapidity y, phi, pdgid; zero padded
    y (N,)              1 = quark, 0 = gluon

``jetnet`` -- JetNet (Kansal et al., arXiv:2106.11535; g.hdf5, q.hdf5, t.hdf5, w.hdf5, z.hdf5,
g150.hdf5, ...)::

    particle_features (N, 30|150, 4)  etarel, phirel, ptrel, mask
    jet_features      (N, 4)          pt, eta, mass, num_particles

Output conventions: particle features ``px, py, pz, E, pt, eta, phi`` (+ ``charge, pdgid`` where the
source has particle ids); a particle is real if E > 0 or pt > 0; real particles first, by pT
descending; padding exactly zero; ``jet`` = source columns where present, else the four-vector sum.
"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path
from typing import NoReturn

import h5py
import numpy as np

import jetlab.io.guarded as guarded
from jetlab.classes import CLASSES
from jetlab.errors import FormatError, InputError, JetlabError, UsageError
from jetlab.io.jets import Jets
from jetlab.physics.kinematics import delta_phi, p4_from_pt_eta_phi_m, pt_eta_phi_m
from jetlab.schema import HLS4ML_JET_FEATURES, JET_FIELDS, KINEMATIC_FEATURES

__all__ = ["FORMATS", "sniff", "explain_unknown", "read_foreign", "read_hls4ml", "read_toptag", "read_qg",
           "read_jetnet"]

FORMATS: tuple[str, ...] = ("hls4ml", "toptag", "qg", "jetnet")
PathLike = str | os.PathLike[str]
_Arrays = dict[str, np.ndarray]
_Where = dict[str, tuple[int, int]]  # column name -> (block, column) in a pandas frame

_HLS4ML_LABELS = HLS4ML_JET_FEATURES[-6:]  # j_g, j_q, j_w, j_z, j_t, j_undef
_HLS4ML_PARTICLE = ("j1_px", "j1_py", "j1_pz", "j1_e", "j1_pt", "j1_eta", "j1_phi")  # = KINEMATIC_FEATURES
_TOPTAG_NOTE = "Top Tagging background is mixed light-quark/gluon QCD jets, labelled q"

# |pdgid| -> mass in GeV and charge of the positive id (PDG 2024).
_PDG = {
    11: (0.000511, -1), 13: (0.10566, -1), 22: (0.0, 0), 130: (0.49761, 0), 211: (0.13957, 1),
    310: (0.49761, 0), 321: (0.49368, 1), 2112: (0.93957, 0), 2212: (0.93827, 1), 3112: (1.19745, -1),
    3122: (1.11568, 0), 3222: (1.18937, 1), 3312: (1.32171, -1), 3322: (1.31486, 0), 3334: (1.67245, -1),
}  # fmt: skip
_PDG_IDS = np.array(sorted(_PDG))
_PDG_MASS = np.array([_PDG[k][0] for k in _PDG_IDS])
_PDG_CHARGE = np.array([_PDG[k][1] for k in _PDG_IDS], np.float64)


# ------------------------------------------------------------------------------------------ dispatch
def sniff(path: PathLike) -> str | None:
    """The format of ``path`` judged from its content (HDF5 / npz keys), or None if unknown or unreadable."""
    path = Path(path)
    try:
        if not path.is_file():
            return None
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                return "qg" if {"X.npy", "y.npy"} <= set(z.namelist()) else None
        if not h5py.is_hdf5(path):
            return None
        with h5py.File(path, "r") as f:
            keys = set(f.keys())
            if {"jets", "jetConstituentList"} <= keys:
                return "hls4ml"
            if {"particle_features", "jet_features"} <= keys:
                return "jetnet"
            table = f.get("table")
            if isinstance(table, h5py.Group) and isinstance(table.get("axis0"), h5py.Dataset):
                return "toptag" if "is_signal_new" in guarded.names(table["axis0"], path) else None
    except (*guarded.ERRORS, JetlabError):
        return None
    return None


def read_foreign(path: PathLike, fmt: str | None = None, *, start: int = 0, stop: int | None = None) -> Jets:
    """Read jets ``[start:stop]`` of a public dataset; ``fmt`` one of :data:`FORMATS`, None to sniff."""
    path = Path(path)
    if fmt is not None and fmt not in _READERS:
        raise UsageError(f"unknown foreign format {fmt!r} (known: {', '.join(FORMATS)})")
    guarded.check_file(path)
    fmt = fmt or sniff(path)
    if fmt is None:
        explain_unknown(path)
    return _READERS[fmt](path, start=start, stop=stop)


def explain_unknown(path: Path) -> NoReturn:
    """Raise the most specific error for a file no reader recognises (truncated HDF5 or zip, or unknown)."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head == b"\x89HDF\r\n\x1a\n":
        with guarded.open_h5(path):  # raises InputError if unreadable or truncated
            pass
    elif head.startswith(b"PK"):
        if not zipfile.is_zipfile(path):
            raise InputError(f"{path}: corrupt or truncated zip/npz file")
        raise FormatError(f"{path}: npz file without arrays X and y (not a quark/gluon jet file)")
    raise FormatError(f"{path}: not a format jetlab reads (jetlab, hls4ml, Top Tagging, quark-gluon npz, JetNet)")


# ------------------------------------------------------------------------------------------ readers
@np.errstate(all="ignore")  # overflow gives inf, which validation reports
def read_hls4ml(path: PathLike, start: int = 0, stop: int | None = None) -> Jets:
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
    extra = _pdg_features(cons[..., col["j1_pdgid"]], path)[1] if "j1_pdgid" in col else {}
    labels = _one_hot_labels(table[:, [jet_names.index(n) for n in _HLS4ML_LABELS]], path)
    keep = [i for i, n in enumerate(jet_names) if n not in _HLS4ML_LABELS]
    jet = {k: table[:, jet_names.index(f"j_{k}")] for k in ("pt", "eta", "mass")}
    return _assemble(path, "hls4ml", p, extra, labels, jet, table[:, keep], [jet_names[i] for i in keep])


@np.errstate(all="ignore")
def read_toptag(path: PathLike, start: int = 0, stop: int | None = None) -> Jets:
    """Top Tagging landscape: E, PX, PY, PZ of up to 200 constituents; is_signal_new 1 -> t, 0 -> q."""
    path, rows = Path(path), slice(start, stop)
    with guarded.open_h5(path) as f:
        table = f.get("table")
        if not isinstance(table, h5py.Group):
            raise FormatError(f"{path}: no group 'table' (not a pandas HDFStore of top-tagging jets)")
        where = _block_columns(table, path)
        m = next(i for i in range(len(where) + 1) if f"E_{i}" not in where)
        names = [f"{c}_{i}" for i in range(m) for c in ("E", "PX", "PY", "PZ")] + ["is_signal_new"]
        missing = [n for n in names if n not in where]
        if m == 0 or missing:
            raise FormatError(f"{path}: top-tagging columns missing: {(missing or ['E_0'])[:4]}")
        data = _gather(table, where, names, rows, path)  # (N, 4M + 1)
    four = data[:, :-1].reshape(len(data), m, 4)  # (N, M, [E, PX, PY, PZ])
    signal = data[:, -1]
    if not np.isin(signal, (0.0, 1.0)).all():
        raise FormatError(f"{path}: is_signal_new holds values other than 0 and 1")
    labels = np.where(signal == 1, CLASSES.index("t"), CLASSES.index("q"))
    e, px, py, pz = (four[..., k] for k in range(4))
    pt, eta, phi, _ = pt_eta_phi_m(px, py, pz, e)
    p = dict(zip(KINEMATIC_FEATURES, (px, py, pz, e, pt, eta, phi), strict=True))
    return _assemble(path, "toptag", p, {}, labels, {}, meta={"labels_note": _TOPTAG_NOTE})


@np.errstate(all="ignore")
def read_qg(path: PathLike, start: int = 0, stop: int | None = None) -> Jets:
    """Pythia quark/gluon jets: (pt, y, phi, pdgid) -> four-vectors with PDG masses; y 1 -> q, 0 -> g."""
    path = Path(path)
    x, y = guarded.npz_arrays(path, ("X", "y"), slice(start, stop))
    if x.ndim != 3 or x.shape[2] != 4 or y.shape != x.shape[:1]:
        raise FormatError(f"{path}: X has shape {x.shape} and y {y.shape}, expected (N, M, 4) and (N,)")
    if not np.isin(y, (0.0, 1.0)).all():
        raise FormatError(f"{path}: y holds values other than 0 (gluon) and 1 (quark)")
    pt, rap, phi, pid = (x[..., k].astype(np.float64) for k in range(4))
    mass, extra = _pdg_features(pid, path)
    mt = np.sqrt(pt * pt + mass * mass)  # (N, M) transverse mass
    px, py, pz, e = pt * np.cos(phi), pt * np.sin(phi), mt * np.sinh(rap), mt * np.cosh(rap)
    pt, eta, phi, _ = pt_eta_phi_m(px, py, pz, e)
    p = dict(zip(KINEMATIC_FEATURES, (px, py, pz, e, pt, eta, phi), strict=True))
    labels = np.where(y == 1, CLASSES.index("q"), CLASSES.index("g"))
    return _assemble(path, "qg", p, extra, labels, {})


@np.errstate(all="ignore")
def read_jetnet(path: PathLike, start: int = 0, stop: int | None = None) -> Jets:
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
    eta, phi = np.where(real, pf[..., 0] + jf[:, 1:2], 0.0), np.where(real, delta_phi(pf[..., 1], 0.0), 0.0)
    px, py, pz, e = p4_from_pt_eta_phi_m(pt, eta, phi, np.zeros_like(pt))
    p = dict(zip(KINEMATIC_FEATURES, (px, py, pz, e, pt, eta, phi), strict=True))
    match = re.fullmatch(r"([gqtwz])\d*", path.stem.lower())
    label = CLASSES.index(match.group(1)) if match else -1
    jet = {"pt": jf[:, 0], "eta": jf[:, 1], "phi": np.zeros(len(jf)), "mass": jf[:, 2]}
    meta = {"labels_note": "class from the file name", "jet_phi_note": "jets rotated to phi = 0"}
    names = ["j_pt", "j_eta", "j_mass", "j_multiplicity"]  # JetNet's pt, eta, mass, num_particles
    return _assemble(path, "jetnet", p, {}, np.full(len(jf), label), jet, jf, names, meta)


_READERS = {"hls4ml": read_hls4ml, "toptag": read_toptag, "qg": read_qg, "jetnet": read_jetnet}


# ------------------------------------------------------------------------------------------ assembly
def _assemble(path: Path, fmt: str, p: _Arrays, extra: _Arrays, labels: np.ndarray, jet: _Arrays,
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
    ).validate(str(path))


def _one_hot_labels(onehot: np.ndarray, path: Path) -> np.ndarray:
    """(N, 6) j_g..j_t, j_undef one-hot -> labels 0..4, -1 for j_undef."""
    bad = ~(np.isin(onehot, (0.0, 1.0)).all(1) & (onehot.sum(1) == 1))
    if bad.any():
        raise FormatError(f"{path}: label columns {','.join(_HLS4ML_LABELS)} not one-hot in {bad.sum()} jets")
    label = onehot.argmax(1)
    return np.where(label == 5, -1, label)


def _pdg_features(pid: np.ndarray, path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """PDG mass and {charge, pdgid} (N, P) of particle ids (0 = padding); FormatError on unknown ids."""
    absid = np.abs(pid)
    idx = np.clip(np.searchsorted(_PDG_IDS, absid), 0, len(_PDG_IDS) - 1)
    unknown = (absid != 0) & (_PDG_IDS[idx] != absid)
    if unknown.any():
        raise FormatError(f"{path}: unknown PDG ids {np.unique(pid[unknown])[:5].tolist()}")
    real = pid != 0
    charge = np.where(real, _PDG_CHARGE[idx] * np.sign(pid), 0.0)
    return np.where(real, _PDG_MASS[idx], 0.0), {"charge": charge, "pdgid": pid}


# ------------------------------------------------------------------------------------------ pandas frames
def _block_columns(table: h5py.Group, path: Path) -> _Where:
    """Column name -> (block, column) over a pandas fixed-format frame's block{b}_items/_values."""
    where: _Where = {}
    nblocks = next(b for b in range(len(table) + 1) if f"block{b}_items" not in table)
    blocks = [guarded.dataset(table, f"block{b}_values", path, 2) for b in range(nblocks)]
    for b, values in enumerate(blocks):
        names = guarded.names(guarded.dataset(table, f"block{b}_items", path, 1), path)
        guarded.check_columns(path, values.name, values.shape[1], names, exact=True)
        where.update({n: (b, j) for j, n in enumerate(names)})
    guarded.same_rows(path, *blocks)
    columns = guarded.names(guarded.dataset(table, "axis0", path, 1), path)
    if sorted(columns) != sorted(where) or len(columns) != sum(v.shape[1] for v in blocks):
        raise FormatError(f"{path}: table/axis0 does not name the columns of the blocks (corrupt frame)")
    return where


def _gather(table: h5py.Group, where: _Where, names: list[str], rows: slice, path: Path) -> np.ndarray:
    """(N, len(names)) float32 of the named columns, reading each block once."""
    out: np.ndarray | None = None
    for b in sorted({where[n][0] for n in names}):
        dst = [k for k, n in enumerate(names) if where[n][0] == b]
        block = guarded.read_float32(table[f"block{b}_values"], path, rows)  # (N, k_b)
        out = np.empty((len(block), len(names)), np.float32) if out is None else out
        out[:, dst] = block[:, [where[names[k]][1] for k in dst]]
    assert out is not None
    return out
