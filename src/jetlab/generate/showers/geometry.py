"""Calorimeter geometries in the cell layouts and units of public shower datasets.

Every geometry is a frozen dataclass with a ``sampling`` structure (absorber + active layer), a number
of readout cells, ``cell_index`` (spot position -> cell, -1 when the energy escapes) and ``layout``
(per-cell visible energy -> the dataset's arrays). Geometries register by name; ``get_geometry`` asks
the registry.

Coordinates: the particle enters at the centre of the front face (x = y = 0, depth 0) along the depth
axis; ``depth_mm`` from the front face, ``r_mm`` from the axis, ``phi`` ∈ [-π, π) the azimuth (rad).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np

from jetlab.errors import UsageError
from jetlab.generate.showers.gflash import LEAD, LIQUID_ARGON, SILICON, TUNGSTEN, Sampling

__all__ = ["Geometry", "GridLayer", "GridGeometry", "CylinderGeometry", "ShowerUsageError", "GEOMETRIES",
           "register", "get_geometry", "calogan", "challenge2", "binning_xml"]


class ShowerUsageError(UsageError, ValueError):
    """A bad argument to the shower simulator: an unknown geometry or particle name, an energy out of range."""


class Geometry(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def sampling(self) -> Sampling: ...

    @property
    def n_cells(self) -> int: ...

    @property
    def depth_mm(self) -> float: ...

    def cell_index(self, depth_mm: np.ndarray, r_mm: np.ndarray, phi: np.ndarray) -> np.ndarray: ...

    def layout(self, visible_gev: np.ndarray, energies_gev: np.ndarray) -> dict[str, np.ndarray]: ...


@dataclass(frozen=True)
class GridLayer:
    """One longitudinal layer read out as ``shape`` = (nx, ny) cells of ``cell_mm`` = (dx, dy), centred on the axis."""

    name: str
    thickness_mm: float
    shape: tuple[int, int]
    cell_mm: tuple[float, float]


@dataclass(frozen=True)
class GridGeometry:
    """Layers of rectangular cells, each with one overflow bin for energy outside its cells (CaloGAN).

    Cells: ``layer[n, ix, iy]`` covers x ∈ [-W/2 + ix dx, -W/2 + (ix+1) dx), W = nx dx (same for y),
    as CaloGAN's ``SteppingAction::WhichXYbin`` bins Geant4 step positions; ``overflow[n, layer]`` holds
    the energy in that layer's depth range but outside its cells. Energy behind the last layer is lost.
    Outputs are float32: ``energy`` (N, 1) incident energy times ``incident_scale`` (1: GeV), and the
    visible (active-layer) energy times ``visible_scale`` (1000: MeV, Geant4's unit) in every cell.
    """

    name: str
    sampling: Sampling
    layers: tuple[GridLayer, ...]
    incident_scale: float = 1.0
    visible_scale: float = 1e3

    @property
    def depth_mm(self) -> float:
        return float(sum(layer.thickness_mm for layer in self.layers))

    @property
    def _sizes(self) -> np.ndarray:
        return np.array([math.prod(layer.shape) for layer in self.layers])

    @property
    def n_cells(self) -> int:
        return int(self._sizes.sum()) + len(self.layers)

    def cell_index(self, depth_mm: np.ndarray, r_mm: np.ndarray, phi: np.ndarray) -> np.ndarray:
        bounds = np.cumsum([0.0] + [layer.thickness_mm for layer in self.layers])
        layer = np.searchsorted(bounds, depth_mm, side="right") - 1                  # (S,) -1 .. n_layers
        lost = layer >= len(self.layers)
        layer = np.minimum(layer, len(self.layers) - 1)
        (nx, ny), (dx, dy) = (np.array([lay.shape for lay in self.layers]).T,
                              np.array([lay.cell_mm for lay in self.layers]).T)    # (n_layers,) each
        offset = np.concatenate([[0], np.cumsum(self._sizes)[:-1]])
        ix = np.floor(r_mm * np.cos(phi) / dx[layer] + nx[layer] / 2).astype(np.int64)   # (S,)
        iy = np.floor(r_mm * np.sin(phi) / dy[layer] + ny[layer] / 2).astype(np.int64)
        inside = (ix >= 0) & (ix < nx[layer]) & (iy >= 0) & (iy < ny[layer])
        index = np.where(inside, offset[layer] + ix * ny[layer] + iy, self._sizes.sum() + layer)
        return np.where(lost, -1, index)

    def layout(self, visible_gev: np.ndarray, energies_gev: np.ndarray) -> dict[str, np.ndarray]:
        cells = (visible_gev * self.visible_scale).astype(np.float32)               # (N, n_cells)
        edges = np.concatenate([[0], np.cumsum(self._sizes)])
        incident = (np.asarray(energies_gev) * self.incident_scale).astype(np.float32).reshape(-1, 1)   # (N, 1)
        out: dict[str, np.ndarray] = {"energy": incident}
        for i, layer in enumerate(self.layers):
            out[layer.name] = cells[:, edges[i]:edges[i + 1]].reshape(-1, *layer.shape)
        out["overflow"] = cells[:, edges[-1]:]
        return out


@dataclass(frozen=True)
class CylinderGeometry:
    """Concentric cylinders: ``n_layers`` layers of ``layer_mm``, each with radial bins ``r_edges_mm`` and
    ``n_alpha`` angular bins (CaloChallenge datasets 2 and 3).

    Voxel order of ``showers`` (N, n_layers · n_alpha · n_r): radial bin fastest, then angular bin, then
    layer — index = (layer · n_alpha + alpha) · n_r + r, as the CaloChallenge files (its ``XMLHandler``
    fills r within α within layer). Angular bin j covers φ ∈ [-π + 2πj/n_alpha, -π + 2π(j+1)/n_alpha).
    Energy beyond the last radial edge or behind the last layer is lost (the files have no overflow).
    ``incident_energies`` (N, 1) is the incident energy times ``incident_scale`` (1000: MeV); voxels hold
    the visible energy times ``visible_scale`` (1000 / 0.033: MeV divided by the files' sampling-fraction
    scale 0.033, whence the CaloChallenge voxel threshold 0.5 keV / 0.033 = 15.15 keV).
    """

    name: str
    sampling: Sampling
    n_layers: int
    layer_mm: float
    r_edges_mm: tuple[float, ...]
    n_alpha: int
    pid: int = 11
    particle_label: str = "electron"
    incident_scale: float = 1e3
    visible_scale: float = 1e3 / 0.033

    @property
    def depth_mm(self) -> float:
        return self.n_layers * self.layer_mm

    @property
    def n_r(self) -> int:
        return len(self.r_edges_mm) - 1

    @property
    def n_cells(self) -> int:
        return self.n_layers * self.n_alpha * self.n_r

    def cell_index(self, depth_mm: np.ndarray, r_mm: np.ndarray, phi: np.ndarray) -> np.ndarray:
        layer = np.floor(depth_mm / self.layer_mm).astype(np.int64)                 # (S,)
        r_bin = np.searchsorted(np.asarray(self.r_edges_mm), r_mm, side="right") - 1
        alpha = np.minimum(np.floor((phi + np.pi) * (self.n_alpha / (2 * np.pi))).astype(np.int64), self.n_alpha - 1)
        index = (layer * self.n_alpha + alpha) * self.n_r + r_bin
        return np.where((layer < self.n_layers) & (r_bin < self.n_r), index, -1)

    def layout(self, visible_gev: np.ndarray, energies_gev: np.ndarray) -> dict[str, np.ndarray]:
        return {"incident_energies": (np.asarray(energies_gev) * self.incident_scale).astype(np.float32).reshape(-1, 1),
                "showers": (visible_gev * self.visible_scale).astype(np.float32)}


GEOMETRIES: dict[str, Callable[[], Geometry]] = {}  # name -> factory
F = TypeVar("F", bound=Callable[[], Geometry])


def register(factory: F) -> F:
    """Register ``factory`` under its function name."""
    GEOMETRIES[factory.__name__] = factory
    return factory


def get_geometry(name: str) -> Geometry:
    """The registered geometry ``name``; :class:`ShowerUsageError` (a ``ValueError``) otherwise.

    Example:
        >>> get_geometry("calogan").n_cells, get_geometry("challenge2").n_cells
        (507, 6480)
    """
    if name not in GEOMETRIES:
        raise ShowerUsageError(f"unknown shower geometry {name!r} (known: {','.join(sorted(GEOMETRIES))})")
    return GEOMETRIES[name]()


@register
def calogan() -> GridGeometry:
    """CaloGAN (arXiv:1705.02355, 1712.10321): 80 layers of 2 mm Pb + 4 mm LAr (480 mm), read out in three
    depth ranges 90 / 347 / 43 mm (z < -150, < 197, ≤ 240 mm in its Geant4 frame) with 3×96 cells of
    160×5 mm, 12×12 of 40×40 mm and 12×6 of 40×80 mm over 480×480 mm; LAr deposits only (MeV), ``energy`` in GeV.
    """
    return GridGeometry(
        name="calogan",
        sampling=Sampling(LEAD, 2.0, LIQUID_ARGON, 4.0),
        layers=(GridLayer("layer_0", 90.0, (3, 96), (160.0, 5.0)),
                GridLayer("layer_1", 347.0, (12, 12), (40.0, 40.0)),
                GridLayer("layer_2", 43.0, (12, 6), (40.0, 80.0))),
    )


@register
def challenge2() -> CylinderGeometry:
    """CaloChallenge dataset 2 (Geant4 Par04 example, ``common_settings_lowgran.mac``): 90 layers of 1.4 mm W +
    0.3 mm Si read out as 45 layers of 3.4 mm, 9 radial bins of 4.65 mm (0.5 R_M of W) and 16 angular bins."""
    return CylinderGeometry(
        name="challenge2",
        sampling=Sampling(TUNGSTEN, 1.4, SILICON, 0.3),
        n_layers=45, layer_mm=3.4, n_alpha=16,
        r_edges_mm=tuple(round(4.65 * i, 6) for i in range(10)),
    )


def binning_xml(geometry: CylinderGeometry) -> str:
    """The text of a CaloChallenge binning file (``binning_dataset_2.xml`` for ``challenge2``).

    Example:
        >>> print(binning_xml(get_geometry("challenge2")).splitlines()[2])
              <Layer id="0" r_edges="0,4.65,9.3,13.95,18.6,23.25,27.9,32.55,37.2,41.85" n_bin_alpha="16" />
    """
    edges = ",".join(f"{r:g}" for r in geometry.r_edges_mm)
    lines = ["<Bins>", f'   <Bin pid="{geometry.pid}" name="{geometry.particle_label}">']
    lines += [f'      <Layer id="{i}" r_edges="{edges}" n_bin_alpha="{geometry.n_alpha}" />'
              for i in range(geometry.n_layers)]
    return "\n".join(lines + ["   </Bin>", "</Bins>"]) + "\n"
