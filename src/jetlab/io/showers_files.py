"""Writing showers in the public layouts, whole or not at all, and the manifest of a directory of shower shards.

Layouts (the readers :mod:`jetlab.io.readers.calogan` and :mod:`jetlab.io.readers.calochallenge` read them back):

- CaloGAN (arXiv:1705.02355): ``energy`` (N, 1) GeV, ``layer_0`` (N, 3, 96), ``layer_1`` (N, 12, 12),
  ``layer_2`` (N, 12, 6) MeV, ``overflow`` (N, 3) MeV;
- CaloChallenge (arXiv:2410.21611): ``incident_energies`` (N, 1) MeV, ``showers`` (N, V) MeV, with the binning
  file (``binning_dataset_2.xml``) beside it.

Root attributes ``particle`` and ``geometry`` name what the file holds (public files have none; the readers
then take the particle from the file name). A directory of shards has a ``manifest.json`` with
``format: showers``, the reader of its shards, and per shard ``file``, ``n_showers``, ``seed``, ``sha256``;
:func:`jetlab.io.source.open_source` opens it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from jetlab.errors import FormatError, InputError
from jetlab.io.atomic import atomic_h5, atomic_write_text
from jetlab.io.format import MANIFEST
from jetlab.io.showers import Showers
from jetlab.physics.calorimeter import CylinderGeometry, Geometry, binning_xml, get_geometry

__all__ = ["SHOWERS_FORMAT", "SHOWERS_SCHEMA", "BINNING_FILES", "layout_arrays", "write_layout", "write_showers",
           "write_binning", "read_showers_manifest"]

SHOWERS_FORMAT = "showers"
SHOWERS_SCHEMA = 1
BINNING_FILES = {"challenge2": "binning_dataset_2.xml"}  # geometry -> CaloChallenge's name of its binning file
_COMPRESSION = {"compression": "gzip", "compression_opts": 4, "shuffle": True}


def _calogan_arrays(s: Showers, geometry: Geometry) -> dict[str, np.ndarray]:
    out = {"energy": s.incident.reshape(-1, 1)}
    out |= {f"layer_{i}": s.layer(i) for i in range(len(geometry.layer_shapes))}
    return out | ({"overflow": s.overflow} if s.overflow.shape[1] else {})


def _calochallenge_arrays(s: Showers, geometry: Geometry) -> dict[str, np.ndarray]:
    return {"incident_energies": s.incident.reshape(-1, 1) * np.float32(1e3), "showers": s.voxels}


_LAYOUTS: dict[str, Callable[[Showers, Geometry], dict[str, np.ndarray]]] = {
    "calogan": _calogan_arrays, "calochallenge": _calochallenge_arrays}


def layout_arrays(showers: Showers) -> dict[str, np.ndarray]:
    """The arrays of ``showers`` in the public layout of its geometry, float32, in the files' units."""
    geometry = get_geometry(showers.geometry)
    arrays = _LAYOUTS[geometry.file_format](showers, geometry)
    return {k: np.ascontiguousarray(v, np.float32) for k, v in arrays.items()}


def write_layout(path: str | os.PathLike[str], arrays: dict[str, np.ndarray], attrs: dict[str, str]) -> Path:
    """Write the public-layout ``arrays`` (and string root ``attrs``) to ``path`` whole or not at all; the bytes
    depend only on the content (no time stamps)."""
    with atomic_h5(path, track_order=False, libver="v108") as f:
        for key, value in attrs.items():
            f.attrs[key] = value
        for key, a in arrays.items():
            chunks = (max(1, min(len(a), 256)), *a.shape[1:]) if a.size else None
            f.create_dataset(key, data=a, chunks=chunks, track_times=False, **(_COMPRESSION if a.size else {}))
    return Path(path)


def write_binning(directory: str | os.PathLike[str], geometry: Geometry) -> Path | None:
    """Write the CaloChallenge binning file of a cylindrical ``geometry`` into ``directory`` (None for others)."""
    if not isinstance(geometry, CylinderGeometry):
        return None
    name = BINNING_FILES.get(geometry.name, f"binning_{geometry.name}.xml")
    return atomic_write_text(Path(directory) / name, binning_xml(geometry))


def _particle(s: Showers) -> str:
    """The particle of the file: as read (``meta``), else the one class every shower has, else ''."""
    labels = np.unique(s.labels)
    single = s.scheme.classes[labels[0]] if len(labels) == 1 and labels[0] >= 0 else ""
    return str(s.meta.get("particle") or single)


def write_showers(path: str | os.PathLike[str], showers: Showers, *, binning: bool = True) -> list[Path]:
    """Write ``showers`` (validated first) in the public layout of its geometry, plus, for a CaloChallenge
    geometry and ``binning``, its binning file beside it; returns the paths written."""
    showers.validate(str(path))
    geometry = get_geometry(showers.geometry)
    out = [write_layout(path, layout_arrays(showers), {"particle": _particle(showers), "geometry": geometry.name})]
    xml = write_binning(Path(path).parent, geometry) if binning else None
    return out + ([xml] if xml else [])


def read_showers_manifest(directory: str | os.PathLike[str], check: bool = True) -> dict[str, Any] | None:
    """The manifest of a directory of shower shards, checked (unless ``check`` is False); None when
    ``manifest.json`` is not one (a jet dataset: :func:`jetlab.io.format.read_manifest` reads and reports it)."""
    path = Path(directory) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != SHOWERS_FORMAT:
        return None
    if not check:
        return manifest
    if manifest.get("schema") != SHOWERS_SCHEMA or manifest.get("reader") not in _LAYOUTS:
        raise FormatError(f"{path}: shower manifest of schema {manifest.get('schema')!r} and reader "
                          f"{manifest.get('reader')!r} not supported (need {SHOWERS_SCHEMA} and one of "
                          f"{', '.join(_LAYOUTS)})")
    shards = manifest.get("shards")
    if not isinstance(shards, list) or not shards:
        raise FormatError(f"{path}: 'shards' must be a non-empty list")
    for s in shards:
        name = s.get("file") if isinstance(s, dict) else None
        if not isinstance(name, str) or Path(name).name != name or name in ("", ".", "..") or not name.isprintable():
            raise FormatError(f"{path}: shard entries need a plain file name in {directory}, got {repr(s)[:80]}")
        if type(s.get("n_showers")) is not int or s["n_showers"] < 0:
            raise FormatError(f"{path}: shard {name}: n_showers must be a count")
        if not (Path(directory) / name).is_file():
            raise InputError(f"{path}: shard {name} listed but missing")
    return manifest
