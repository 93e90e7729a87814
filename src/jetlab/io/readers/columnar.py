"""Columnar ROOT or Parquet ntuples described by a short YAML mapping (the reference: docs/columnar.md).

The dataset's path is the YAML file. It names the files (globs relative to the YAML), the ROOT tree and
the branch (ROOT) or column (Parquet) that holds each jetlab quantity::

    format: columnar
    files: [ntuple_*.root]
    tree: Events
    particles: {pt: PF_pt, eta: PF_eta, phi: PF_phi, mass: PF_mass, charge: PF_charge}
    jet: {pt: Jet_pt, eta: Jet_eta, phi: Jet_phi, mass: Jet_mass}
    hlf: {j_mass_mmdt: Jet_msoftdrop}
    labels: {classes: [light, bottom], branch: Jet_flavour}
    name: myexperiment

Particles come as ``pt, eta, phi[, mass]`` or ``px, py, pz, E`` (jagged: one entry per particle); every
other particle key is an extra feature of that name. Rows are numbered across the files in order;
``read(path, start, stop)`` opens only the files those rows lie in and reads only those rows (ROOT entry
ranges, Parquet row groups); counting reads ROOT ``num_entries`` and Parquet footers, no arrays.

The machinery (:class:`Columns`, :func:`read_table`) also reads JetClass (:mod:`.jetclass`), whose
branches are a built-in :class:`Columns`.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import uproot
import yaml

import jetlab.io.guarded as guarded
from jetlab.classes import LabelScheme
from jetlab.errors import FormatError, InputError, JetlabError, brief
from jetlab.io.columnar_mapping import _CARTESIAN, _KINEMATIC, MAX_PARTICLES, Columns, Mapping, load_mapping
from jetlab.io.jets import Jets
from jetlab.io.readers import Reader, register_reader
from jetlab.io.readers._assemble import assemble
from jetlab.physics.kinematics import p4_from_pt_eta_phi_m, pt_eta_phi_m
from jetlab.schema import KINEMATIC_FEATURES

__all__ = ["Columns", "Mapping", "MAX_PARTICLES", "load_mapping", "read_table", "read_table_labels", "table_rows",
           "branch_names", "read_columnar"]

_YAML_MAX = 1 << 20  # a mapping is a few lines; larger files are not sniffed as one


# ------------------------------------------------------------------------------------------ tables
@dataclass(frozen=True)
class _Column:
    values: np.ndarray  # (N,) one per row, or (T,) every particle of the rows read
    counts: np.ndarray | None  # (N,) particles per row of a jagged column


class _RootTable:
    def __init__(self, tree: Any) -> None:
        self.tree, self.names, self.rows = tree, set(tree.keys()), int(tree.num_entries)

    def read(self, names: list[str], lo: int, hi: int, where: str) -> dict[str, _Column]:
        return {n: _ak_column(self.tree[n].array(entry_start=lo, entry_stop=hi, library="ak"), n, where)
                for n in names}  # fmt: skip


class _ParquetTable:
    def __init__(self, pf: pq.ParquetFile) -> None:
        self.pf, self.names, self.rows = pf, set(pf.schema_arrow.names), int(pf.metadata.num_rows)

    def read(self, names: list[str], lo: int, hi: int, where: str) -> dict[str, _Column]:
        """Only the row groups that hold rows [lo, hi)."""
        md = self.pf.metadata
        starts = np.concatenate([[0], np.cumsum([md.row_group(i).num_rows for i in range(md.num_row_groups)])])
        groups = [i for i in range(md.num_row_groups) if starts[i] < hi and starts[i + 1] > lo]
        if groups:
            table = self.pf.read_row_groups(groups, columns=names).slice(lo - int(starts[groups[0]]), hi - lo)
        else:
            table = self.pf.schema_arrow.empty_table().select(names)
        return {n: _arrow_column(table.column(n).combine_chunks(), n, where) for n in names}


@contextmanager
def _table(path: Path, tree: str | None, prefix: str = "") -> Iterator[_RootTable | _ParquetTable]:
    """The ROOT tree ``tree`` or the Parquet table of ``path``; any library error becomes one InputError line."""
    guarded.check_file(path)
    with path.open("rb") as fh:
        head = fh.read(4)
    kind = {b"root": "ROOT", b"PAR1": "Parquet"}.get(head)
    if kind is None:
        raise FormatError(f"{prefix}{path}: neither a ROOT nor a Parquet file")
    if kind == "ROOT" and not tree:
        raise FormatError(f"{prefix}tree: missing, needed to read the ROOT file {path}")
    try:
        if kind == "Parquet":
            with pq.ParquetFile(path) as pf:
                yield _ParquetTable(pf)
            return
        with uproot.open(path) as f:
            try:
                obj = f[tree]
            except KeyError:  # uproot.KeyInFileError
                have = ", ".join(f.keys(cycle=False)[:6]) or "nothing"
                raise FormatError(f"{prefix}{path}: no tree {tree!r} (holds: {have})") from None
            if not hasattr(obj, "num_entries"):
                raise FormatError(f"{prefix}{path}: {tree!r} is a {type(obj).__name__}, not a tree")
            yield _RootTable(obj)
    except (JetlabError, MemoryError):
        raise
    except Exception as e:  # noqa: BLE001 - uproot and pyarrow raise many types on corrupt files: one line
        raise InputError(f"{prefix}{path}: unreadable, corrupt or truncated {kind} file ({brief(e)})") from None


def _ak_column(arr: ak.Array, name: str, where: str) -> _Column:
    try:
        if arr.ndim == 1:
            return _numbers(ak.to_numpy(arr), None, name, where)
        if arr.ndim == 2:
            return _numbers(ak.to_numpy(ak.flatten(arr, axis=1)), ak.to_numpy(ak.num(arr, axis=1)), name, where)
    except ValueError:  # missing values, records
        pass
    raise FormatError(f"{where}: branch {name!r} has type {arr.type}, expected numbers or a list of numbers per row")


def _arrow_column(arr: pa.Array, name: str, where: str) -> _Column:
    nested = pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type)
    values = arr.flatten() if nested else arr
    if arr.null_count or values.null_count:
        raise FormatError(f"{where}: column {name!r} holds missing values")
    if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type) or pa.types.is_boolean(values.type)):
        raise FormatError(f"{where}: column {name!r} has type {arr.type}, expected numbers or a list of numbers")
    counts = pc.list_value_length(arr).to_numpy(zero_copy_only=False) if nested else None
    return _numbers(values.to_numpy(zero_copy_only=False), counts, name, where)


def _numbers(values: np.ndarray, counts: np.ndarray | None, name: str, where: str) -> _Column:
    if values.dtype.kind not in "biuf":
        raise FormatError(f"{where}: {name!r} has dtype {values.dtype}, expected numbers")
    return _Column(values, None if counts is None else counts.astype(np.int64))


def branch_names(path: Path, tree: str | None) -> set[str]:
    """The branches (ROOT) or columns (Parquet) of ``path``; reads no arrays."""
    with _table(path, tree) as table:
        return table.names


def table_rows(path: Path, tree: str | None, prefix: str = "") -> int:
    """Rows (jets) of ``path`` from ROOT ``num_entries`` or the Parquet footer; reads no arrays."""
    with _table(path, tree, prefix) as table:
        return table.rows


# ------------------------------------------------------------------------------------------ one file
def _read(path: Path, spec: Columns, branches: list[str], start: int, stop: int | None, prefix: str
          ) -> tuple[dict[str, _Column], int]:  # fmt: skip
    """The columns ``branches`` of rows [start:stop] of ``path`` and the first row read."""
    where = f"{prefix}{path}"
    with _table(path, spec.tree, prefix) as table:
        keys = spec.keys()
        missing = [b for b in branches if b not in table.names]
        if missing:
            close = difflib.get_close_matches(missing[0], sorted(table.names), n=1)
            hint = f"; close: {close[0]!r}" if close else ""
            named = ", ".join(f"{b!r} ({keys[b]})" for b in missing[:4])
            raise FormatError(f"{where}: no branch {named}{hint}")
        lo, hi, _ = slice(start, stop).indices(table.rows)
        return table.read(branches, lo, max(lo, hi), where), lo


def read_table(path: Path, spec: Columns, start: int = 0, stop: int | None = None, *, fmt: str = "columnar",
               prefix: str = "") -> Jets:  # fmt: skip
    """Jets [start:stop] of one ROOT or Parquet file, read as ``spec`` says; ``prefix`` starts every message."""
    where = f"{prefix}{path}"
    cols, lo = _read(path, spec, list(dict.fromkeys(spec.keys())), start, stop, prefix)
    p, extra = _particles(cols, spec, where)
    jet = {k: _flat(cols, b, f"jet.{k}", where) for k, b in spec.jet.items() if k != "E"}
    if "E" in spec.jet and "mass" not in spec.jet:  # m^2 = E^2 - (pt cosh eta)^2
        e, p_abs = _flat(cols, spec.jet["E"], "jet.E", where), jet["pt"] * np.cosh(jet["eta"])
        jet["mass"] = np.sqrt(np.maximum(e * e - p_abs * p_abs, 0.0))
    hlf = np.stack([_flat(cols, b, f"hlf.{k}", where) for k, b in spec.hlf.items()], 1) if spec.hlf else None
    labels = _labels(cols, spec, where, lo)
    try:
        return assemble(path, fmt, p, extra, labels, jet, spec.scheme, hlf, list(spec.hlf))
    except FormatError as e:  # NaN or inf values: name the mapping too
        if prefix and not str(e).startswith(prefix):
            raise FormatError(f"{prefix}{e}") from None
        raise


def read_table_labels(path: Path, spec: Columns, prefix: str = "") -> np.ndarray:
    """(N,) labels of every row of ``path``, reading only the label branches."""
    cols, _ = _read(path, spec, [b for _, b in spec.label_keys()], 0, None, prefix)
    return _labels(cols, spec, f"{prefix}{path}", 0)


def _flat(cols: dict[str, _Column], branch: str, key: str, where: str) -> np.ndarray:
    col = cols[branch]
    if col.counts is not None:
        raise FormatError(f"{where}: {branch!r} ({key}) holds a list per jet, expected one number")
    return col.values.astype(np.float64)


def _particles(cols: dict[str, _Column], spec: Columns, where: str
               ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:  # fmt: skip
    """Kinematic (KINEMATIC_FEATURES) and extra (N, P) particle arrays, hardest first, P <= max_particles."""
    counts: np.ndarray | None = None
    for key, branch in spec.particles.items():
        c = cols[branch].counts
        if c is None:
            raise FormatError(f"{where}: {branch!r} (particles.{key}) holds one number per jet, expected a list")
        if counts is not None and not np.array_equal(c, counts):
            first = next(iter(spec.particles.values()))
            raise FormatError(f"{where}: particle branches {first!r} and {branch!r} differ in particles per jet")
        counts = c
    assert counts is not None
    flat = {k: cols[b].values.astype(np.float64) for k, b in spec.particles.items()}  # (T,) each
    if "px" in flat:
        four = tuple(flat[k] for k in _CARTESIAN)
    else:
        four = p4_from_pt_eta_phi_m(flat["pt"], flat["eta"], flat["phi"], flat.get("mass", np.zeros_like(flat["pt"])))
    pt, eta, phi, _ = pt_eta_phi_m(*four)  # phi wrapped into (-pi, pi]
    kin = dict(zip(KINEMATIC_FEATURES, (*four, pt, eta, phi)))
    extra = {k: v for k, v in flat.items() if k not in _KINEMATIC}
    width = min(spec.max_particles, int(counts.max(initial=0)))
    guarded.check_memory(Path(where), "particles", 4 * len(counts) * width * (len(kin) + len(extra)))
    padded = _pad({**kin, **extra}, counts, pt, width)
    return {k: padded[k] for k in kin}, {k: padded[k] for k in extra}


def _pad(flat: dict[str, np.ndarray], counts: np.ndarray, pt: np.ndarray, width: int) -> dict[str, np.ndarray]:
    """(T,) values of consecutive jets' particles -> (N, width), each jet's hardest first, zero padded."""
    n = len(counts)
    jet = np.repeat(np.arange(n), counts)  # (T,) jet of each particle
    order = np.lexsort((-pt, jet))  # by jet, then pT descending: jets stay contiguous
    slot = np.arange(len(jet)) - np.repeat(np.cumsum(counts) - counts, counts)  # (T,) rank within its jet
    keep = slot < width
    out = {}
    for k, v in flat.items():
        a = np.zeros((n, width), np.float32)  # (N, P), the precision jets are stored in
        a[jet[keep], slot[keep]] = v[order][keep]
        out[k] = a
    return out


def _labels(cols: dict[str, _Column], spec: Columns, where: str, row0: int) -> np.ndarray:
    """(N,) class ids from a one-hot set of branches or a branch of ids; FormatError on any other value."""
    n_cls = len(spec.scheme.classes)
    if spec.one_hot:
        hot = np.stack([_flat(cols, b, k, where) for k, b in spec.label_keys()], 1)  # (N, C)
        bad = ~(np.isin(hot, (0.0, 1.0)).all(1) & (hot.sum(1) == 1))
        if bad.any():
            raise FormatError(f"{where}: labels.one_hot: branches {', '.join(spec.one_hot)} not one-hot in "
                              f"{int(bad.sum())} jets (first: entry {row0 + int(np.argmax(bad))})")
        return hot.argmax(1).astype(np.int64)
    assert spec.label_branch is not None
    ids = _flat(cols, spec.label_branch, "labels.branch", where)
    bad = ~np.isfinite(ids) | (ids != np.rint(ids)) | (ids < -1) | (ids >= n_cls)
    if bad.any():
        raise FormatError(f"{where}: labels.branch {spec.label_branch!r} holds {ids[bad][0]:g} at entry "
                          f"{row0 + int(np.argmax(bad))}; expected class ids 0..{n_cls - 1} (-1: no class)")
    return ids.astype(np.int64)


# ------------------------------------------------------------------------------------------ the reader
def _sniff(path: Path) -> bool:
    """A small text file holding a YAML mapping with ``format: columnar`` (the name does not matter)."""
    if path.stat().st_size > _YAML_MAX:
        return False
    raw = path.read_bytes()
    if b"columnar" not in raw:
        return False
    try:
        doc = yaml.safe_load(raw.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        return False
    return isinstance(doc, dict) and doc.get("format") == "columnar"


@lru_cache(maxsize=256)
def _rows(path: Path, mtime_ns: int, size: int, tree: str | None, prefix: str) -> int:
    return table_rows(path, tree, prefix)


def _file_rows(m: Mapping) -> list[int]:
    prefix = f"{m.path}: "
    stats = [f.stat() for f in m.files]
    return [_rows(f, st.st_mtime_ns, st.st_size, m.columns.tree, prefix) for f, st in zip(m.files, stats)]


def count_columnar(path: Path) -> int:
    """Jets over every file of the mapping; reads no arrays."""
    return sum(_file_rows(load_mapping(path)))


def read_columnar(path: str | os.PathLike[str], start: int = 0, stop: int | None = None) -> Jets:
    """Jets [start:stop] numbered across the mapping's files; only the files and rows in range are read."""
    m = load_mapping(path)
    rows = _file_rows(m)
    offsets = np.concatenate([[0], np.cumsum(rows)]).astype(np.int64)
    lo, hi, _ = slice(start, stop).indices(int(offsets[-1]))
    prefix = f"{m.path}: "
    parts = [read_table(f, m.columns, max(lo, a) - a, min(hi, b) - a, prefix=prefix)
             for f, a, b in zip(m.files, offsets[:-1].tolist(), offsets[1:].tolist()) if max(lo, a) < min(hi, b)]
    try:
        jets = Jets.concatenate(parts or [read_table(m.files[0], m.columns, 0, 0, prefix=prefix)])
    except FormatError as e:
        raise FormatError(f"{m.path}: {e}") from None
    jets.meta = {"format": "columnar", "path": str(m.path), "n_files": str(len(m.files))}
    return jets


def labels_columnar(path: Path) -> np.ndarray:
    m = load_mapping(path)
    parts = [read_table_labels(f, m.columns, f"{m.path}: ") for f in m.files]
    return np.concatenate(parts).astype(np.int64)


def scheme_columnar(path: Path) -> LabelScheme:
    return load_mapping(path).columns.scheme


register_reader(Reader("columnar", "columnar ROOT/Parquet (YAML mapping)", _sniff, read_columnar, count_columnar,
                       scheme_columnar, labels_columnar))  # fmt: skip
