"""Opening any supported source as :class:`~jetlab.io.jets.Jets`, lazily for jetlab datasets.

``open(path)`` accepts a jetlab dataset directory (``manifest.json`` + shards), a single
jetlab shard, a file of a public dataset (hls4ml, Top Tagging, quark-gluon, JetNet, JetClass, a
columnar YAML mapping; see :mod:`jetlab.io.readers`), or a directory or glob pattern of such files.
``open(path, lazy=True)`` on a jetlab directory gives a
:class:`ShardedDataset` that reads only the shards a slice touches.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal, overload

import h5py
import numpy as np

from jetlab.classes import LabelScheme
from jetlab.errors import FormatError, InputError, brief
from jetlab.io.format import MANIFEST, manifest_scheme, read_manifest, read_rows, read_shard, sha256
from jetlab.io.jets import Jets
from jetlab.io.showers import Showers
from jetlab.io.source import detect_format, is_pattern, open_source

__all__ = ["open_data", "open_jets", "ShardedDataset", "detect_format"]


class ShardedDataset:
    """A jetlab dataset directory, read shard by shard on demand.

    ``len(ds)``, ``ds.labels`` (loaded once, small) and ``ds[index]`` -> :class:`Jets` for a
    slice, integer array or boolean mask; ``ds.load()`` reads everything.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.manifest = read_manifest(self.directory)
        self.files = [self.directory / s["file"] for s in self.manifest["shards"]]
        counts = [s["n_jets"] for s in self.manifest["shards"]]  # read_manifest checked: counts >= 0
        self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self._labels: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.offsets[-1])

    @property
    def scheme(self) -> LabelScheme:
        """The label scheme of the manifest (datasets made before schemes existed: generated jets)."""
        return manifest_scheme(self.manifest, self.directory / MANIFEST)

    @property
    def meta(self) -> dict[str, Any]:
        return {"format": "jetlab", "path": str(self.directory), "settings": self.manifest.get("settings", {}),
                "versions": self.manifest.get("versions", {})}

    @property
    def labels(self) -> np.ndarray:
        if self._labels is None:
            parts = []
            for f, n in zip(self.files, np.diff(self.offsets)):
                try:
                    with h5py.File(f, "r") as h:
                        parts.append(read_rows(h, "labels", f, slice(None), np.int64, "iu"))
                except (OSError, KeyError, ValueError, TypeError) as e:
                    raise InputError(f"{f}: unreadable shard ({brief(e, 120)})") from None
                if len(parts[-1]) != n:
                    raise FormatError(f"{f}: holds {len(parts[-1])} jets, manifest says {n}")
            self._labels = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        return self._labels

    def iter_shards(self) -> Iterator[Jets]:
        """Each shard whole, checked against the manifest: SHA-256 (when listed) and jet count."""
        for f, entry in zip(self.files, self.manifest["shards"]):
            if entry.get("sha256") and sha256(f) != entry["sha256"]:
                raise FormatError(f"{f}: SHA-256 differs from {MANIFEST} (shard changed or corrupt)")
            jets = read_shard(f)
            if len(jets) != entry["n_jets"]:
                raise FormatError(f"{f}: holds {len(jets)} jets, {MANIFEST} says {entry['n_jets']}")
            yield jets

    def load(self) -> Jets:
        try:
            jets = Jets.concatenate(list(self.iter_shards()))
        except FormatError as e:  # shards that cannot be joined: name the dataset
            if str(self.directory) in str(e):
                raise
            raise FormatError(f"{self.directory}: {e}") from None
        jets.meta = self.meta
        return jets

    def __getitem__(self, index: Any) -> Jets:
        rows = np.arange(len(self))[index]
        rows = np.atleast_1d(rows)
        order = np.argsort(rows, kind="stable")
        parts = []
        shard_of = np.searchsorted(self.offsets, rows[order], side="right") - 1
        for s in np.unique(shard_of):
            local = rows[order][shard_of == s] - self.offsets[s]
            lo, hi = int(local.min()), int(local.max()) + 1
            parts.append(read_shard(self.files[s], lo, hi)[local - lo])
        if not parts:
            return replace(Jets.empty(), scheme=self.scheme)
        jets = Jets.concatenate(parts)[np.argsort(order, kind="stable")]
        jets.meta = self.meta
        return jets


def _jet_manifest(directory: Path) -> bool:
    """A jetlab jet dataset: a manifest of format ``jetlab`` (shower datasets have their own)."""
    try:
        return json.loads((directory / MANIFEST).read_text()).get("format") == "jetlab"
    except (OSError, ValueError, AttributeError, RecursionError):
        return (directory / MANIFEST).is_file()  # unreadable: let read_manifest name the problem


@overload
def open_data(path: str | os.PathLike[str], lazy: Literal[False] = False) -> Jets | Showers: ...


@overload
def open_data(path: str | os.PathLike[str], lazy: bool) -> Jets | Showers | ShardedDataset: ...


def open_data(path: str | os.PathLike[str], lazy: bool = False) -> Jets | Showers | ShardedDataset:
    """Open any supported dataset: jets (:class:`Jets`, lazily a :class:`ShardedDataset`) or calorimeter
    showers (:class:`~jetlab.io.showers.Showers`); see the module docstring."""
    if is_pattern(path) or (Path(path).is_dir() and not _jet_manifest(Path(path))):
        return open_source(path).load()  # a directory or glob of foreign files, or of shower shards
    fmt = detect_format(path)
    if fmt == "jetlab":
        ds = ShardedDataset(path)
        return ds if lazy else ds.load()
    if fmt == "jetlab-shard":
        return read_shard(path)
    from jetlab.io.readers import read_foreign

    return read_foreign(path, fmt)


@overload
def open_jets(path: str | os.PathLike[str], lazy: Literal[False] = False) -> Jets: ...


@overload
def open_jets(path: str | os.PathLike[str], lazy: bool) -> Jets | ShardedDataset: ...


def open_jets(path: str | os.PathLike[str], lazy: bool = False) -> Jets | ShardedDataset:
    """Open a dataset of jets; a dataset of showers is a :class:`FormatError` saying so."""
    data = open_data(path, lazy)
    if isinstance(data, Showers):
        raise FormatError(f"{path}: holds calorimeter showers ({data.geometry}), not jets")
    return data
