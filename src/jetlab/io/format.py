"""The jetlab dataset format: HDF5 shards plus ``manifest.json`` (see docs/format.md).

A shard is one HDF5 file holding whole jets of one class::

    /constituents (N, P, F) float32   attrs: names (JSON list)
    /n_particles  (N,)      int32
    /jet          (N, 4)    float32   attrs: names = pt, eta, phi, mass
    /hlf          (N, H)    float32   attrs: names (JSON list)
    /labels       (N,)      int64
    root attrs: format = "jetlab-shard", schema (int), shard (JSON: class, index, seed, settings)

Shards are written to ``<name>.tmp`` and renamed when whole, so a shard that exists is complete.
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

from jetlab.errors import FormatError, InputError
from jetlab.io.jets import Jets

__all__ = [
    "SCHEMA_VERSION",
    "MANIFEST",
    "write_shard",
    "read_shard",
    "shard_info",
    "sha256",
    "write_manifest",
    "read_manifest",
    "is_jetlab_shard",
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
    """Write ``jets`` atomically to ``path`` (via ``path.tmp`` + rename); bytes depend only on content."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    n = len(jets)
    try:
        with h5py.File(tmp, "w", track_order=False, libver="v108") as f:
            f.attrs["format"] = "jetlab-shard"
            f.attrs["schema"] = SCHEMA_VERSION
            f.attrs["shard"] = json.dumps(info, sort_keys=True)
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
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def is_jetlab_shard(f: h5py.File) -> bool:
    return f.attrs.get("format") == "jetlab-shard"


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
        raise InputError(f"{path}: unreadable shard ({_short(e)})") from None


def read_shard(path: str | os.PathLike[str], start: int = 0, stop: int | None = None) -> Jets:
    """Read jets ``[start:stop]`` of one shard; validates shapes and values."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            if not is_jetlab_shard(f):
                raise FormatError(f"{path}: not a jetlab shard")
            for key in ("constituents", "n_particles", "jet", "hlf", "labels"):
                if key not in f:
                    raise FormatError(f"{path}: missing dataset '{key}'")
            sl = slice(start, stop)
            jets = Jets(
                constituents=np.asarray(f["constituents"][sl], np.float32),
                n_particles=np.asarray(f["n_particles"][sl], np.int32),
                particle_names=_names(f["constituents"], path),
                jet=np.asarray(f["jet"][sl], np.float32),
                hlf=np.asarray(f["hlf"][sl], np.float32),
                hlf_names=_names(f["hlf"], path),
                labels=np.asarray(f["labels"][sl], np.int64),
                meta={"format": "jetlab", "path": str(path), "shard": json.loads(f.attrs["shard"])},
            )
    except (OSError, KeyError, ValueError, TypeError) as e:
        raise InputError(f"{path}: unreadable or truncated shard ({_short(e)})") from None
    return jets.validate(str(path))


def write_manifest(directory: str | os.PathLike[str], manifest: dict[str, Any]) -> Path:
    """Write ``manifest.json`` atomically."""
    path = Path(directory) / MANIFEST
    tmp = path.with_name(MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


def read_manifest(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Load and check ``manifest.json``: schema, shard list, every shard file present."""
    directory = Path(directory)
    path = directory / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{directory}: no {MANIFEST} (not a jetlab dataset, or generation unfinished)") from None
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: unreadable manifest ({_short(e)})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != "jetlab":
        raise FormatError(f"{path}: not a jetlab manifest")
    if manifest.get("schema") != SCHEMA_VERSION:
        raise FormatError(f"{path}: schema {manifest.get('schema')!r} not supported (need {SCHEMA_VERSION})")
    shards = manifest.get("shards")
    if not isinstance(shards, list) or not all(isinstance(s, dict) and "file" in s for s in shards):
        raise FormatError(f"{path}: 'shards' must be a list of {{file, n_jets, sha256}}")
    for s in shards:
        if not (directory / s["file"]).is_file():
            raise InputError(f"{path}: shard {s['file']} listed but missing")
    return manifest


def _short(e: BaseException) -> str:
    return str(e).splitlines()[0][:160] if str(e) else type(e).__name__
