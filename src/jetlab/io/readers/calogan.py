"""CaloGAN showers (Paganini, de Oliveira, Nachman, arXiv:1705.02355; files eplus.hdf5, gamma.hdf5, piplus.hdf5).

One HDF5 file per particle, as CaloGAN's ``convert.py`` writes them::

    energy    (N, 1)       incident energy, GeV
    layer_0   (N, 3, 96)   visible (LAr) energy per cell, MeV
    layer_1   (N, 12, 12)
    layer_2   (N, 12, 6)
    overflow  (N, 3)       energy outside each layer's cells, MeV (optional here)

The particle comes from the root attribute ``particle`` (files jetlab writes) or the file name (``eplus``,
``gamma``, ``piplus``); otherwise the labels are -1. Read into :class:`~jetlab.io.showers.Showers` of geometry
``calogan``, voxels flat in layer order.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

import jetlab.io.guarded as guarded
from jetlab.errors import FormatError
from jetlab.io.readers import Reader, register_reader
from jetlab.io.showers import SHOWER_SCHEME, Showers, particle_label, particle_of
from jetlab.physics.calorimeter import get_geometry

__all__ = ["read_calogan"]

GEOMETRY = get_geometry("calogan")
LAYERS = tuple(f"layer_{i}" for i in range(len(GEOMETRY.layer_shapes)))


def _sniff(path: Path) -> bool:
    if not h5py.is_hdf5(path):
        return False
    with h5py.File(path, "r") as f:
        return {"energy", *LAYERS} <= set(f.keys())


def _energy(f: h5py.File, path: Path) -> h5py.Dataset:
    ds = f.get("energy")
    if not isinstance(ds, h5py.Dataset) or ds.ndim not in (1, 2) or ds.shape[1:] not in ((), (1,)):
        raise FormatError(f"{path}: dataset 'energy' must have shape (N, 1) (CaloGAN incident energies, GeV)")
    return ds


def _count(path: Path) -> int:
    with guarded.open_h5(path) as f:
        return int(_energy(f, path).shape[0])


def _particle(f: h5py.File, path: Path) -> str | None:
    return particle_of(f.attrs.get("particle"), path)


def _labels(path: Path) -> np.ndarray:
    with guarded.open_h5(path) as f:
        return np.full(_energy(f, path).shape[0], particle_label(_particle(f, path)), np.int64)


def read_calogan(path: str | os.PathLike[str], start: int = 0, stop: int | None = None) -> Showers:
    """Showers ``[start:stop]`` of a CaloGAN file; shapes checked against CaloGAN's layers before reading."""
    path, rows = Path(path), slice(start, stop)
    with guarded.open_h5(path) as f:
        energy = _energy(f, path)
        layers = [guarded.dataset(f, name, path, 3) for name in LAYERS]
        for ds, shape in zip(layers, GEOMETRY.layer_shapes):
            if ds.shape[1:] != shape:
                raise FormatError(f"{path}: dataset '{ds.name[1:]}' has shape {ds.shape}, CaloGAN's is (N, "
                                  f"{shape[0]}, {shape[1]})")
        overflow = [guarded.dataset(f, "overflow", path, 2)] if "overflow" in f else []
        if overflow and overflow[0].shape[1] != len(LAYERS):
            raise FormatError(f"{path}: dataset 'overflow' has shape {overflow[0].shape}, CaloGAN's is (N, 3)")
        guarded.same_rows(path, energy, *layers, *overflow)
        particle = _particle(f, path)
        incident = guarded.read_float32(energy, path, rows).reshape(-1)                  # (N,) GeV
        voxels = np.concatenate([guarded.read_float32(ds, path, rows).reshape(len(incident), -1)
                                 for ds in layers], axis=1)                             # (N, 504) MeV
        over = guarded.read_float32(overflow[0], path, rows) if overflow else np.zeros((len(incident), 0), np.float32)
    labels = np.full(len(incident), particle_label(particle), np.int64)
    meta = {"format": "calogan", "path": str(path), "particle": particle}
    return Showers(voxels, incident, labels, GEOMETRY.name, over, meta).validate(str(path))


register_reader(Reader("calogan", "CaloGAN showers", _sniff, read_calogan, _count, SHOWER_SCHEME, _labels))
