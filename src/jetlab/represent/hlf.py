"""High-level features: select named columns of ``jets.hlf`` and standardize them.

The course's MLP and autoencoder read the 16 hls4ml features :data:`jetlab.schema.HLF16`,
standardized with the mean and standard deviation of the training set. :class:`HLFScaler` keeps
those numbers and writes them as JSON next to a run, so evaluation applies the very same transform.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from jetlab.errors import FormatError, InputError, UsageError
from jetlab.io.atomic import atomic_write_text
from jetlab.io.jets import Jets
from jetlab.represent.registry import Representation, RepresentationConfig, register_representation
from jetlab.schema import HLF16

__all__ = ["hlf_matrix", "HLFScaler", "HighLevelFeatures"]


def hlf_matrix(jets: Jets, names: Sequence[str] = HLF16) -> np.ndarray:
    """(N, H) float32 columns ``names`` of ``jets.hlf``, in that order.

    Raises :class:`FormatError` naming every requested feature the dataset lacks.

    Example:
        >>> hlf_matrix(Jets.empty(), names=[]).shape
        (0, 0)
    """
    missing = [n for n in names if n not in jets.hlf_names]
    if missing:
        raise FormatError(f"high-level features {missing} not in this dataset")
    cols = [jets.hlf_names.index(n) for n in names]
    return np.asarray(jets.hlf[:, cols], np.float32).reshape(len(jets), len(cols))  # (N, H)


@dataclass(eq=False)
class HLFScaler:
    """Standardization ``(x - mean) / std`` of named high-level features, fitted once and saved.

    Arguments:
        names: the H feature names, in column order.
        mean: (H,) float64 means on the fit data.
        std: (H,) float64 standard deviations; a zero or non-finite spread is stored as 1, so a
            constant feature maps to 0 rather than to inf/NaN.

    Example:
        >>> s = HLFScaler.from_dict({"names": ["a"], "mean": [1.0], "std": [2.0]})
        >>> s.to_dict()
        {'names': ['a'], 'mean': [1.0], 'std': [2.0]}
    """

    names: list[str]
    mean: np.ndarray
    std: np.ndarray

    def __post_init__(self) -> None:
        self.names = list(self.names)
        self.mean = np.asarray(self.mean, np.float64).reshape(-1)  # (H,)
        self.std = np.asarray(self.std, np.float64).reshape(-1)  # (H,)
        if not len(self.names) == len(self.mean) == len(self.std):
            raise FormatError(f"HLF scaler: {len(self.names)} names, {len(self.mean)} means, "
                              f"{len(self.std)} standard deviations")

    @classmethod
    def fit(cls, jets: Jets, names: Sequence[str] = HLF16) -> HLFScaler:
        """Mean and standard deviation of each feature over ``jets`` (float64)."""
        if len(jets) == 0:
            raise UsageError("cannot fit the HLF scaler on 0 jets")
        m = hlf_matrix(jets, names).astype(np.float64)  # (N, H)
        std = m.std(axis=0)  # (H,)
        return cls(list(names), m.mean(axis=0), np.where(np.isfinite(std) & (std > 0), std, 1.0))

    def transform(self, jets: Jets) -> np.ndarray:
        """(N, H) float32 standardized features."""
        return ((hlf_matrix(jets, self.names) - self.mean) / self.std).astype(np.float32)  # (N, H)

    __call__ = transform

    def to_dict(self) -> dict[str, Any]:
        return {"names": self.names, "mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HLFScaler:
        try:
            return cls(d["names"], d["mean"], d["std"])
        except (KeyError, TypeError, ValueError) as e:
            raise FormatError(f"HLF scaler: invalid content ({e})") from None

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the scaler as JSON (floats round-trip exactly)."""
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> HLFScaler:
        try:
            d = json.loads(Path(path).read_text())
        except OSError as e:
            raise InputError(f"{path}: cannot read HLF scaler ({e.strerror})") from None
        except json.JSONDecodeError as e:
            raise FormatError(f"{path}: not a JSON HLF scaler ({e.msg})") from None
        try:
            return cls.from_dict(d)
        except FormatError as e:
            raise FormatError(f"{path}: {e}") from None


class HighLevelFeatures(Representation):
    """``hlf``: ``x`` (B, H) high-level features, standardized by an :class:`HLFScaler` fitted on training jets."""

    name = "hlf"
    options = {"hlf_names": HLF16}

    def fit(self, config: RepresentationConfig, data: Jets) -> dict[str, Any]:
        return {"scaler": HLFScaler.fit(data, names=config.hlf_names)}

    def columns(self, config: RepresentationConfig, state: Mapping[str, Any], data: Jets) -> dict[str, Tensor]:
        if state.get("scaler") is None:
            raise RuntimeError("BatchBuilder.fit() must run before building HLF batches")
        return {"x": torch.from_numpy(state["scaler"].transform(data))}  # (B, H)

    def dims(self, config: RepresentationConfig, state: Mapping[str, Any]) -> dict[str, Any]:
        return {"hlf": len(config.hlf_names)}


register_representation(HighLevelFeatures())
