"""``voxels``: calorimeter showers as model inputs, with the invertible transform generative models sample through.

Per shower of incident energy ``E`` (GeV) with voxel energies ``v_i`` (MeV, the geometry's public flat order),
the energy fraction of each voxel is ``u_i = v_i / (1000 E)``. The batch holds

=========== ============ ================================================================================
key         shape        meaning
=========== ============ ================================================================================
``x``       (B, V)       ``T(u)``: ``log``: ``ln(u + ε)`` (default; zeros map to ``ln ε``); ``fraction``: ``u``
``energy``  (B,)         ``ln(E / GeV)``, the condition (models standardize it with the fitted mean and std)
``layers``  (B, L)       layer energy fractions ``Σ_{i ∈ layer k} u_i``
``label``   (B,)         the particle (scheme ``particles``: e+, gamma, pi+, pi0)
=========== ============ ================================================================================

The inverse (:func:`from_normalized`, what samplers call) is ``u = exp(x) − ε`` for ``log`` and ``u = x`` for
``fraction``, clipped to [0, 1] (no voxel holds more than the incident energy), with fractions below ``2ε``
set to 0 (the transform's resolution: an empty voxel dequantized by ``u + ε·U(0, 1)``, or a model's ``x`` a
little above that, stays empty; real deposits below 2ε, 0.1 % of the hit cells of simulated CaloGAN showers at
ε = 10⁻⁷, are lost) and, for generated showers, below the fitted ``floor``: the 1 % quantile of the hit
fractions of the training showers (:func:`hit_floor`; a generated voxel smaller than 99 % of the real deposits
is a network's residue in an empty voxel, not a hit: on CaloGAN showers it takes a flow-matching model's
occupied voxels from 30 % to 17 % against 15 % simulated, removing 0.02 % of its energy); then ``v = 1000 E
u``. Fitted (``RUN/representation.json``): the geometry, the mean, standard deviation, minimum and maximum of
``ln E`` over the training showers, and the floor. Models read the sizes, the transform and the floor from
``InputDims.extra`` (:func:`shower_dims`).

Example:
    >>> import numpy as np
    >>> u = np.array([[0.0, 1e-3, 0.2]], np.float32)
    >>> x = to_normalized(u * 1e4, np.array([10.0], np.float32), "log", 1e-7)
    >>> np.allclose(from_normalized(x, np.array([10.0], np.float32), "log", 1e-7), u * 1e4, rtol=1e-5)
    True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeVar

import numpy as np
import torch
from torch import Tensor

from jetlab.errors import UsageError
from jetlab.io.showers import Showers
from jetlab.physics.calorimeter import get_geometry
from jetlab.represent.registry import Representation, RepresentationConfig, register_representation

__all__ = ["TRANSFORMS", "to_normalized", "from_normalized", "hit_floor", "shower_dims", "Voxels"]

TRANSFORMS = ("log", "fraction")
Array = TypeVar("Array", np.ndarray, Tensor)


def to_normalized(voxels_mev: Array, incident_gev: Array, transform: str = "log", eps: float = 1e-7) -> Array:
    """``x = T(v / (1000 E))``: voxels (B, V) MeV and incident energies (B,) GeV → (B, V), numpy or torch."""
    u = voxels_mev / (1000.0 * incident_gev[:, None])  # (B, V) energy fractions
    if transform == "fraction":
        return u
    return np.log(u + eps) if isinstance(u, np.ndarray) else torch.log(u + eps)


def from_normalized(x: Array, incident_gev: Array, transform: str = "log", eps: float = 1e-7,
                    floor: float = 0.0) -> Array:
    """The inverse of :func:`to_normalized`: voxel energies (B, V) MeV, never negative (see the module docstring);
    fractions below ``max(2ε, floor)`` are empty voxels."""
    if transform != "fraction":
        x = np.exp(x.clip(max=0.0)) - eps if isinstance(x, np.ndarray) else torch.exp(x.clamp(max=0.0)) - eps
    u = x.clip(0.0, 1.0) if isinstance(x, np.ndarray) else x.clamp(0.0, 1.0)  # (B, V) a voxel holds at most E
    u = u * (u >= max(2 * eps, floor))  # within the resolution (or below the smallest real deposit) of 0: empty
    return u * (1000.0 * incident_gev[:, None])  # (B, V) MeV


def hit_floor(data: Showers, quantile: float = 1e-2, max_showers: int = 2000) -> float:
    """The smallest energy fraction a hit voxel holds in ``data``: the ``quantile`` of the nonzero fractions
    v / (1000 E) of (up to ``max_showers``) showers; 0 without hits."""
    v, e = data.voxels[:max_showers].astype(np.float64), data.incident[:max_showers].astype(np.float64)
    u = v / (1000.0 * e[:, None])  # (n, V)
    hits = u[u > 0]
    return float(np.quantile(hits, quantile)) if hits.size else 0.0


def shower_dims(geometry: str = "calogan", transform: str = "log", eps: float = 1e-7,
                log_energy: tuple[float, float, float, float] = (math.log(10.0), 1.0, 0.0, math.log(100.0)),
                floor: float = 0.0) -> dict[str, Any]:
    """``InputDims.extra`` of showers of ``geometry``: ``voxels`` V, ``layers`` L, ``layer_shapes`` [[a, b], ...],
    the transform, ``log_energy`` (mean, std, min, max of ln E/GeV) and the hit ``floor`` (:func:`hit_floor`).
    The defaults (CaloGAN, 1-100 GeV) serve models built without data (``jetlab models``)."""
    shapes = [list(s) for s in get_geometry(geometry).layer_shapes]
    return {"geometry": geometry, "voxels": sum(a * b for a, b in shapes), "layers": len(shapes),
            "layer_shapes": shapes, "transform": transform, "eps": float(eps),
            "log_energy": [float(v) for v in log_energy], "floor": float(floor)}


class Voxels(Representation):
    """``voxels``: ``x`` (B, V) transformed energy fractions, ``energy`` (B,) ln E, ``layers`` (B, L) fractions."""

    name = "voxels"
    options: Mapping[str, Any] = {"voxel_transform": "log", "voxel_eps": 1e-7}

    def check(self, config: RepresentationConfig) -> None:
        if config.voxel_transform not in TRANSFORMS or not 0 < float(config.voxel_eps) < 1:
            raise UsageError(f"representation: voxel_transform must be one of {', '.join(TRANSFORMS)} and "
                             f"0 < voxel_eps < 1 (got {config.voxel_transform!r}, {config.voxel_eps!r})")

    def fit(self, config: RepresentationConfig, data: Showers) -> dict[str, Any]:
        if not isinstance(data, Showers):
            raise UsageError(f"representation 'voxels' needs calorimeter showers, not {type(data).__name__}")
        ln_e = np.log(data.incident.astype(np.float64))
        std = float(ln_e.std()) if len(ln_e) > 1 else 1.0
        stats = [float(ln_e.mean()), max(std, 1e-3), float(ln_e.min()), float(ln_e.max())] if len(ln_e) else None
        return {"geometry": data.geometry, "log_energy": stats or shower_dims()["log_energy"],
                "floor": hit_floor(data)}

    def columns(self, config: RepresentationConfig, state: Mapping[str, Any], data: Showers) -> dict[str, Tensor]:
        if not isinstance(data, Showers):
            raise UsageError(f"representation 'voxels' needs calorimeter showers, not {type(data).__name__}")
        incident = data.incident.astype(np.float32)  # (B,) GeV
        x = to_normalized(data.voxels.astype(np.float32), incident, config.voxel_transform, config.voxel_eps)
        layers = data.layer_energies() / (1000.0 * incident[:, None])  # (B, L)
        return {"x": torch.from_numpy(np.ascontiguousarray(x, np.float32)),
                "energy": torch.from_numpy(np.log(incident)),
                "layers": torch.from_numpy(layers.astype(np.float32))}

    def dims(self, config: RepresentationConfig, state: Mapping[str, Any]) -> dict[str, Any]:
        stats = state.get("log_energy") or shower_dims()["log_energy"]
        return {"extra": shower_dims(state.get("geometry", "calogan"), config.voxel_transform,
                                     float(config.voxel_eps), tuple(stats), float(state.get("floor", 0.0)))}


register_representation(Voxels())
