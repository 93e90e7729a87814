"""Top Tagging landscape (Kasieczka et al., arXiv:1902.09914; train.h5, val.h5, test.h5).

A pandas ``DataFrame.to_hdf(key="table")`` fixed-format store, read with h5py::

    table/axis0, table/axis1                    column names (bytes), row index
    table/block{b}_items, table/block{b}_values  names and (N, k) values of the columns in block b:
        E_0, PX_0, PY_0, PZ_0, ..., PZ_199, truthE, truthPX, truthPY, truthPZ, ttv, is_signal_new

Classes: the ``toptag`` scheme ``qcd, top`` (is_signal_new 0, 1); the QCD background mixes light-quark
and gluon jets.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

import jetlab.io.guarded as guarded
from jetlab.classes import TOPTAG
from jetlab.errors import FormatError, InputError
from jetlab.io.jets import Jets
from jetlab.io.readers import Reader, register_reader
from jetlab.io.readers._assemble import assemble
from jetlab.physics.kinematics import pt_eta_phi_m
from jetlab.schema import KINEMATIC_FEATURES

__all__ = ["read_toptag"]

_Where = dict[str, tuple[int, int]]  # column name -> (block, column) in a pandas frame


def _sniff(path: Path) -> bool:
    if not h5py.is_hdf5(path):
        return False
    with h5py.File(path, "r") as f:
        table = f.get("table")
        if isinstance(table, h5py.Group) and isinstance(table.get("axis0"), h5py.Dataset):
            return "is_signal_new" in guarded.names(table["axis0"], path)
    return False


def _count(path: Path) -> int:
    with guarded.open_h5(path) as f:
        return int(guarded.dataset(f, "table/block0_values", path, 2).shape[0])


def _labels(path: Path, rows_per_read: int = 65536) -> np.ndarray:
    """The is_signal_new column only, read in row blocks (a whole block of 806 columns would cost
    ~3 kB per jet of memory just to find the labels)."""
    with guarded.open_h5(path) as f:
        table = f["table"]
        block, column = _block_columns(table, path)["is_signal_new"]
        values = guarded.dataset(table, f"block{block}_values", path, 2)
        try:
            out = np.concatenate([np.asarray(values[lo:lo + rows_per_read, column], np.float64)
                                  for lo in range(0, values.shape[0], rows_per_read)] or [np.zeros(0)])
        except guarded.ERRORS as e:
            raise InputError(f"{path}: unreadable is_signal_new column ({type(e).__name__})") from None
    if not np.isin(out, (0.0, 1.0)).all():
        raise FormatError(f"{path}: is_signal_new holds values other than 0 and 1")
    return out.astype(np.int64)


@np.errstate(all="ignore")
def read_toptag(path: str | os.PathLike[str], start: int = 0, stop: int | None = None) -> Jets:
    """Top Tagging landscape: E, PX, PY, PZ of up to 200 constituents; is_signal_new 1 -> top, 0 -> qcd."""
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
    labels = signal.astype(np.int64)  # 0 -> qcd, 1 -> top
    e, px, py, pz = (four[..., k] for k in range(4))
    pt, eta, phi, _ = pt_eta_phi_m(px, py, pz, e)
    p = dict(zip(KINEMATIC_FEATURES, (px, py, pz, e, pt, eta, phi), strict=True))
    return assemble(path, "toptag", p, {}, labels, {}, TOPTAG)


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


register_reader(Reader("toptag", "Top Tagging landscape", _sniff, read_toptag, _count, TOPTAG, _labels))
