"""``shower_shapes``: the photon-identification variables of a shower (:mod:`jetlab.physics.shower_shapes`) + ln E.

For geometries of three rectangular-cell layers, strips first (CaloGAN: 3×96 strips, 12×12 middle, 12×6 back):
``x`` (B, 13) = the 12 variables of :data:`~jetlab.physics.shower_shapes.SHOWER_SHAPES` and ``ln(E / GeV)``,
standardized with the mean and standard deviation fitted on the training showers (trees do not care; the dense
``mlp`` does: ``serves = ("hlf",)``; on showers a run of an ``hlf`` model that names no representation gets this
one). ``dims``: ``hlf`` = 13. The baseline ``shower_bdt`` reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from jetlab.errors import UsageError
from jetlab.io.showers import Showers
from jetlab.physics.calorimeter import GridGeometry, get_geometry
from jetlab.physics.shower_shapes import SHOWER_SHAPES, shower_shapes
from jetlab.represent.registry import Representation, RepresentationConfig, register_representation

__all__ = ["FEATURES", "shower_features", "ShowerShapes"]

FEATURES = (*SHOWER_SHAPES, "ln_energy")


def shower_features(showers: Showers) -> np.ndarray:
    """(N, 13) float64: the shower shapes and ln E of ``showers`` in :data:`FEATURES` order, unscaled."""
    geometry = get_geometry(showers.geometry)
    if not isinstance(geometry, GridGeometry) or len(geometry.layers) != 3:
        raise UsageError(f"representation 'shower_shapes' needs three layers of rectangular cells, strips first "
                         f"(calogan), not geometry {showers.geometry!r}")
    incident = showers.incident.astype(np.float64)
    v = shower_shapes(showers.layer(0), showers.layer(1), showers.layer(2), 1000.0 * incident)  # cells in MeV
    return np.stack([*v.values(), np.log(incident)], axis=1)


class ShowerShapes(Representation):
    """``shower_shapes``: ``x`` (B, 13) standardized shower shapes and ln E."""

    name = "shower_shapes"
    serves = ("hlf",)
    default_for = ("particles",)

    def _features(self, data: Any) -> np.ndarray:
        if not isinstance(data, Showers):
            raise UsageError(f"representation 'shower_shapes' needs calorimeter showers, not {type(data).__name__}")
        return shower_features(data)

    def fit(self, config: RepresentationConfig, data: Any) -> dict[str, Any]:
        x = self._features(data)
        std = x.std(axis=0) if len(x) > 1 else np.ones(x.shape[1])
        return {"features": list(FEATURES), "mean": x.mean(axis=0).tolist() if len(x) else [0.0] * len(FEATURES),
                "std": np.where(std > 0, std, 1.0).tolist()}

    def columns(self, config: RepresentationConfig, state: Mapping[str, Any], data: Any) -> dict[str, Tensor]:
        x = (self._features(data) - np.asarray(state["mean"])) / np.asarray(state["std"])   # (B, 13)
        return {"x": torch.from_numpy(x.astype(np.float32))}

    def dims(self, config: RepresentationConfig, state: Mapping[str, Any]) -> dict[str, Any]:
        return {"hlf": len(FEATURES)}


register_representation(ShowerShapes())
