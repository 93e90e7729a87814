"""Jet images: pT-weighted 2D histograms of the constituents in (Δη, Δφ) around the jet axis.

Axis convention: ``image[n, 0, i_eta, i_phi]``. Row ``i_eta`` grows with Δη and column ``i_phi`` with
Δφ; pixel ``(i, j)`` covers Δη ∈ [-extent + i·w, -extent + (i+1)·w) and likewise Δφ, with
``w = 2·extent / bins``. Shown with ``imshow(image[n, 0], origin="lower")``, η is the vertical axis.

Preprocessing, applied in this order (de Oliveira et al., arXiv:1511.05190; Macaluso & Shih,
arXiv:1803.00107), with weights ``w_k = pT_k``:

1. ``center``: translate so the pT-weighted centroid ``Σ w_k (Δη_k, Δφ_k) / Σ w_k`` is at (0, 0)
   (centroid chosen over the leading particle: it is stable under soft/collinear emissions).
2. ``rotate``: rotate about (0, 0) by -θ, ``θ = ½ atan2(2 S_ηφ, S_ηη - S_φφ)`` with the pT-weighted
   second moments ``S_ab = Σ w_k a_k b_k`` (the inertia tensor), so the principal axis lies along η
   (vertical) and ``S_ηφ = 0``, ``S_ηη ≥ S_φφ`` afterwards.
3. ``flip``: reflect Δη (and, independently, Δφ) when the half-plane Δη < 0 (Δφ < 0) holds more pT
   than Δη > 0 (Δφ > 0); afterwards the harder half is at positive Δη and positive Δφ (top right).
4. ``normalize``: divide by the jet's total constituent pT, so a pixel holds its pT fraction and the
   image sums to 1 when every particle falls inside the window (less when some fall outside).

Particles outside the window and padded slots contribute nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from jetlab.errors import UsageError
from jetlab.io.jets import Jets
from jetlab.represent.registry import Representation, RepresentationConfig, register_representation
from jetlab.represent.sequence import ParticleView

__all__ = ["jet_images", "center_coords", "rotate_coords", "flip_coords", "pixelate", "JetImage"]


def _safe(total: np.ndarray) -> np.ndarray:
    return np.where(total > 0, total, 1.0)


def center_coords(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Translate (N, P) coordinates so the ``w``-weighted centroid of each jet is at 0."""
    total = _safe(w.sum(axis=1))  # (N,)
    cx, cy = (w * x).sum(axis=1) / total, (w * y).sum(axis=1) / total  # (N,)
    return x - cx[:, None], y - cy[:, None]  # (N, P) each


def rotate_coords(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotate (N, P) coordinates about 0 so the principal axis of ``Σ w (x, y)ᵀ(x, y)`` lies along x."""
    sxx, syy, sxy = (w * x * x).sum(1), (w * y * y).sum(1), (w * x * y).sum(1)  # (N,)
    theta = 0.5 * np.arctan2(2 * sxy, sxx - syy)  # (N,) principal-axis angle from the x axis
    c, s = np.cos(theta)[:, None], np.sin(theta)[:, None]  # (N, 1)
    return c * x + s * y, -s * x + c * y  # (N, P) each


def flip_coords(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reflect x (and y) per jet so the half-plane x > 0 (y > 0) holds at least as much ``w``."""
    sx = np.where((w * (x < 0)).sum(1) > (w * (x > 0)).sum(1), -1.0, 1.0)[:, None]  # (N, 1)
    sy = np.where((w * (y < 0)).sum(1) > (w * (y > 0)).sum(1), -1.0, 1.0)[:, None]  # (N, 1)
    return sx * x, sy * y


def pixelate(x: np.ndarray, y: np.ndarray, w: np.ndarray, bins: int, extent: float) -> np.ndarray:
    """(N, 1, bins, bins) float32 sums of ``w`` (N, P) over pixels of (x, y) ∈ [-extent, extent)².

    Entries with ``w == 0`` (padding) or outside the window are dropped; x indexes rows, y columns.
    """
    n = x.shape[0]
    scale = bins / (2.0 * extent)
    ix = np.floor((x + extent) * scale).astype(np.int64)  # (N, P) row index
    iy = np.floor((y + extent) * scale).astype(np.int64)  # (N, P) column index
    keep = (w != 0) & (ix >= 0) & (ix < bins) & (iy >= 0) & (iy < bins)  # (N, P)
    flat = (np.arange(n)[:, None] * bins + ix) * bins + iy  # (N, P) index into (N, bins, bins)
    out = np.zeros(n * bins * bins, np.float32)
    np.add.at(out, flat[keep], w[keep].astype(np.float32))
    return out.reshape(n, 1, bins, bins)


def jet_images(
    jets: Jets,
    bins: int = 100,
    extent: float = 0.8,
    center: bool = True,
    rotate: bool = False,
    flip: bool = False,
    normalize: bool = True,
) -> np.ndarray:
    """pT-weighted jet images, ``(N, 1, bins, bins)`` float32, indexed ``[n, 0, i_eta, i_phi]``.

    Arguments:
        jets: N jets; coordinates are relative to ``jets.jet`` (η, φ) with Δφ wrapped into [-π, π).
        bins: pixels per side (the course uses 100).
        extent: half-width of the window in Δη and Δφ.
        center, rotate, flip, normalize: the preprocessing steps of the module docstring.

    Example:
        >>> jet_images(Jets.empty(), bins=8).shape
        (0, 1, 8, 8)
    """
    if bins < 1 or extent <= 0:
        raise ValueError(f"jet_images: need bins >= 1 and extent > 0, got bins={bins}, extent={extent}")
    view = ParticleView(jets)
    w = np.where(view.mask, view.pt, 0.0)  # (N, P) pT, 0 at padding
    x, y = view.deta_dphi  # (N, P) Δη, Δφ
    if center:
        x, y = center_coords(x, y, w)
    if rotate:
        x, y = rotate_coords(x, y, w)
    if flip:
        x, y = flip_coords(x, y, w)
    if normalize:
        w = w / _safe(w.sum(axis=1))[:, None]  # (N, P) pT fraction
    return pixelate(x, y, w, bins, extent)


class JetImage(Representation):
    """``image``: ``x`` (B, 1, n, n) pT-fraction jet images, centred and optionally rotated and flipped."""

    name = "image"
    options = {"image_bins": 40, "image_rotate": True, "image_flip": True}

    def check(self, config: RepresentationConfig) -> None:
        if config.image_bins < 4:
            raise UsageError(f"representation: image_bins >= 4 required, got {config.image_bins}")

    def columns(self, config: RepresentationConfig, state: Mapping[str, Any], data: Jets) -> dict[str, Tensor]:
        img = jet_images(data, bins=config.image_bins, rotate=config.image_rotate, flip=config.image_flip)
        return {"x": torch.from_numpy(img)}  # (B, 1, n, n)

    def dims(self, config: RepresentationConfig, state: Mapping[str, Any]) -> dict[str, Any]:
        return {"image_bins": config.image_bins}


register_representation(JetImage())
