"""High-level features of calorimeter showers, as the CaloChallenge evaluation defines them.

Krause et al., "CaloChallenge 2022: a community challenge for fast calorimeter simulation",
arXiv:2410.21611 (section 3; the challenge's ``HighLevelFeatures.py``), reimplemented on flat arrays:

- ``voxels (N, V)``: visible energy per voxel in MeV, flat, layer after layer (:class:`CaloLayout` says
  where each layer starts and where each voxel's centre lies);
- ``incident (N,)``: incident energy in **MeV** (CaloGAN files store GeV: :meth:`CaloLayout.arrays` converts).

Per shower and layer l, with voxel energies E_i and centres (x_i, y_i) (mm) of the voxels i ∈ l:

- E_l = Σ_i E_i, E_tot = Σ_l E_l (both also divided by E_inc);
- centre of energy ⟨x⟩_l = Σ_i E_i x_i / E_l (same for y); 0 for an empty layer;
- width σ_x,l = sqrt(Σ_i E_i (x_i - ⟨x⟩_l)² / E_l) = sqrt(⟨x²⟩_l - ⟨x⟩_l²) (same for y); 0 for an empty layer;
- sparsity s_l = 1 - (number of voxels with E_i > threshold) / (voxels in l): the fraction of *empty* voxels,
  the challenge's definition (threshold 0 by default, as there).

Coordinates: CaloGAN cells at their (x, y) centres; CaloChallenge cylinders at the challenge's Cartesian
x = r_c cos α_c, y = r_c sin α_c of the radial-bin midpoint r_c and the angular-bin midpoint α_c, bins of
α ∈ [-π, π) (its ``XMLHandler``). The CaloGAN overflow energies have no position and are not voxels here.

Example:
    >>> layout = grid_layout([(1, 3)], [(10.0, 10.0)])        # one layer, three cells at y = -10, 0, 10 mm
    >>> f = shower_features(np.array([[0.0, 2.0, 2.0]]), np.array([8.0]), layout)
    >>> [round(float(a[0, 0]), 3) for a in (f.e_layer, f.centre_y, f.width_y, f.sparsity)]
    [4.0, 5.0, 5.0, 0.333]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from jetlab.errors import FormatError, UsageError

__all__ = ["CHALLENGE_THRESHOLD_MEV", "CaloLayout", "ShowerArrays", "ShowerFeatures", "apply_threshold",
           "check_showers", "cylinder_layout", "grid_layout", "layout_for", "layout_from_geometry", "low_level",
           "shower_features", "voxel_energies"]

CHALLENGE_THRESHOLD_MEV = 0.5e-3 / 0.033
"""The CaloChallenge datasets 2 and 3 read-out threshold: 0.5 keV of deposit over the 0.033 scale (15.15 keV)."""


class ShowerArrays(NamedTuple):
    """A sample of showers: ``voxels (N, V)`` MeV and ``incident (N,)`` MeV; a plain ``(voxels, incident)``
    tuple works wherever this is asked for."""

    voxels: np.ndarray
    incident: np.ndarray


@dataclass(frozen=True, eq=False)
class CaloLayout:
    """Where the voxels of a flat shower vector sit.

    Arguments:
        name: the geometry's name.
        edges: (L + 1,) layer boundaries: layer l is ``voxels[:, edges[l]:edges[l+1]]``.
        x_mm, y_mm: (V,) voxel centres.
        shapes: per layer, the (rows, cols) its voxels reshape to: (nx, ny) cells of a grid, (n_α, n_r) of a cylinder.
        cell_edges: per layer, the bin edges along rows and cols: x and y (mm) of a grid, α (rad) and r (mm)
            of a cylinder.
        polar: True for cylinders.
        keys: dataset keys of the layers (CaloGAN's ``layer_0``, ...), or () for one flat ``showers`` array.
        incident_to_mev: factor from the dataset's incident-energy unit to MeV (1000 for CaloGAN's GeV).
    """

    name: str
    edges: tuple[int, ...]
    x_mm: np.ndarray
    y_mm: np.ndarray
    shapes: tuple[tuple[int, int], ...]
    cell_edges: tuple[tuple[np.ndarray, np.ndarray], ...]
    polar: bool
    keys: tuple[str, ...] = ()
    incident_to_mev: float = 1.0

    @property
    def n_layers(self) -> int:
        return len(self.shapes)

    @property
    def n_voxels(self) -> int:
        return self.edges[-1]

    def layer(self, voxels: np.ndarray, index: int) -> np.ndarray:
        """Voxels of layer ``index`` as images: (N, V) -> (N, rows, cols)."""
        return voxels[:, self.edges[index]:self.edges[index + 1]].reshape(len(voxels), *self.shapes[index])

    def arrays(self, data: Mapping[str, np.ndarray]) -> ShowerArrays:
        """Flat (voxels, incident MeV) from a dataset's arrays (CaloGAN: ``energy`` + ``layer_*``, overflow
        dropped; CaloChallenge: ``incident_energies`` + ``showers``)."""
        if self.keys:
            voxels = np.concatenate([np.asarray(data[k]).reshape(len(data[k]), -1) for k in self.keys], axis=1)
            incident = np.asarray(data["energy"])
        else:
            voxels, incident = np.asarray(data["showers"]), np.asarray(data["incident_energies"])
        return ShowerArrays(voxels, incident.reshape(-1).astype(np.float64) * self.incident_to_mev)


def _centres(edges: np.ndarray) -> np.ndarray:
    return 0.5 * (edges[:-1] + edges[1:])


def grid_layout(shapes: Sequence[tuple[int, int]], cells_mm: Sequence[tuple[float, float]], name: str = "grid",
                keys: tuple[str, ...] = (), incident_to_mev: float = 1.0) -> CaloLayout:
    """Layers of (nx, ny) rectangular cells of (dx, dy) mm centred on the axis; voxel index ix · ny + iy."""
    xs, ys, cell_edges = [], [], []
    for (nx, ny), (dx, dy) in zip(shapes, cells_mm):
        ex, ey = (np.arange(n + 1) * d - n * d / 2 for n, d in ((nx, dx), (ny, dy)))
        gx, gy = np.meshgrid(_centres(ex), _centres(ey), indexing="ij")          # (nx, ny) each
        xs.append(gx.ravel())
        ys.append(gy.ravel())
        cell_edges.append((ex, ey))
    edges = tuple(int(e) for e in np.cumsum([0] + [nx * ny for nx, ny in shapes]))
    return CaloLayout(name, edges, np.concatenate(xs), np.concatenate(ys), tuple((int(a), int(b)) for a, b in shapes),
                      tuple(cell_edges), polar=False, keys=keys, incident_to_mev=incident_to_mev)


def cylinder_layout(n_layers: int, r_edges_mm: Sequence[float], n_alpha: int, name: str = "cylinder",
                    incident_to_mev: float = 1.0) -> CaloLayout:
    """Layers of ``n_alpha`` angular × len(r_edges) - 1 radial bins; voxel index (l · n_α + α) · n_r + r."""
    r_edges = np.asarray(r_edges_mm, np.float64)
    a_edges = np.linspace(-np.pi, np.pi, n_alpha + 1)
    alpha, r = np.meshgrid(_centres(a_edges), _centres(r_edges), indexing="ij")  # (n_α, n_r): r fastest
    x, y = np.tile((r * np.cos(alpha)).ravel(), n_layers), np.tile((r * np.sin(alpha)).ravel(), n_layers)
    per_layer = alpha.size
    return CaloLayout(name, tuple(range(0, per_layer * (n_layers + 1), per_layer)), x, y,
                      ((n_alpha, len(r_edges) - 1),) * n_layers, ((a_edges, r_edges),) * n_layers, polar=True,
                      incident_to_mev=incident_to_mev)


def layout_from_geometry(geometry: Any) -> CaloLayout:
    """The layout of a jetlab shower geometry: one with ``layers`` of ``shape``/``cell_mm`` (CaloGAN-like grids,
    incident energies in GeV) or with ``n_layers``, ``r_edges_mm``, ``n_alpha`` (CaloChallenge cylinders, MeV)."""
    if hasattr(geometry, "layers"):
        return grid_layout([lay.shape for lay in geometry.layers], [lay.cell_mm for lay in geometry.layers],
                           geometry.name, tuple(lay.name for lay in geometry.layers),
                           1e3 / getattr(geometry, "incident_scale", 1.0))
    if all(hasattr(geometry, a) for a in ("n_layers", "r_edges_mm", "n_alpha")):
        return cylinder_layout(geometry.n_layers, geometry.r_edges_mm, geometry.n_alpha, geometry.name,
                               1e3 / getattr(geometry, "incident_scale", 1e3))
    raise UsageError(f"shower geometry {getattr(geometry, 'name', geometry)!r} has neither grid layers nor "
                     "cylinder bins")


def layout_for(name: str) -> CaloLayout:
    """The layout of the registered shower geometry ``name`` (``"calogan"``, ``"challenge2"``)."""
    from jetlab.physics.calorimeter import get_geometry

    return layout_from_geometry(get_geometry(name))


def check_showers(voxels: np.ndarray, incident: np.ndarray, layout: CaloLayout,
                  what: str = "showers") -> ShowerArrays:
    """``(voxels, incident)`` as float64 arrays; :class:`~jetlab.errors.FormatError` naming ``what`` when the
    shapes do not match ``layout`` or an energy is NaN, negative (voxels) or ≤ 0 (incident)."""
    v, e = np.asarray(voxels, np.float64), np.asarray(incident, np.float64).reshape(-1)
    if v.ndim != 2 or v.shape[1] != layout.n_voxels or len(v) != len(e):
        raise FormatError(f"{what}: voxels {v.shape} and incident energies {e.shape} do not match the "
                          f"{layout.name} layout of {layout.n_voxels} voxels")
    if len(v) == 0:
        raise FormatError(f"{what}: no showers")
    bad = int((~(v >= 0)).sum())
    if bad:
        raise FormatError(f"{what}: {bad} voxel energies are negative or NaN")
    if not np.all(e > 0) or not np.all(np.isfinite(e)):
        raise FormatError(f"{what}: incident energies must be finite and > 0")
    return ShowerArrays(v, e)


def apply_threshold(voxels: np.ndarray, threshold_mev: float) -> np.ndarray:
    """A copy of ``voxels`` with every voxel at or below ``threshold_mev`` set to 0 (a read-out threshold)."""
    v = np.asarray(voxels, np.float64)
    return np.where(v > threshold_mev, v, 0.0)


def low_level(voxels: np.ndarray, incident: np.ndarray) -> np.ndarray:
    """The challenge's low-level classifier inputs, (N, 1 + V): log10 E_inc (MeV), then 100 · E_i / E_inc."""
    e = np.asarray(incident, np.float64).reshape(-1, 1)                            # (N, 1)
    return np.hstack([np.log10(e), 100.0 * np.asarray(voxels, np.float64) / e])


