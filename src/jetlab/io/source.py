"""A dataset as files read in row ranges: what in-memory loading and streaming both stand on.

:func:`open_source` accepts everything ``jetlab.io.open`` does, plus directories and glob patterns of
files in one foreign layout (JetClass ships a directory of ROOT files)::

    src = open_source("JetClass/train_100M/")      # or "data/*.root", a jetlab directory, a file
    len(src), src.scheme                           # jets, label scheme; nothing read yet
    for file, start, stop in src.chunks(100_000):  # row ranges, never across a file
        jets = src.read(file, start, stop)

Counting reads no arrays (manifest counts, HDF5 shapes, ROOT entries).
"""

from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from jetlab.classes import LabelScheme
from jetlab.errors import FormatError, InputError, brief
from jetlab.io.format import (
    MANIFEST,
    is_jetlab_shard,
    manifest_scheme,
    read_manifest,
    read_rows,
    read_shard,
    shard_scheme,
)
from jetlab.io.jets import Jets
from jetlab.io.maps import DQM_SCHEME
from jetlab.io.showers import SHOWER_SCHEME, Showers
from jetlab.io.showers_files import read_showers_manifest

__all__ = ["FilePart", "Source", "open_source", "is_pattern", "detect_format"]

SHARD = "jetlab-shard"


@dataclass(frozen=True)
class FilePart:
    """One file of a source: its path, reader name (``jetlab-shard`` or a foreign format) and jet count."""

    path: Path
    fmt: str
    n_jets: int


@dataclass
class Source:
    """The files of one dataset, in order; rows are numbered across them."""

    path: str
    files: list[FilePart]
    scheme: LabelScheme
    _labels: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return sum(f.n_jets for f in self.files)

    @property
    def offsets(self) -> np.ndarray:
        """(n_files + 1,) first global row of each file."""
        return np.concatenate([[0], np.cumsum([f.n_jets for f in self.files])]).astype(np.int64)

    def read(self, i: int, start: int = 0, stop: int | None = None) -> Jets | Showers:
        """Jets ``[start:stop]`` of file ``i``."""
        part = self.files[i]
        if part.fmt == SHARD:
            return read_shard(part.path, start, stop)
        from jetlab.io.readers import get_reader

        return get_reader(part.fmt).read(part.path, start=start, stop=stop)

    def chunks(self, size: int) -> list[tuple[int, int, int]]:
        """``(file, start, stop)`` ranges of at most ``size`` jets covering every file in order."""
        return [(i, lo, min(lo + size, f.n_jets)) for i, f in enumerate(self.files) for lo in range(0, f.n_jets, size)]

    def labels(self) -> np.ndarray:
        """(N,) labels of every jet, reading only labels where the layout allows it."""
        if self._labels is None:
            parts = [self._file_labels(i) for i in range(len(self.files))]
            self._labels = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        return self._labels

    def _file_labels(self, i: int) -> np.ndarray:
        part = self.files[i]
        if part.fmt == SHARD:
            try:
                with h5py.File(part.path, "r") as h:
                    out = read_rows(h, "labels", part.path, slice(None), np.int64, "iu")
            except (OSError, KeyError, ValueError, TypeError) as e:
                raise InputError(f"{part.path}: unreadable shard ({brief(e, 120)})") from None
        else:
            from jetlab.io.readers import get_reader

            reader = get_reader(part.fmt)
            out = reader.labels(part.path) if reader.labels else reader.read(part.path).labels
        if len(out) != part.n_jets:
            raise FormatError(f"{part.path}: holds {len(out)} jets, expected {part.n_jets}")
        return np.asarray(out, np.int64)

    def load(self) -> Jets | Showers:
        """Every jet in memory (the fast path for data that fit)."""
        try:
            parts: list[Any] = [self.read(i) for i in range(len(self.files))]
            kinds = {type(p) for p in parts}
            if len(kinds) > 1:
                raise FormatError(f"{self.path}: holds {' and '.join(sorted(k.__name__ for k in kinds))}; one kind "
                                  "per dataset")
            jets: Any = (parts[0] if kinds else Jets.empty()).concatenate(parts)  # Jets, Showers or Maps
        except FormatError as e:
            if self.path in str(e):
                raise
            raise FormatError(f"{self.path}: {e}") from None
        jets.meta = {**jets.meta, "path": self.path}
        return jets


def is_pattern(path: str | os.PathLike[str]) -> bool:
    return any(c in str(path) for c in "*?[")


