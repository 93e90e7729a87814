"""Is a (mutated) input valid? An independent judge of the layouts in jetlab.io's docstrings, for the fuzz tests.

Written from the layouts, with h5py / numpy / zipfile / json only (no jetlab reader), it answers
``None`` for a valid input or a short reason why the input is invalid. The fuzz tests then demand
exit 0 for a valid input and exit 2 for an invalid one: never "either".

What makes an input valid, for every format:

- the file opens and every array jetlab reads is present, numeric (not bool, bytes, complex or
  object), of the stated rank and shape, actually stored (not only declared), with finite values;
- the integer-coded fields hold their codes: labels in ``-1..4``, one-hot label columns, 0/1 flags,
  particle counts in ``1..P``, known PDG ids; every jet has at least one particle;
- names (feature names, column names) are the stated ones;
- the four-momenta jetlab derives (E, pz from pT and rapidity, pT from px and py, ...) fit in float32.

Not judged, by jetlab or here: the *range* of real-valued features. A changed finite number (a bit
flip in an uncompressed float, an extreme value) is a valid file holding another number; no reader
can tell without a checksum, and only a jetlab directory has one (the manifest's SHA-256). Arrays
jetlab never reads (hls4ml ``jetImage``, the pandas row index ``table/axis1``) are not judged either.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
import zlib
from pathlib import Path
from typing import Any

import h5py
import numpy as np

__all__ = ["invalid"]

KINEMATIC = ("px", "py", "pz", "E", "pt", "eta", "phi")
HLS4ML_PARTICLE = ("j1_px", "j1_py", "j1_pz", "j1_e", "j1_pt", "j1_eta", "j1_phi")
PDG = {0, 11, 13, 22, 130, 211, 310, 321, 2112, 2212, 3112, 3122, 3222, 3312, 3322, 3334}
F32 = float(np.finfo(np.float32).max)


class Bad(Exception):
    """The input is invalid; the message says why."""


def invalid(reader: str, path: Path) -> str | None:
    """None if ``path`` is a valid input of ``reader`` (see the module docstring), else the reason."""
    try:
        if reader == "jetlab-dir":
            _directory(path)
        elif reader == "qg":
            _qg(path)
        else:
            with h5py.File(path, "r") as f:
                {"jetlab-shard": _shard, "hls4ml": _hls4ml, "toptag": _toptag, "jetnet": _jetnet}[reader](f, path)
    except Bad as e:
        return str(e)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, NotImplementedError, zipfile.BadZipFile, zlib.error,
            EOFError, RecursionError, MemoryError) as e:
        return f"unreadable: {type(e).__name__}"
    return None


def _need(ok: object, why: str) -> None:
    if not ok:
        raise Bad(why)


def _array(group: Any, key: str, ndim: int, kinds: str = "fiu") -> np.ndarray:
    """The whole dataset ``key``: present, numeric of ``kinds``, rank ``ndim``, stored, finite."""
    ds = group.get(key)
    _need(isinstance(ds, h5py.Dataset), f"{key} missing")
    _need(ds.dtype.kind in kinds and ds.ndim == ndim, f"{key}: {ds.dtype} {ds.shape}")
    _stored(ds)
    a = ds[()]
    _need(np.isfinite(a).all() if a.dtype.kind == "f" else True, f"{key}: NaN or inf")
    return a


def _stored(ds: h5py.Dataset) -> None:
    """Refuse a dataset declaring rows with no storage at all (read, it would be ~10^9 fill values)."""
    _need(ds.size == 0 or ds.id.get_storage_size() > 0, f"{ds.name}: declared, not stored")


def _names(group: Any, key: str) -> list[str]:
    ds = group.get(key)
    _need(isinstance(ds, h5py.Dataset) and ds.ndim == 1 and ds.dtype.kind in "SO", f"{key}: not names")
    _stored(ds)
    return [s.decode() if isinstance(s, bytes) else str(s) for s in ds[()]]


def _json_names(ds: h5py.Dataset) -> list[str]:
    names = json.loads(ds.attrs["names"])
    _need(isinstance(names, list) and all(isinstance(s, str) for s in names), f"{ds.name}: names")
    return names


def _fits(*arrays: np.ndarray) -> None:
    for a in arrays:
        _need(np.all(np.abs(a) <= F32), "derived four-momenta overflow float32")


# ------------------------------------------------------------------------------------------ jetlab
def _shard(f: h5py.File, path: Path) -> None:
    _need(f.attrs.get("format") == "jetlab-shard", "format attribute")
    schema = f.attrs.get("schema")
    _need(isinstance(schema, (int, np.integer)) and not isinstance(schema, (bool, np.bool_)) and schema == 1, "schema")
    _need(isinstance(json.loads(f.attrs["shard"]), dict), "shard attribute is not a JSON object")
    cons, jet, hlf = (_array(f, k, n, "f") for k, n in (("constituents", 3), ("jet", 2), ("hlf", 2)))
    counts, labels = _array(f, "n_particles", 1, "iu"), _array(f, "labels", 1, "iu")
    names, hlf_names = _json_names(f["constituents"]), _json_names(f["hlf"])
    _need(_json_names(f["jet"]) == ["pt", "eta", "phi", "mass"], "jet names")
    n, p = len(labels), cons.shape[1]
    _need(cons.shape == (n, p, len(names)) and set(KINEMATIC) <= set(names), "constituents shape/names")
    _need(jet.shape == (n, 4) and hlf.shape == (n, len(hlf_names)) and counts.shape == (n,), "row counts")
    _need(np.all((counts >= 1) & (counts <= p)) and np.all((labels >= -1) & (labels <= 4)), "counts or labels")


def _directory(d: Path) -> None:
    m = json.loads((d / "manifest.json").read_text())
    _need(isinstance(m, dict) and m.get("format") == "jetlab", "not a manifest")
    _need(type(m.get("schema")) is int and m["schema"] == 1, "schema")
    shards = m.get("shards")
    plain = re.compile(r"[^/\\]+")
    _need(isinstance(shards, list) and shards, "shards")
    for s in shards:
        _need(isinstance(s, dict) and isinstance(s.get("file"), str) and plain.fullmatch(s["file"])
              and s["file"] not in (".", "..") and s["file"].isprintable(), "shard file name")  # fmt: skip
        _need(type(s.get("n_jets")) is int and s["n_jets"] >= 0 and isinstance(s.get("sha256", ""), str), "entry")
    files = [s["file"] for s in shards]
    _need(len(set(files)) == len(files), "a shard twice")
    _need("n_jets" not in m or m["n_jets"] == sum(s["n_jets"] for s in shards), "total n_jets")
    features = set()
    for s in shards:
        path = d / s["file"]
        _need(path.is_file(), f"{s['file']} missing")
        digest = s.get("sha256", "")
        _need(not digest or hashlib.sha256(path.read_bytes()).hexdigest() == digest, "sha256")
        with h5py.File(path, "r") as f:
            _shard(f, path)
            _need(len(f["labels"]) == s["n_jets"], "n_jets of a shard")
            features.add((f["constituents"].attrs["names"], f["hlf"].attrs["names"]))
    _need(len(features) == 1, "shards with other features")


# ------------------------------------------------------------------------------------------ foreign
def _hls4ml(f: h5py.File, path: Path) -> None:
    from jetlab.schema import HLS4ML_JET_FEATURES  # the column names are data, not reader code

    table, cons = _array(f, "jets", 2), _array(f, "jetConstituentList", 3)
    jet_names, part_names = _names(f, "jetFeatureNames"), _names(f, "particleFeatureNames")
    _need(jet_names == list(HLS4ML_JET_FEATURES) and table.shape[1] == len(jet_names), "jet columns")
    _need(len(part_names) >= cons.shape[2] and set(HLS4ML_PARTICLE) <= set(part_names[: cons.shape[2]]),
          "particle columns")  # fmt: skip
    _need(len(table) == len(cons), "row counts")
    onehot = table[:, -6:]
    _need(np.isin(onehot, (0, 1)).all() and np.all(onehot.sum(1) == 1), "labels not one-hot")
    col = {c: k for k, c in enumerate(part_names[: cons.shape[2]])}
    if "j1_pdgid" in col:
        _need(np.isin(np.abs(cons[..., col["j1_pdgid"]]), list(PDG)).all(), "unknown PDG id")
    real = (cons[..., col["j1_e"]] > 0) | (cons[..., col["j1_pt"]] > 0)
    _need(real.any(axis=1).all(), "a jet without particles")


def _toptag(f: h5py.File, path: Path) -> None:
    t = f.get("table")
    _need(isinstance(t, h5py.Group), "no table")
    columns = _names(t, "axis0")
    blocks, items = [], []
    while f"block{len(blocks)}_items" in t:
        b = len(blocks)
        blocks.append(_array(t, f"block{b}_values", 2))
        items.append(_names(t, f"block{b}_items"))
        _need(blocks[-1].shape[1] == len(items[-1]), "block width")
    _need(blocks and len({len(b) for b in blocks}) == 1, "blocks")
    _need(sorted(columns) == sorted(sum(items, [])), "axis0 is not the blocks' columns")
    where = {n: (b, j) for b, names in enumerate(items) for j, n in enumerate(names)}
    m = next(i for i in range(len(where) + 1) if f"E_{i}" not in where)
    need = [f"{c}_{i}" for i in range(m) for c in ("E", "PX", "PY", "PZ")] + ["is_signal_new"]
    _need(m > 0 and all(n in where for n in need), "columns missing")
    col = {n: blocks[where[n][0]][:, where[n][1]].astype(np.float64) for n in need}
    _need(np.isin(col["is_signal_new"], (0, 1)).all(), "is_signal_new")
    e, px, py, pz = (np.stack([col[f"{c}_{i}"] for i in range(m)], 1) for c in ("E", "PX", "PY", "PZ"))
    pt = np.hypot(px, py)
    _fits(pt, np.sqrt(pt**2 + pz**2))
    _need(((e > 0) | (pt > 0)).any(axis=1).all(), "a jet without particles")


def _jetnet(f: h5py.File, path: Path) -> None:
    pf, jf = _array(f, "particle_features", 3), _array(f, "jet_features", 2)
    _need(pf.shape[2] == 4 and jf.shape[1] == 4 and len(pf) == len(jf), "shapes")
    with np.errstate(over="ignore"):
        pt = np.where(pf[..., 3] > 0, pf[..., 2] * jf[:, :1], 0.0)       # (N, P) ptrel * jet pT, float32
        eta = pf[..., 0].astype(np.float64) + jf[:, 1:2]
        _fits(pt, pt * np.cosh(np.where(pt != 0, eta, 0.0)))            # E = |pT| cosh(eta), massless
    _need((pt != 0).any(axis=1).all(), "a jet without particles")        # masked in and E > 0


def _qg(path: Path) -> None:
    with zipfile.ZipFile(path) as z:
        _need({"X.npy", "y.npy"} <= set(z.namelist()), "no X, y")
        for key in ("X.npy", "y.npy"):                                    # declared size must be stored
            with z.open(key) as fh:
                version = np.lib.format.read_magic(fh)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, _, dtype = read(fh)
                _need(dtype.itemsize * np.prod(shape) <= z.getinfo(key).file_size, f"{key}: declared, not stored")
    with np.load(path, allow_pickle=False) as npz:
        x, y = npz["X"], npz["y"]
    _need(x.dtype.kind in "fiu" and y.dtype.kind in "fiu", "not numbers")
    _need(x.ndim == 3 and x.shape[2] == 4 and y.shape == x.shape[:1], "shapes")
    _need(np.isfinite(x).all() and np.isin(y, (0, 1)).all(), "NaN/inf or labels")
    pt, rap, pid = (x[..., k].astype(np.float64) for k in (0, 1, 3))
    _need(np.isin(np.abs(pid), list(PDG)).all(), "unknown PDG id")
    massive = ~np.isin(np.abs(pid), (0, 22))                              # every other known id has a mass
    with np.errstate(over="ignore"):
        _fits(np.sqrt(pt**2 + massive * 1.7**2) * np.cosh(rap))           # E = mT cosh y, m <= 1.7 GeV
    _need(((pt != 0) | massive).any(axis=1).all(), "a jet without particles")
