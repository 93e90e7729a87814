"""`Maps`: detector maps of data-quality monitoring, one per lumisection, with the faults injected into them.

Arrays (N maps, C channels of a map, an H × W grid of detector channels):

- ``maps`` (N, C, H, W) float32: channel 0 the occupancy (hits per event in each detector channel), channel 1
  (calorimeter only) the mean energy per event in MeV;
- ``labels`` (N,) int64 in the scheme ``dqm`` = (``good``, ``faulty``);
- ``channel_faults`` (N, H, W) bool: the detector channels a fault was injected into (the per-channel truth);
- ``fault_kind`` (N,) int64, an index of :data:`FAULT_KINDS` (``none``, ``dead``, ``hot``, ``noisy``, ``gain``,
  ``shift``); ``strength`` (N,) float32 in [0, 1] (0 for good maps);
- ``reference`` (C, H, W) and ``reference_std`` (C, H, W) float32: mean and standard deviation over the good
  reference runs the dataset was generated with (what the χ² test and the representation normalize by);
- ``detector`` its name (``calorimeter``: CaloGAN layer 1, 12 × 12 cells; ``tracker``: the Generic detector's
  innermost pixel barrel layer, 16 φ × 14 z modules padded to 16 × 16); ``meta`` dict; ``scheme``.

Example:
    >>> m = Maps(np.ones((2, 1, 4, 4), np.float32), np.array([0, 1]), np.zeros((2, 4, 4), bool),
    ...          np.array([0, 1]), np.array([0.0, 1.0], np.float32), "tracker",
    ...          np.ones((1, 4, 4), np.float32), np.full((1, 4, 4), 0.1, np.float32))
    >>> len(m), m[1:].fault_kind.tolist(), m.validate().shape
    (2, [1], (1, 4, 4))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from jetlab.classes import LabelScheme, register_scheme
from jetlab.errors import FormatError

__all__ = ["Maps", "DQM_SCHEME", "FAULT_KINDS", "DETECTORS"]

DQM_SCHEME = register_scheme(LabelScheme(
    "dqm", ("good", "faulty"), ("lumisection with a healthy detector", "lumisection with an injected fault")))
FAULT_KINDS = ("none", "dead", "hot", "noisy", "gain", "shift")
DETECTORS = {"calorimeter": ("occupancy", "energy"), "tracker": ("occupancy",)}  # name -> channel names


@dataclass
class Maps:
    """Detector maps of one detector with their per-map and per-channel fault truth (see the module docstring)."""

    maps: np.ndarray
    labels: np.ndarray
    channel_faults: np.ndarray
    fault_kind: np.ndarray
    strength: np.ndarray
    detector: str
    reference: np.ndarray
    reference_std: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    scheme: LabelScheme = DQM_SCHEME

    @classmethod
    def concatenate(cls, parts: Sequence[Maps]) -> Maps:
        """Join maps of one detector and one reference."""
        if not parts:
            raise ValueError("nothing to concatenate")
        first = parts[0]
        for p in parts[1:]:
            if p.detector != first.detector or p.reference.shape != first.reference.shape:
                raise FormatError(f"cannot join maps of {first.detector!r} {first.reference.shape} and "
                                  f"{p.detector!r} {p.reference.shape}")
            if not np.allclose(p.reference, first.reference):
                raise FormatError("cannot join maps made against different reference runs")
        cat: dict[str, Any] = {k: np.concatenate([getattr(p, k) for p in parts])
               for k in ("maps", "labels", "channel_faults", "fault_kind", "strength")}
        return replace(first, **cat, meta=dict(first.meta))

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, index: Any) -> Maps:
        """Slice, integer array or boolean mask over maps -> new `Maps` (the reference is shared)."""
        if isinstance(index, (int, np.integer)):
            index = slice(int(index), int(index) + 1 or None)
        return replace(self, maps=self.maps[index], labels=self.labels[index],
                       channel_faults=self.channel_faults[index], fault_kind=self.fault_kind[index],
                       strength=self.strength[index])

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one map."""
        c, h, w = self.reference.shape
        return int(c), int(h), int(w)

    def counts(self) -> dict[str, int]:
        n = np.bincount(self.labels[self.labels >= 0], minlength=len(self.scheme.classes))
        return {c: int(k) for c, k in zip(self.scheme.classes, n) if k}

    def validate(self, source: str = "maps") -> Maps:
        """Raise :class:`FormatError` naming ``source`` on shapes that disagree (with each other, the reference or
        the detector), NaN or negative occupancies, or labels and fault kinds out of range."""
        n, shape = len(self), self.reference.shape
        if self.detector not in DETECTORS:
            raise FormatError(f"{source}: unknown detector {self.detector!r} (known: {', '.join(DETECTORS)})")
        if len(shape) != 3 or shape[0] != len(DETECTORS[self.detector]) and shape[0] != 1:
            raise FormatError(f"{source}: reference of shape {shape} is not a (C, H, W) map of the {self.detector}")
        if self.maps.shape != (n, *shape):
            raise FormatError(f"{source}: maps of shape {self.maps.shape[1:]} do not match the reference map "
                              f"{shape} (another detector or geometry?)")
        if self.reference_std.shape != shape or self.channel_faults.shape != (n, *shape[1:]):
            raise FormatError(f"{source}: reference_std {self.reference_std.shape} and channel_faults "
                              f"{self.channel_faults.shape[1:]} must be {shape} and {shape[1:]}")
        if any(a.shape != (n,) for a in (self.fault_kind, self.strength)):
            raise FormatError(f"{source}: fault_kind and strength must both be ({n},)")
        for name, arr in (("map", self.maps), ("reference", self.reference), ("reference_std", self.reference_std)):
            if not np.isfinite(arr).all():
                raise FormatError(f"{source}: NaN or inf {name} values")
            if (arr < 0).any():
                raise FormatError(f"{source}: negative {name} values (min {float(arr.min()):.4g}); occupancies "
                                  "and energies are ≥ 0")
        if n and (self.labels.min() < 0 or self.labels.max() >= len(self.scheme.classes)
                  or self.fault_kind.min() < 0 or self.fault_kind.max() >= len(FAULT_KINDS)):
            raise FormatError(f"{source}: labels or fault kinds out of range (scheme {self.scheme}, "
                              f"kinds {', '.join(FAULT_KINDS)})")
        return self
