"""``calo_image``: the layers of a shower as one multi-channel image on a common grid, for image classifiers.

A CNN (or ViT) needs its input on one pixel grid, at one scale for every shower, with no information thrown away.
The readout layers of a rectangular-cell geometry (CaloGAN: strips 3×96, middle 12×12, back 12×6 over the same
480 × 480 mm) are put on a G × G grid (``calo_grid``, default 12: the middle layer's cells), axis by axis:

- an axis of n ≤ G cells (G divisible by n) is spread: each cell's energy is shared evenly by its G/n pixels;
- an axis of n ≥ G cells (n divisible by G) is folded into channels (space-to-depth, "pixel unshuffle",
  arXiv:1609.05158): sub-cell f of each pixel is channel f, so CaloGAN's 96 strips become 8 channels of
  12 × 12 pixels and their 5 mm granularity (the π⁰ → γγ signature) survives. ``calo_fold: false`` sums
  the sub-cells instead (one channel per layer).

Each pixel holds its energy over the shower's total visible energy (the image sums to 1, as a jet image does), so
every shower has one scale; then each channel c is standardized, (x − μ_c) / σ_c with μ_c, σ_c its mean and
standard deviation over the pixels of the training showers: the strips hold ~15 % of the energy spread over 8
channels, and unscaled they are a small perturbation of the middle layer for the first convolution (a ResNet on the
raw fractions did not learn γ from π⁰ at all). With ``calo_energy`` (default true) a last, constant channel holds
the standardized ``(ln E − μ) / σ`` of the incident energy (μ, σ fitted on the training showers), the one number a
classifier of shapes needs besides the shapes: the photons of a π⁰ are 2 m D / E apart.

Batch: ``x`` (B, C, G, G) float32, C = Σ_layers (fold factors) (+ 1): 10 + 1 for CaloGAN; ``label`` from the
batch builder. ``dims``: ``image_bins`` = G, ``image_channels`` = C, so ``cnn``, ``resnet``, ``vit`` and
``vit_hybrid`` run on showers unchanged (``serves = ("image",)``); with data of scheme ``particles`` a run that
names no representation gets this one in place of the jet image.

Example:
    >>> import numpy as np
    >>> from jetlab.io.showers import Showers
    >>> s = Showers(np.ones((2, 504), np.float32), np.array([10.0, 20.0], np.float32), np.zeros(2, np.int64), "calogan")
    >>> x = shower_image(s)
    >>> x.shape, round(float(x[0].sum()), 4)
    ((2, 10, 12, 12), 1.0)
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
from jetlab.represent.registry import Representation, RepresentationConfig, register_representation

__all__ = ["to_grid", "shower_image", "CaloImage"]


def _factors(n: int, grid: int, where: str) -> tuple[int, int]:
    """(spread, fold) of an axis of ``n`` cells onto ``grid`` pixels."""
    if n <= grid and grid % n == 0:
        return grid // n, 1
    if n >= grid and n % grid == 0:
        return 1, n // grid
    raise UsageError(f"representation 'calo_image': {where} has {n} cells along an axis, which neither divide "
                     f"nor are divisible by calo_grid {grid}")


def to_grid(cells: np.ndarray, grid: int, fold: bool = True, where: str = "a layer") -> np.ndarray:
    """One layer (N, a, b) on the ``grid`` × ``grid`` pixels: (N, f_a f_b, G, G), or (N, 1, G, G) summed (docstring)."""
    n, a, b = cells.shape
    (ra, fa), (rb, fb) = _factors(a, grid, where), _factors(b, grid, where)
    x = np.repeat(np.repeat(cells, ra, axis=1), rb, axis=2) / (ra * rb)            # (N, G fa, G fb)
    x = x.reshape(n, grid, fa, grid, fb).transpose(0, 2, 4, 1, 3)                  # (N, fa, fb, G, G)
    x = x.reshape(n, fa * fb, grid, grid)
    return x if fold else x.sum(axis=1, keepdims=True)


def _geometry(name: str) -> GridGeometry:
    geometry = get_geometry(name)
    if not isinstance(geometry, GridGeometry) or len({
            tuple(s * c for s, c in zip(layer.shape, layer.cell_mm, strict=True)) for layer in geometry.layers}) != 1:
        raise UsageError(f"representation 'calo_image' needs layers of rectangular cells over one area (calogan), "
                         f"not geometry {name!r}")
    return geometry


def shower_image(showers: Showers, grid: int = 12, fold: bool = True) -> np.ndarray:
    """(N, C, G, G) float32: every layer on the grid (:func:`to_grid`), over the shower's total visible energy
    (not standardized)."""
    geometry = _geometry(showers.geometry)
    parts = [to_grid(showers.layer(i).astype(np.float64), grid, fold, f"layer {layer.name} of {geometry.name}")
             for i, layer in enumerate(geometry.layers)]
    x = np.concatenate(parts, axis=1)                                              # (N, C, G, G)
    total = x.sum(axis=(1, 2, 3), keepdims=True)
    return np.divide(x, total, out=np.zeros_like(x), where=total > 0).astype(np.float32)


class CaloImage(Representation):
    """``calo_image``: ``x`` (B, C, G, G) layer images of a shower (+ a ln E channel), see the module docstring."""

    name = "calo_image"
    options: Mapping[str, Any] = {"calo_grid": 12, "calo_fold": True, "calo_energy": True}
    serves = ("image",)
    default_for = ("particles",)

    def check(self, config: RepresentationConfig) -> None:
        if isinstance(config.calo_grid, bool) or not isinstance(config.calo_grid, int) or config.calo_grid < 1:
            raise UsageError(f"representation: calo_grid must be a positive whole number, got {config.calo_grid!r}")

    def _showers(self, data: Any) -> Showers:
        if not isinstance(data, Showers):
            raise UsageError(f"representation 'calo_image' needs calorimeter showers, not {type(data).__name__}")
        return data

    def fit(self, config: RepresentationConfig, data: Any) -> dict[str, Any]:
        showers = self._showers(data)
        ln_e = np.log(showers.incident.astype(np.float64))
        x = shower_image(showers[:20000], config.calo_grid, config.calo_fold)           # (n, C, G, G)
        std = x.std(axis=(0, 2, 3)) if len(x) > 1 else np.ones(x.shape[1])
        return {"geometry": showers.geometry, "channels": x.shape[1] + int(config.calo_energy),
                "pixel_mean": x.mean(axis=(0, 2, 3)).tolist() if len(x) else [0.0] * x.shape[1],
                "pixel_std": np.where(std > 0, std, 1.0).tolist(),
                "log_energy": [float(ln_e.mean()), max(float(ln_e.std()), 1e-3)] if len(ln_e) else [0.0, 1.0]}

    def columns(self, config: RepresentationConfig, state: Mapping[str, Any], data: Any) -> dict[str, Tensor]:
        showers = self._showers(data)
        if state.get("geometry", showers.geometry) != showers.geometry:
            raise UsageError(f"showers of geometry {showers.geometry!r}, the run was trained on {state['geometry']!r}")
        x = shower_image(showers, config.calo_grid, config.calo_fold)                 # (B, C, G, G)
        if "pixel_mean" in state:
            shape = (1, -1, 1, 1)
            x = ((x - np.asarray(state["pixel_mean"], np.float32).reshape(shape))
                 / np.asarray(state["pixel_std"], np.float32).reshape(shape))
        if config.calo_energy:
            mean, std = state.get("log_energy", (0.0, 1.0))
            z = ((np.log(showers.incident.astype(np.float64)) - mean) / std).astype(np.float32)   # (B,)
            x = np.concatenate([x, np.broadcast_to(z[:, None, None, None], (len(x), 1, *x.shape[2:]))], axis=1)
        return {"x": torch.from_numpy(np.ascontiguousarray(x))}

    def dims(self, config: RepresentationConfig, state: Mapping[str, Any]) -> dict[str, Any]:
        return {"image_bins": int(config.calo_grid), "image_channels": int(state.get("channels", 11)),
                "extra": {"geometry": state.get("geometry", "calogan")}}


register_representation(CaloImage())
