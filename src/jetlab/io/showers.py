"""`Showers`: the one in-memory structure of calorimeter showers, what every shower reader returns.

Arrays (N showers, V voxels of the geometry, L readout layers):

- ``voxels`` (N, V) float32, visible energy in MeV per voxel, flat in the geometry's public order
  (CaloGAN: ``layer_0`` 3×96, ``layer_1`` 12×12, ``layer_2`` 12×6, each row-major; CaloChallenge:
  index (layer · n_alpha + alpha) · n_r + r, see :mod:`jetlab.physics.calorimeter`);
- ``incident`` (N,) float32, incident particle energy in GeV (the generative models' condition);
- ``labels`` (N,) int64 in the ``particles`` scheme ``e+, gamma, pi+, pi0`` (-1: particle unknown);
- ``geometry`` the registered geometry name (``calogan``, ``challenge2``);
- ``overflow`` (N, L) float32 MeV outside each layer's cells (CaloGAN), or (N, 0);
- ``meta`` dict: source format, path, particle, generator settings; ``scheme`` the label scheme.

Example:
    >>> import numpy as np
    >>> s = Showers(np.ones((2, 6480), np.float32), np.array([10.0, 20.0], np.float32), np.zeros(2, np.int64),
    ...             "challenge2")
    >>> s.layer(0).shape, s.layer_energies().shape, len(s[1:])
    ((2, 16, 9), (2, 45), 1)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from jetlab.classes import LabelScheme, register_scheme
from jetlab.errors import FormatError, JetlabError
from jetlab.physics.calorimeter import get_geometry

__all__ = ["Showers", "SHOWER_SCHEME", "PARTICLE_NAMES", "particle_label", "particle_of"]

SHOWER_SCHEME = register_scheme(LabelScheme(
    "particles", ("e+", "gamma", "pi+", "pi0"),
    ("positron (also electrons: their electromagnetic showers are alike)", "photon",
     "positive pion (hadronic shower)", "neutral pion (two photons, π⁰ → γγ)")))

# spellings in public file names and attributes -> the scheme's class
PARTICLE_NAMES: dict[str, str] = {
    "e+": "e+", "eplus": "e+", "positron": "e+", "e-": "e+", "electron": "e+", "eminus": "e+",
    "gamma": "gamma", "photon": "gamma", "pi+": "pi+", "piplus": "pi+", "pion": "pi+",
    "pi0": "pi0", "pizero": "pi0",
}


def particle_label(name: str | None) -> int:
    """Label of a particle spelled as in :data:`PARTICLE_NAMES` (case-insensitive); -1 if None or unknown."""
    cls = PARTICLE_NAMES.get((name or "").strip().lower())
    return SHOWER_SCHEME.classes.index(cls) if cls else -1


def particle_of(attribute: object, path: Path) -> str | None:
    """The particle a shower file holds: its ``particle`` attribute when known, else a spelling of
    :data:`PARTICLE_NAMES` in the file name (CaloGAN's ``eplus.hdf5``, ``gamma.hdf5``, ``piplus.hdf5``), else None.

    Example:
        >>> particle_of(None, Path("data/piplus.hdf5")), particle_of(b"gamma", Path("x.h5"))
        ('piplus', 'gamma')
    """
    text = attribute.decode(errors="replace") if isinstance(attribute, bytes) else attribute
    if isinstance(text, str) and text.strip().lower() in PARTICLE_NAMES:
        return text.strip()
    stem = path.stem.lower()
    words = sorted((name for name in PARTICLE_NAMES if name.isalpha()), key=len, reverse=True)  # eplus before pion
    return next((name for name in words if name in stem), None)


def _empty(n: int) -> np.ndarray:
    return np.zeros((n, 0), np.float32)


@dataclass
class Showers:
    """Calorimeter showers of one geometry with their incident energies and particle labels."""

    voxels: np.ndarray
    incident: np.ndarray
    labels: np.ndarray
    geometry: str
    overflow: np.ndarray = field(default_factory=lambda: _empty(0))
    meta: dict[str, Any] = field(default_factory=dict)
    scheme: LabelScheme = SHOWER_SCHEME

    def __post_init__(self) -> None:
        if self.overflow.size == 0 and self.overflow.shape[0] != len(self.labels):
            self.overflow = _empty(len(self.labels))

    # ---------------------------------------------------------------- construction
    @classmethod
    def concatenate(cls, parts: Sequence[Showers]) -> Showers:
        """Join showers of one geometry, label scheme and overflow width."""
        if not parts:
            raise ValueError("nothing to concatenate")
        first = parts[0]
        for p in parts[1:]:
            if p.geometry != first.geometry:
                raise FormatError(f"cannot join showers of geometries {first.geometry!r} and {p.geometry!r}")
            if not p.scheme.same_classes(first.scheme) or p.overflow.shape[1] != first.overflow.shape[1]:
                raise FormatError("cannot join showers with different label schemes or overflow bins")
        return replace(first, voxels=np.concatenate([p.voxels for p in parts]),
                       incident=np.concatenate([p.incident for p in parts]),
                       labels=np.concatenate([p.labels for p in parts]),
                       overflow=np.concatenate([p.overflow for p in parts]), meta=dict(first.meta))

    # ---------------------------------------------------------------- access
    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, index: Any) -> Showers:
        """Slice, integer array or boolean mask over showers -> new `Showers`."""
        if isinstance(index, (int, np.integer)):
            index = slice(int(index), int(index) + 1 or None)
        return replace(self, voxels=self.voxels[index], incident=self.incident[index], labels=self.labels[index],
                       overflow=self.overflow[index])

    @property
    def layer_shapes(self) -> tuple[tuple[int, int], ...]:
        """(a, b) of each readout layer of the geometry, in voxel order."""
        return get_geometry(self.geometry).layer_shapes

    @property
    def layer_offsets(self) -> np.ndarray:
        """(L + 1,) first voxel of each layer; the last entry is V."""
        return np.concatenate([[0], np.cumsum([a * b for a, b in self.layer_shapes])]).astype(np.int64)

    def layer(self, i: int) -> np.ndarray:
        """(N, a, b) view of the voxels of layer ``i``."""
        lo, hi = self.layer_offsets[i], self.layer_offsets[i + 1]
        return self.voxels[:, lo:hi].reshape(len(self), *self.layer_shapes[i])

    def layer_energies(self) -> np.ndarray:
        """(N, L) energy (MeV) per layer, summed over its voxels."""
        return np.add.reduceat(self.voxels, self.layer_offsets[:-1], axis=1)

    def counts(self) -> dict[str, int]:
        """Showers per particle class, in class order."""
        n = np.bincount(self.labels[self.labels >= 0], minlength=len(self.scheme.classes))
        return {c: int(k) for c, k in zip(self.scheme.classes, n) if k}

    # ---------------------------------------------------------------- checks
    def validate(self, source: str = "showers") -> Showers:
        """Raise :class:`FormatError` naming ``source`` on shapes that do not fit the geometry, NaN or negative
        voxel energies, or incident energies that are not positive."""
        try:
            shapes = get_geometry(self.geometry).layer_shapes
        except JetlabError as e:
            raise FormatError(f"{source}: {e}") from None
        n, width = len(self), sum(math.prod(s) for s in shapes)
        if self.labels.ndim != 1 or self.incident.shape != (n,):
            raise FormatError(f"{source}: labels {self.labels.shape} and incident energies {self.incident.shape} "
                              f"must both be ({n},)")
        if self.voxels.shape != (n, width):
            raise FormatError(f"{source}: showers of shape {self.voxels.shape[1:]} do not match geometry "
                              f"{self.geometry!r} ({width} voxels)")
        if self.overflow.shape not in ((n, 0), (n, len(shapes))):
            raise FormatError(f"{source}: overflow has shape {self.overflow.shape}, expected ({n}, {len(shapes)})")
        for name, arr in (("voxel", self.voxels), ("overflow", self.overflow)):
            bad = ~np.isfinite(arr) | (arr < 0)
            if bad.any():
                kind = "NaN or inf" if not np.isfinite(arr).all() else f"negative (min {float(arr.min()):.4g} MeV)"
                raise FormatError(f"{source}: {kind} {name} energies in {int(bad.any(axis=1).sum())} showers")
        bad = ~(np.isfinite(self.incident) & (self.incident > 0))
        if bad.any():
            raise FormatError(f"{source}: incident energies ≤ 0, NaN or inf in {int(bad.sum())} showers "
                              f"(first: {float(self.incident[bad][0])!r} GeV)")
        if n and (self.labels.min() < -1 or self.labels.max() >= len(self.scheme.classes)):
            raise FormatError(f"{source}: labels outside the classes of scheme {self.scheme}")
        return self
