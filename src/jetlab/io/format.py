"""The jetlab dataset format: HDF5 shards plus ``manifest.json`` (see docs/format.md).

A shard is one HDF5 file holding whole jets of one class::

    /constituents (N, P, F) float32   attrs: names (JSON list)
    /n_particles  (N,)      int32
    /jet          (N, 4)    float32   attrs: names = pt, eta, phi, mass
    /hlf          (N, H)    float32   attrs: names (JSON list)
    /labels       (N,)      int64
    root attrs: format = "jetlab-shard", schema (int), shard (JSON: class, index, seed, settings),
                scheme (JSON: the label scheme's name, classes, descriptions; absent = generated g,q,w,z,t)

Shards are built in memory, written to ``<name>.<pid>.tmp``, fsynced and renamed when whole, so a shard
that exists is complete (see :mod:`jetlab.io.atomic`).
The manifest lists shards with jet counts and SHA-256 checksums.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

import jetlab.io.guarded as guarded
from jetlab.classes import JETLAB, LabelScheme
from jetlab.errors import FormatError, InputError, brief
from jetlab.io.atomic import atomic_h5, atomic_write_text
from jetlab.io.jets import Jets
from jetlab.schema import JET_FIELDS

__all__ = [
    "SCHEMA_VERSION",
    "MANIFEST",
    "write_shard",
    "read_shard",
    "read_rows",
    "shard_info",
    "sha256",
    "write_manifest",
    "read_manifest",
    "is_jetlab_shard",
    "shard_scheme",
    "manifest_scheme",
]

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
_COMPRESSION = {"compression": "gzip", "compression_opts": 4, "shuffle": True}


def sha256(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_shard(path: str | os.PathLike[str], jets: Jets, info: dict[str, Any]) -> None:
    """Write ``jets`` to ``path`` whole or not at all (see :mod:`jetlab.io.atomic`); bytes depend only on content."""
    n = len(jets)
    with atomic_h5(path, track_order=False, libver="v108") as f:
        f.attrs["format"] = "jetlab-shard"
        f.attrs["schema"] = SCHEMA_VERSION
        f.attrs["shard"] = json.dumps(info, sort_keys=True)
        f.attrs["scheme"] = json.dumps(jets.scheme.to_dict())
        chunk = (max(1, min(n, 256)),)
        packed = jets.constituents.size > 0  # an HLF-only dataset has P = 0 particle slots
        d = f.create_dataset("constituents", data=jets.constituents.astype(np.float32),
                             chunks=chunk + jets.constituents.shape[1:] if packed else None,
                             track_times=False, **(_COMPRESSION if packed else {}))
        d.attrs["names"] = json.dumps(list(jets.particle_names))
        f.create_dataset("n_particles", data=jets.n_particles.astype(np.int32), track_times=False)
        d = f.create_dataset("jet", data=jets.jet.astype(np.float32), track_times=False)
        d.attrs["names"] = json.dumps(["pt", "eta", "phi", "mass"])
        d = f.create_dataset("hlf", data=jets.hlf.astype(np.float32), track_times=False)
        d.attrs["names"] = json.dumps(list(jets.hlf_names))
        f.create_dataset("labels", data=jets.labels.astype(np.int64), track_times=False)


def is_jetlab_shard(f: h5py.File) -> bool:
    return f.attrs.get("format") == "jetlab-shard"


def shard_scheme(f: h5py.File, path: Path) -> LabelScheme:
    """The label scheme a shard declares (shards written before schemes existed: generated jets)."""
    if "scheme" not in f.attrs:
        return JETLAB
    try:
        raw = json.loads(f.attrs["scheme"])
    except (ValueError, TypeError):
        raise FormatError(f"{path}: attribute 'scheme' is not JSON") from None
    return LabelScheme.from_dict(raw, str(path))


def manifest_scheme(manifest: dict[str, Any], path: Path) -> LabelScheme:
    """The label scheme a manifest declares (datasets made before schemes existed: generated jets)."""
    raw = manifest.get("scheme")
    return JETLAB if raw is None else LabelScheme.from_dict(raw, str(path))


def _names(ds: h5py.Dataset, path: Path) -> list[str]:
    try:
        names = json.loads(ds.attrs["names"])
    except (KeyError, ValueError, TypeError):
        raise FormatError(f"{path}: dataset {ds.name} has no valid 'names' attribute") from None
    if not isinstance(names, list) or not all(isinstance(s, str) for s in names):
        raise FormatError(f"{path}: dataset {ds.name} has invalid names")
    return names


def shard_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``shard`` attributes (class, index, seed, settings) and jet count of a shard file."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            if not is_jetlab_shard(f):
                raise FormatError(f"{path}: not a jetlab shard")
            info = json.loads(f.attrs["shard"])
            info["n_jets"] = int(f["labels"].shape[0])
            return info
    except (OSError, KeyError, ValueError) as e:
        raise InputError(f"{path}: unreadable shard ({brief(e)})") from None


def read_shard(path: str | os.PathLike[str], start: int = 0, stop: int | None = None) -> Jets:
    """Read jets ``[start:stop]`` of one shard; validates shapes and values."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            if not is_jetlab_shard(f):
                raise FormatError(f"{path}: not a jetlab shard")
            _check_header(f, path)
            sl = slice(start, stop)
            jets = Jets(
                constituents=read_rows(f, "constituents", path, sl, np.float32, "f"),
                n_particles=read_rows(f, "n_particles", path, sl, np.int32, "iu"),
                particle_names=_names(f["constituents"], path),
                jet=read_rows(f, "jet", path, sl, np.float32, "f"),
                hlf=read_rows(f, "hlf", path, sl, np.float32, "f"),
                hlf_names=_names(f["hlf"], path),
                labels=read_rows(f, "labels", path, sl, np.int64, "iu"),
                meta={"format": "jetlab", "path": str(path), "shard": json.loads(f.attrs["shard"])},
                scheme=shard_scheme(f, path),
            )
            jet_names = _names(f["jet"], path)
    except (OSError, KeyError, ValueError, TypeError) as e:
        raise InputError(f"{path}: unreadable or truncated shard ({brief(e)})") from None
    if jet_names != list(JET_FIELDS):
        raise FormatError(f"{path}: dataset /jet has names {jet_names}, expected {list(JET_FIELDS)}")
    return jets.validate(str(path))


