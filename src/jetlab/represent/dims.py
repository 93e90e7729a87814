"""`InputDims`: the input sizes a model is built for, as the data's representation states them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["InputDims"]


@dataclass(frozen=True)
class InputDims:
    """Input sizes a model is built for (taken from the data; these defaults serve `jetlab models`)."""

    hlf: int = 16
    particle_features: int = 13
    image_bins: int = 40
    image_channels: int = 1  # channels of an image (1: a jet image; layers of a calorimeter shower: several)
    max_particles: int = 64
    scalars: int = 6  # Lorentz-invariant per-particle scalars (charge, particle-ID one-hot)
    extra: dict[str, Any] = field(default_factory=dict)  # sizes of representations registered later (e.g. voxels)
