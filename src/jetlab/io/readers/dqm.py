"""Data-quality-monitoring maps (``jetlab dqm generate``): one HDF5 shard per block of lumisections.

Shard layout (root attributes ``format = "jetlab-dqm"``, ``detector``, ``channels`` (JSON list of channel
names), ``meta`` (JSON))::

    maps            (N, C, H, W) float32   occupancy (hits/event) [, mean energy/event, MeV] per detector channel
    labels          (N,)         int64     scheme ``dqm``: 0 good, 1 faulty
    channel_faults  (N, H, W)    uint8     1 where a fault was injected
    fault_kind      (N,)         int64     index of none, dead, hot, noisy, gain, shift
    strength        (N,)         float32   fault strength in [0, 1] (0: good)
    reference       (C, H, W)    float32   mean map of the good reference runs
    reference_std   (C, H, W)    float32   their standard deviation per channel

Read into :class:`~jetlab.io.maps.Maps`, validated (shapes, NaN, negative occupancies) with the file named.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, cast

import h5py
import numpy as np

import jetlab.io.guarded as guarded
from jetlab.errors import FormatError
from jetlab.io.atomic import temporary_name
from jetlab.io.maps import DETECTORS, DQM_SCHEME, Maps
from jetlab.io.readers import Reader, register_reader

__all__ = ["read_dqm", "write_dqm", "DQM_FORMAT"]

DQM_FORMAT = "jetlab-dqm"
_PER_MAP = ("maps", "labels", "channel_faults", "fault_kind", "strength")


def _sniff(path: Path) -> bool:
    if not h5py.is_hdf5(path):
        return False
    with h5py.File(path, "r") as f:
        return f.attrs.get("format") == DQM_FORMAT


def _count(path: Path) -> int:
    with guarded.open_h5(path) as f:
        return int(guarded.dataset(f, "labels", path, 1).shape[0])


def _labels(path: Path) -> np.ndarray:
    with guarded.open_h5(path) as f:
        return np.asarray(guarded.dataset(f, "labels", path, 1)[:], np.int64)


def read_dqm(path: str | os.PathLike[str], start: int = 0, stop: int | None = None) -> Maps:
    """Maps ``[start:stop]`` of a shard, checked (:meth:`Maps.validate`) with the file named."""
    path, rows = Path(path), slice(start, stop)
    with guarded.open_h5(path) as f:
        detector = f.attrs.get("detector")
        detector = detector.decode() if isinstance(detector, bytes) else str(detector)
        if detector not in DETECTORS:
            raise FormatError(f"{path}: unknown detector {detector!r} (known: {', '.join(DETECTORS)})")
        ds = {k: guarded.dataset(f, k, path, nd) for k, nd in zip(_PER_MAP, (4, 1, 3, 1, 1))}
        guarded.same_rows(path, *ds.values())
        ref = [guarded.dataset(f, k, path, 3) for k in ("reference", "reference_std")]
        arrays = {k: ds[k][rows] for k in _PER_MAP}
        meta = json.loads(f.attrs.get("meta", "{}"))
        reference, reference_std = (np.asarray(r[:], np.float32) for r in ref)
    maps = Maps(arrays["maps"].astype(np.float32), arrays["labels"].astype(np.int64),
                arrays["channel_faults"].astype(bool), arrays["fault_kind"].astype(np.int64),
                arrays["strength"].astype(np.float32), detector, reference, reference_std,
                {**meta, "format": "dqm", "path": str(path)})
    return maps.validate(str(path))


def write_dqm(path: str | os.PathLike[str], maps: Maps, attrs: dict[str, Any] | None = None) -> Path:
    """Write ``maps`` as one shard, whole or not at all (a temporary file renamed into place)."""
    path = Path(path)
    tmp = temporary_name(path)
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs.update({"format": DQM_FORMAT, "detector": maps.detector,
                            "channels": json.dumps(list(DETECTORS[maps.detector][:maps.shape[0]])),
                            "meta": json.dumps(maps.meta, sort_keys=True), **(attrs or {})})
            for k in _PER_MAP:
                arr = getattr(maps, k)
                f.create_dataset(k, data=arr.astype(np.uint8) if k == "channel_faults" else arr,
                                 compression="gzip", compression_opts=1)
            f.create_dataset("reference", data=maps.reference.astype(np.float32))
            f.create_dataset("reference_std", data=maps.reference_std.astype(np.float32))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


# Reader.read is typed for Jets | Showers; maps are a third kind the sources read the same way
register_reader(Reader("dqm", "jetlab data-quality maps", _sniff, cast(Any, read_dqm), _count, DQM_SCHEME, _labels))