def open_source(path: str | os.PathLike[str]) -> Source:
    """The :class:`Source` of a jetlab directory or shard, a foreign file, a directory or glob of foreign files."""
    text = str(path)
    if is_pattern(text):
        files = [Path(p) for p in sorted(glob.glob(text)) if Path(p).is_file()]
        if not files:
            raise InputError(f"{text}: no files match")
        return _foreign_files(text, files)
    p = Path(text)
    if p.is_dir() and (p / MANIFEST).is_file():
        showers = read_showers_manifest(p)  # shards in a public shower layout, read by their reader
        if showers is not None:
            parts = [FilePart(p / s["file"], showers["reader"], s["n_showers"]) for s in showers["shards"]]
            return Source(text, parts, SHOWER_SCHEME)
        dqm = _dqm_manifest(p)  # detector maps of data-quality monitoring (jetlab dqm generate)
        if dqm is not None:
            return Source(text, [FilePart(p / s["file"], "dqm", s["n_maps"]) for s in dqm["shards"]], DQM_SCHEME)
        manifest = read_manifest(p)
        parts = [FilePart(p / s["file"], SHARD, s["n_jets"]) for s in manifest["shards"]]
        return Source(text, parts, manifest_scheme(manifest, p / MANIFEST))
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith(".")
                       and f.suffix != ".xml")  # CaloChallenge binning files lie beside the showers
        if any(f.suffix == ".h5" and _is_shard(f) for f in files):
            raise InputError(f"{p}: shards but no {MANIFEST} (unfinished generation? run 'jetlab merge {p}')")
        if not files:
            raise InputError(f"{p}: directory holds no jetlab dataset and no data files")
        return _foreign_files(text, files)
    fmt = detect_format(p)
    if fmt == SHARD:
        with h5py.File(p, "r") as f:
            n, scheme = int(f["labels"].shape[0]) if "labels" in f else 0, shard_scheme(f, p)
        return Source(text, [FilePart(p, SHARD, n)], scheme)
    return _foreign_files(text, [p], [fmt])


def detect_format(path: str | os.PathLike[str]) -> str:
    """``"jetlab"``, ``"jetlab-shard"`` or a foreign format name; :class:`InputError` otherwise."""
    from jetlab.io.readers import explain_unknown, sniff

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    if path.is_dir():
        if (path / MANIFEST).is_file():
            return "jetlab"
        if any(path.glob("*.h5")):
            raise InputError(f"{path}: shards but no {MANIFEST} (unfinished generation? run 'jetlab merge {path}')")
        raise InputError(f"{path}: directory holds no jetlab dataset")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file")
    if path.stat().st_size == 0:
        raise FormatError(f"{path}: empty file")
    if h5py.is_hdf5(path):
        try:
            with h5py.File(path, "r") as f:
                if is_jetlab_shard(f):
                    return "jetlab-shard"
        except OSError as e:
            raise InputError(f"{path}: unreadable HDF5 file ({brief(e, 120)})") from None
    fmt = sniff(path)
    if fmt is None:
        explain_unknown(path)  # raises: truncated HDF5 or zip, or no known layout
    return fmt


def _dqm_manifest(directory: Path) -> dict[str, Any] | None:
    """The ``manifest.json`` of ``format: dqm`` in ``directory``, None when it is another dataset's."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != "dqm":
        return None
    for s in manifest.get("shards") or []:
        if not (isinstance(s, dict) and isinstance(s.get("file"), str) and Path(s["file"]).name == s["file"]
                and type(s.get("n_maps")) is int):
            raise FormatError(f"{directory / MANIFEST}: shard entries need a plain file name and n_maps")
        if not (directory / s["file"]).is_file():
            raise InputError(f"{directory / MANIFEST}: shard {s['file']} listed but missing")
    return manifest


def _is_shard(path: Path) -> bool:
    try:
        with h5py.File(path, "r") as f:
            return f.attrs.get("format") == SHARD
    except OSError:
        return False


def _foreign_files(where: str, files: list[Path], fmts: list[str] | None = None) -> Source:
    """Files that must all be in one foreign layout with one label scheme."""
    from jetlab.io.readers import get_reader

    fmts = fmts or [detect_format(f) for f in files]
    if SHARD in fmts:
        raise InputError(f"{where}: jetlab shards without a {MANIFEST}; run 'jetlab merge' on their directory")
    if len(set(fmts)) != 1:
        raise FormatError(f"{where}: files in different layouts ({', '.join(sorted(set(fmts)))}); one per dataset")
    reader = get_reader(fmts[0])
    schemes = {reader.scheme_of(f) for f in files}
    if len({s.classes for s in schemes}) != 1:
        raise FormatError(f"{where}: files with different label schemes ({', '.join(map(str, schemes))})")
    parts = [FilePart(f, fmts[0], int(reader.count(f))) for f in files]
    return Source(where, parts, next(iter(schemes)))
