"""``detector_map``: data-quality maps as model inputs, each channel normalized by the good reference runs.

Per map ``m`` (C, H, W) with reference mean ``r`` and standard deviation ``σ`` per detector channel::

    x = clip((m − r) / (σ + ε), −clip, clip)        ε = 1e-3 · max(σ) of each channel; 0 where r = σ = 0

so a good map is ~N(0, 1) noise plus the correlated lumisection-to-lumisection changes (beam position,
pile-up), and a fault stands out as a local excursion.

=========== ====================== ===================================================================
option      default                meaning
=========== ====================== ===================================================================
map_channels [0]                   which channels (0 occupancy, 1 energy) ``x`` holds
map_flat     False                 True: ``x`` (B, C·H·W), for the dense ``ae`` / ``vae``
map_clip     20.0                  the normalized values' bound
=========== ====================== ===================================================================

Batch: ``x`` (B, C, H, W) (``cae`` reads the C channels as its input channels and needs H = W divisible by 4:
the calorimeter's 12 × 12 and the tracker's 16 × 16 are) or (B, C·H·W) flat; ``label`` (B,) from the batch
builder. ``dims`` gives ``image_bins`` = H and ``hlf`` = C·H·W, so image and dense autoencoders are built for
these maps, and ``extra`` the detector and shape; fitted: the detector and map shape, to refuse maps of another
geometry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from jetlab.errors import FormatError, UsageError
from jetlab.io.maps import Maps
from jetlab.represent.registry import Representation, RepresentationConfig, register_representation

__all__ = ["DetectorMap", "normalized_maps"]


def normalized_maps(maps: Maps, channels: tuple[int, ...] = (0,), clip: float = 20.0) -> np.ndarray:
    """(N, C', H, W) float32 pulls of ``maps`` against their reference (the module docstring's ``x``)."""
    idx = list(channels)
    ref, std = maps.reference[idx], maps.reference_std[idx]  # (C', H, W)
    eps = 1e-3 * std.reshape(len(idx), -1).max(axis=1)[:, None, None] + 1e-12  # (C', 1, 1)
    x = (maps.maps[:, idx] - ref) / (std + eps)  # (N, C', H, W)
    x = np.where((ref == 0) & (std == 0), 0.0, x)
    return np.clip(x, -clip, clip).astype(np.float32)


class DetectorMap(Representation):
    """``detector_map``: ``x`` (B, C, H, W) or (B, C·H·W) reference-normalized detector maps."""

    name = "detector_map"
    options: Mapping[str, Any] = {"map_channels": (0,), "map_flat": False, "map_clip": 20.0}
    serves = ("image", "hlf")  # the inputs of the image (cae) and dense (ae, vae) autoencoders

    def check(self, config: RepresentationConfig) -> None:
        ch = config.map_channels
        if not ch or any(not isinstance(c, int) or c < 0 for c in ch) or not float(config.map_clip) > 0:
            raise UsageError(f"representation: map_channels must be channel indices (0 occupancy, 1 energy) and "
                             f"map_clip > 0, got {list(ch)!r}, {config.map_clip!r}")

    def _maps(self, config: RepresentationConfig, data: Any) -> Maps:
        if not isinstance(data, Maps):
            raise UsageError(f"representation 'detector_map' needs detector maps (jetlab dqm generate), "
                             f"not {type(data).__name__}")
        if max(config.map_channels) >= data.shape[0]:
            raise UsageError(f"representation: map_channels {list(config.map_channels)} but the {data.detector} "
                             f"maps have {data.shape[0]} channel(s)")
        return data

    def fit(self, config: RepresentationConfig, data: Any) -> dict[str, Any]:
        maps = self._maps(config, data)
        return {"detector": maps.detector, "shape": list(maps.shape)}

    def columns(self, config: RepresentationConfig, state: Mapping[str, Any], data: Any) -> dict[str, Tensor]:
        maps = self._maps(config, data)
        if state.get("shape") and (list(maps.shape) != list(state["shape"]) or maps.detector != state["detector"]):
            raise FormatError(f"{maps.meta.get('path', 'maps')}: {maps.detector} maps of shape {maps.shape}, the "
                              f"run was trained on {state['detector']} maps of shape {tuple(state['shape'])}")
        x = normalized_maps(maps, tuple(config.map_channels), float(config.map_clip))  # (B, C', H, W)
        if config.map_flat:
            x = x.reshape(len(x), -1)  # (B, C'·H·W)
        return {"x": torch.from_numpy(np.ascontiguousarray(x))}

    def dims(self, config: RepresentationConfig, state: Mapping[str, Any]) -> dict[str, Any]:
        c, h, w = state.get("shape") or (1, 12, 12)
        n = len(config.map_channels)
        return {"image_bins": int(h), "hlf": int(n * h * w),
                "extra": {"detector": state.get("detector", "calorimeter"), "map_shape": [n, int(h), int(w)]}}


register_representation(DetectorMap())