def voxel_energies(voxels: np.ndarray, threshold_mev: float = 0.0) -> np.ndarray:
    """All voxel energies above ``threshold_mev`` of all showers, flat (the challenge's voxel-energy spectrum)."""
    v = np.asarray(voxels, np.float64).ravel()
    return v[v > threshold_mev]


@dataclass(frozen=True)
class ShowerFeatures:
    """Per-shower features (module docstring); every per-layer array is (N, L)."""

    e_inc: np.ndarray            # (N,) MeV
    e_layer: np.ndarray          # (N, L) MeV
    centre_x: np.ndarray         # (N, L) mm
    centre_y: np.ndarray
    width_x: np.ndarray
    width_y: np.ndarray
    sparsity: np.ndarray         # (N, L) fraction of voxels at or below the threshold
    layer_voxels: np.ndarray     # (L,) voxels per layer

    @property
    def e_tot(self) -> np.ndarray:
        return self.e_layer.sum(1)

    def columns(self) -> dict[str, np.ndarray]:
        """Every scalar feature by name, (N,) each: ``etot_einc``, then ``elayer_einc_<l>``, ``centre_x_<l>``,
        ``centre_y_<l>``, ``width_x_<l>``, ``width_y_<l>``, ``sparsity_<l>`` for each layer l."""
        out = {"etot_einc": self.e_tot / self.e_inc}
        per_layer = {"elayer_einc": self.e_layer / self.e_inc[:, None], "centre_x": self.centre_x,
                     "centre_y": self.centre_y, "width_x": self.width_x, "width_y": self.width_y,
                     "sparsity": self.sparsity}
        for kind, values in per_layer.items():
            out.update({f"{kind}_{k}": values[:, k] for k in range(values.shape[1])})
        return out

    def high_level(self) -> np.ndarray:
        """The challenge's high-level classifier inputs, (N, 1 + 5 L): log10 E_inc, log10(E_l + 1e-8) (MeV),
        then ⟨x⟩_l, ⟨y⟩_l, σ_x,l, σ_y,l divided by 100 mm."""
        return np.hstack([np.log10(self.e_inc)[:, None], np.log10(self.e_layer + 1e-8),
                          self.centre_x / 100, self.centre_y / 100, self.width_x / 100, self.width_y / 100])


