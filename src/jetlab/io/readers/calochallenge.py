"""CaloChallenge 2022 showers (Krause et al., arXiv:2410.21611; dataset 2: dataset_2_1.hdf5, dataset_2_2.hdf5).

One HDF5 file of showers of one particle, with the binning file of its dataset beside it::

    incident_energies  (N, 1)   incident energy, MeV
    showers            (N, V)   energy per voxel, MeV; voxel (layer · n_alpha + alpha) · n_r + r

The geometry follows from V: 6480 is dataset 2 (``challenge2``: 45 layers × 16 α × 9 r). Dataset 1
(368 voxels for photons, 533 for pions) and dataset 3 (40500) are recognised and refused as not supported.
A binning XML beside the file (``<stem>.xml``, else ``binning*.xml`` in its directory) must describe V
voxels. The particle comes from the root attribute ``particle``, the file name, or the dataset (dataset 2:
electrons, class ``e+`` of the ``particles`` scheme). Incident energies are returned in GeV.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import h5py
import numpy as np

import jetlab.io.guarded as guarded
from jetlab.errors import FormatError
from jetlab.io.readers import Reader, register_reader
from jetlab.io.showers import SHOWER_SCHEME, Showers, particle_label, particle_of
from jetlab.physics.calorimeter import CylinderGeometry, get_geometry

__all__ = ["read_calochallenge", "binning_voxels", "check_binning"]

GEOMETRIES = {g.n_cells: g for g in (get_geometry("challenge2"),) if isinstance(g, CylinderGeometry)}  # V -> geometry
UNSUPPORTED = {368: "dataset 1 (photons)", 533: "dataset 1 (pions)", 40500: "dataset 3"}
_XML_MAX = 1 << 20


def _sniff(path: Path) -> bool:
    if not h5py.is_hdf5(path):
        return False
    with h5py.File(path, "r") as f:
        return {"incident_energies", "showers"} <= set(f.keys())


def _datasets(f: h5py.File, path: Path) -> tuple[h5py.Dataset, h5py.Dataset, CylinderGeometry]:
    """``incident_energies``, ``showers`` and the geometry their width names; FormatError otherwise."""
    showers = guarded.dataset(f, "showers", path, 2)
    incident = f.get("incident_energies")
    if not isinstance(incident, h5py.Dataset) or incident.ndim not in (1, 2) or incident.shape[1:] not in ((), (1,)):
        raise FormatError(f"{path}: dataset 'incident_energies' must have shape (N, 1) (MeV)")
    guarded.same_rows(path, incident, showers)
    width = showers.shape[1]
    if width in UNSUPPORTED:
        raise FormatError(f"{path}: showers of {width} voxels are CaloChallenge {UNSUPPORTED[width]}, "
                          f"a geometry jetlab does not support (supported: dataset 2, {next(iter(GEOMETRIES))} voxels)")
    if width not in GEOMETRIES:
        raise FormatError(f"{path}: showers of {width} voxels match no CaloChallenge geometry "
                          f"(dataset 2: {next(iter(GEOMETRIES))})")
    return incident, showers, GEOMETRIES[width]


def _count(path: Path) -> int:
    with guarded.open_h5(path) as f:
        return int(guarded.dataset(f, "showers", path, 2).shape[0])


def _particle(f: h5py.File, path: Path, geometry: CylinderGeometry) -> str:
    return particle_of(f.attrs.get("particle"), path) or geometry.particle_label


def _labels(path: Path) -> np.ndarray:
    with guarded.open_h5(path) as f:
        incident, _, geometry = _datasets(f, path)
        return np.full(incident.shape[0], particle_label(_particle(f, path, geometry)), np.int64)


def binning_voxels(xml: Path) -> int:
    """Voxels a CaloChallenge binning file describes: Σ over ``<Layer>`` of (len(r_edges) - 1) · n_bin_alpha."""
    if xml.stat().st_size > _XML_MAX:
        raise FormatError(f"{xml}: binning file larger than {_XML_MAX >> 20} MiB")
    try:
        layers = ET.parse(xml).getroot().iter("Layer")
        return sum(max(len([e for e in layer.get("r_edges", "").split(",") if e.strip()]) - 1, 0)
                   * int(layer.get("n_bin_alpha", "1")) for layer in layers)
    except (ET.ParseError, ValueError) as e:
        raise FormatError(f"{xml}: not a CaloChallenge binning file ({e})") from None


def check_binning(path: Path, width: int) -> None:
    """A binning file beside ``path`` (``<stem>.xml``, else any ``binning*.xml``) must describe ``width`` voxels."""
    own = path.with_suffix(".xml")
    candidates = [own] if own.is_file() else sorted(path.parent.glob("binning*.xml"))
    found = {xml: binning_voxels(xml) for xml in candidates}
    if found and width not in found.values():
        xml, n = next(iter(found.items()))
        raise FormatError(f"{path}: showers have {width} voxels but the binning file {xml} describes {n}")


def read_calochallenge(path: str | os.PathLike[str], start: int = 0, stop: int | None = None) -> Showers:
    """Showers ``[start:stop]`` of a CaloChallenge file; incident energies converted from MeV to GeV."""
    path, rows = Path(path), slice(start, stop)
    with guarded.open_h5(path) as f:
        incident_ds, showers_ds, geometry = _datasets(f, path)
        check_binning(path, showers_ds.shape[1])
        particle = _particle(f, path, geometry)
        incident = guarded.read_float32(incident_ds, path, rows).reshape(-1) / np.float32(1e3)   # (N,) GeV
        voxels = guarded.read_float32(showers_ds, path, rows)                                     # (N, V) MeV
    labels = np.full(len(incident), particle_label(particle), np.int64)
    meta = {"format": "calochallenge", "path": str(path), "particle": particle}
    return Showers(voxels, incident, labels, geometry.name, meta=meta).validate(str(path))


register_reader(Reader("calochallenge", "CaloChallenge showers", _sniff, read_calochallenge, _count, SHOWER_SCHEME,
                       _labels))
