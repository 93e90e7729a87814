"""Calorimeters as pure data: materials, sampling structures and the cell layouts of public shower datasets.

Materials carry the PDG constants; a :class:`Sampling` (absorber + active layer, repeated) gives the effective
quantities of hep-ex/0001020 (Grindhammer & Peters) that the GFlash simulator (:mod:`jetlab.generate.showers`)
and the shower readers share. Every geometry is a frozen dataclass with a ``sampling`` structure, a number
of readout cells, ``cell_index`` (spot position -> cell, -1 when the energy escapes), ``layout``
(per-cell visible energy -> the dataset's arrays), ``layer_shapes`` (the readout layers as (a, b) grids, in
the order of the flat voxel vector) and ``file_format`` (the reader of its public files). Geometries
register by name; ``get_geometry`` asks the registry.

Coordinates: the particle enters at the centre of the front face (x = y = 0, depth 0) along the depth
axis; ``depth_mm`` from the front face, ``r_mm`` from the axis, ``phi`` ∈ [-π, π) the azimuth (rad).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol, TypeVar

import numpy as np

from jetlab.errors import UsageError

__all__ = ["ES_MEV", "Material", "Sampling", "LEAD", "LIQUID_ARGON", "TUNGSTEN", "SILICON", "Geometry", "GridLayer",
           "GridGeometry", "CylinderGeometry", "ShowerUsageError", "GEOMETRIES", "register", "get_geometry",
           "calogan", "challenge2", "binning_xml"]

ES_MEV = 21.2  # scale energy E_s = m_e sqrt(4π/α) (GFlash's Es = 21.2 MeV)


@dataclass(frozen=True)
class Material:
    """One material, as tabulated by the PDG ("Atomic and nuclear properties of materials",
    https://pdg.lbl.gov/AtomicNuclearProperties/): X0 in g/cm², Molière radius in g/cm², critical
    energy of electrons (Rossi definition) in MeV, minimum ionization dE/dx in MeV cm²/g."""

    name: str
    z: float
    a: float              # g/mol
    density: float        # g/cm³
    x0: float             # g/cm²
    moliere: float        # g/cm²
    critical_mev: float   # MeV
    dedx_mip: float       # MeV cm²/g

    @property
    def x0_mm(self) -> float:
        return 10.0 * self.x0 / self.density

    @property
    def moliere_mm(self) -> float:
        return 10.0 * self.moliere / self.density


# PDG atomic and nuclear properties (pages "Lead (Pb)", "Liquid argon (Ar)", "Tungsten (W)", "Silicon (Si)"):
# X0 = 0.5612 cm, R_M = 1.602 cm for Pb; X0 = 14.00 cm, R_M = 9.043 cm for LAr (CaloGAN's Geant4 liquid
# argon has 1.390 g/cm³, 0.4 % less); X0 = 0.3504 cm, R_M = 0.9327 cm for W; X0 = 9.370 cm, R_M = 4.944 cm for Si.
LEAD = Material("Pb", 82, 207.2, 11.35, 6.37, 18.18, 7.43, 1.122)
LIQUID_ARGON = Material("LAr", 18, 39.948, 1.396, 19.55, 12.62, 32.84, 1.508)
TUNGSTEN = Material("W", 74, 183.84, 19.30, 6.76, 18.00, 7.97, 1.145)
SILICON = Material("Si", 14, 28.0855, 2.329, 21.82, 11.51, 40.19, 1.664)


@dataclass(frozen=True)
class Sampling:
    """A sampling calorimeter: a ``passive_mm`` absorber layer and an ``active_mm`` readout layer, repeated.

    Effective quantities follow hep-ex/0001020 (Geant4's ``ComputeZAX0EFFetc``) with mass fractions w_i:
    Z_eff = Σ w_i Z_i, 1/X0_eff = Σ w_i / X0_i, R_M,eff = E_s / Σ (w_i E_c,i / X0_i),
    E_c,eff = X0_eff Σ (w_i E_c,i / X0_i) (X0 in g/cm² here; Geant4 mixes lengths with mass fractions).

    Example:
        >>> s = Sampling(LEAD, 2.0, LIQUID_ARGON, 4.0)
        >>> round(s.x0_eff_mm, 2), round(s.moliere_eff_mm, 1), round(s.ehat, 3)
        (15.59, 35.5, 0.691)
    """

    passive: Material
    passive_mm: float
    active: Material
    active_mm: float

    @property
    def period_mm(self) -> float:
        return self.passive_mm + self.active_mm

    @cached_property
    def _weights(self) -> tuple[float, float]:
        mp, ma = self.passive_mm * self.passive.density, self.active_mm * self.active.density
        return mp / (mp + ma), ma / (mp + ma)

    def _mix(self, name: str) -> float:
        wp, wa = self._weights
        return wp * getattr(self.passive, name) + wa * getattr(self.active, name)

    @property
    def z_eff(self) -> float:
        return self._mix("z")

    @property
    def density_eff(self) -> float:
        return (self.passive_mm * self.passive.density + self.active_mm * self.active.density) / self.period_mm

    @cached_property
    def x0_eff(self) -> float:
        """Effective radiation length in g/cm²."""
        wp, wa = self._weights
        return 1.0 / (wp / self.passive.x0 + wa / self.active.x0)

    @cached_property
    def _ec_over_x0(self) -> float:
        wp, wa = self._weights
        return wp * self.passive.critical_mev / self.passive.x0 + wa * self.active.critical_mev / self.active.x0

    @property
    def x0_eff_mm(self) -> float:
        return 10.0 * self.x0_eff / self.density_eff

    @property
    def moliere_eff_mm(self) -> float:
        return 10.0 * ES_MEV / self._ec_over_x0 / self.density_eff

    @property
    def critical_eff_gev(self) -> float:
        return 1e-3 * self.x0_eff * self._ec_over_x0

    @property
    def sampling_frequency(self) -> float:
        """F_s = X0_eff / (d_passive + d_active): sampling layers per radiation length."""
        return self.x0_eff_mm / self.period_mm

    @property
    def ehat(self) -> float:
        """ê = e/mip = 1 / (1 + 0.007 (Z_passive - Z_active))."""
        return 1.0 / (1.0 + 0.007 * (self.passive.z - self.active.z))

    @property
    def mip_fraction(self) -> float:
        """Fraction of a minimum-ionizing particle's energy loss in the active layer."""
        loss_a = self.active_mm * self.active.density * self.active.dedx_mip
        return loss_a / (loss_a + self.passive_mm * self.passive.density * self.passive.dedx_mip)

    @property
    def electron_fraction(self) -> float:
        """Visible fraction of an electromagnetic shower's energy: ê · f_mip."""
        return self.ehat * self.mip_fraction

    @property
    def stochastic_term(self) -> float:
        """c in σ/E = c/√(E/GeV): 2.7 % √(d_active[mm] / f_mip) (Amaldi, Phys. Scripta 23 (1981) 409;
        Fabjan & Gianotti, Rev. Mod. Phys. 75 (2003) 1243). GFlash takes c as an input (Geant4's
        default 0.11 is the H1 LAr value); here it follows from the layer structure."""
        return 0.027 * np.sqrt(self.active_mm / self.mip_fraction)


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

    @property
    def file_format(self) -> str: ...

    @property
    def layer_shapes(self) -> tuple[tuple[int, int], ...]: ...

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
    file_format: str = "calogan"

    @property
    def layer_shapes(self) -> tuple[tuple[int, int], ...]:
        """(nx, ny) of each layer; the flat voxel vector is the layers' cells in order, each row-major."""
        return tuple(layer.shape for layer in self.layers)

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
    file_format: str = "calochallenge"

    @property
    def layer_shapes(self) -> tuple[tuple[int, int], ...]:
        """(n_alpha, n_r) of each layer: the flat voxel index is (layer · n_alpha + alpha) · n_r + r."""
        return ((self.n_alpha, self.n_r),) * self.n_layers

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