def shower_features(voxels: np.ndarray, incident: np.ndarray, layout: CaloLayout,
                    threshold_mev: float = 0.0) -> ShowerFeatures:
    """Features of showers ``voxels (N, V)`` MeV of ``incident (N,)`` MeV (module docstring); vectorized, no
    loop over showers. ``threshold_mev`` decides which voxels count as hit for the sparsity only."""
    v, e = check_showers(voxels, incident, layout)
    starts = np.asarray(layout.edges[:-1])

    def per_layer(a: np.ndarray) -> np.ndarray:
        return np.add.reduceat(a, starts, axis=1)                                  # (N, V) -> (N, L)

    e_layer = per_layer(v)
    safe = np.where(e_layer > 0, e_layer, 1.0)
    n_layer = np.diff(layout.edges)                                                # (L,)
    of_voxel = np.repeat(np.arange(len(n_layer)), n_layer)                         # (V,) layer of each voxel
    centre, width = [], []
    for pos in (layout.x_mm, layout.y_mm):
        mean = per_layer(v * pos) / safe                                            # (N, L)
        var = per_layer(v * (pos - mean[:, of_voxel]) ** 2) / safe                  # about the centre: no cancellation
        centre.append(mean)
        width.append(np.sqrt(var))
    sparsity = 1.0 - per_layer((v > threshold_mev).astype(np.float64)) / n_layer
    return ShowerFeatures(e_inc=e, e_layer=e_layer, centre_x=centre[0], centre_y=centre[1], width_x=width[0],
                          width_y=width[1], sparsity=sparsity, layer_voxels=n_layer)