def _check_header(f: h5py.File, path: Path) -> None:
    """The root attributes: ``schema`` the integer SCHEMA_VERSION, ``shard`` a JSON object."""
    schema = f.attrs.get("schema")
    if not isinstance(schema, (int, np.integer)) or isinstance(schema, (bool, np.bool_)) or schema != SCHEMA_VERSION:
        raise FormatError(f"{path}: shard schema {schema!r} not supported (need {SCHEMA_VERSION})")
    try:
        info = json.loads(f.attrs["shard"])
    except (KeyError, ValueError, TypeError):
        info = None
    if not isinstance(info, dict):
        raise FormatError(f"{path}: attribute 'shard' is not a JSON object")


def read_rows(f: h5py.File, key: str, path: Path, rows: slice, dtype: type, kinds: str = "fiu") -> np.ndarray:
    """Rows of dataset ``key`` as ``dtype``, after checking it is an array of ``kinds`` whose declared
    size is actually stored (a header declaring 10^9 jets over a few bytes is refused, not allocated)."""
    ds = f.get(key)
    if not isinstance(ds, h5py.Dataset) or ds.ndim == 0 or ds.dtype.kind not in kinds:
        what = f"shape {ds.shape} and dtype {ds.dtype}" if isinstance(ds, h5py.Dataset) else "no such dataset"
        raise FormatError(f"{path}: dataset '{key}': {what}, expected an array of numbers ({kinds})")
    guarded.check_stored(ds, path)
    return np.asarray(ds[rows], dtype)


def write_manifest(directory: str | os.PathLike[str], manifest: dict[str, Any]) -> Path:
    """Write ``manifest.json`` atomically."""
    return atomic_write_text(Path(directory) / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def read_manifest(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Load and check ``manifest.json``: schema, shard list (plain file names in ``directory``, jet
    counts, optional SHA-256), every shard file present."""
    directory = Path(directory)
    path = directory / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{directory}: no {MANIFEST} (not a jetlab dataset, or generation unfinished)") from None
    except (OSError, ValueError, RecursionError) as e:
        raise InputError(f"{path}: unreadable manifest ({brief(e)})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != "jetlab":
        raise FormatError(f"{path}: not a jetlab manifest")
    if type(manifest.get("schema")) is not int or manifest["schema"] != SCHEMA_VERSION:
        raise FormatError(f"{path}: schema {manifest.get('schema')!r} not supported (need {SCHEMA_VERSION})")
    shards = manifest.get("shards")
    if not isinstance(shards, list) or not all(isinstance(s, dict) and _plain_name(s.get("file")) for s in shards):
        raise FormatError(f"{path}: 'shards' must be a list of {{file, n_jets, sha256}} with file names in {directory}")
    if not shards:
        raise FormatError(f"{path}: lists no shards")
    names = [s["file"] for s in shards]
    if len(set(names)) != len(names):
        raise FormatError(f"{path}: lists shard {next(n for n in names if names.count(n) > 1)} twice")
    for s in shards:
        if not (directory / s["file"]).is_file():
            raise InputError(f"{path}: shard {s['file']} listed but missing")
        n, digest = s.get("n_jets"), s.get("sha256", "")
        if type(n) is not int or n < 0 or not isinstance(digest, str):
            raise FormatError(f"{path}: shard {s['file']}: n_jets must be a count and sha256 a string")
    total = sum(s["n_jets"] for s in shards)
    if "n_jets" in manifest and manifest["n_jets"] != total:
        raise FormatError(f"{path}: n_jets {manifest['n_jets']!r} but its shards hold {total} jets")
    return manifest


def _plain_name(name: object) -> bool:
    """A file name inside the dataset directory: printable, no separators, not '.' or '..'."""
    return (isinstance(name, str) and name not in ("", ".", "..") and name.isprintable()
            and not any(c in name for c in "/\\"))
