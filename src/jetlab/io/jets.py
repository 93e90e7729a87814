"""`Jets`: the one in-memory structure every reader returns.

Arrays (N jets, P particle slots, F particle features, H high-level features):

- ``constituents`` (N, P, F) float32, pT-ordered, zero-padded after ``n_particles``;
- ``n_particles`` (N,) int32;
- ``particle_names`` F names, a superset of :data:`jetlab.schema.KINEMATIC_FEATURES`;
- ``jet`` (N, 4) float32: pt, eta, phi, mass;
- ``hlf`` (N, H) float32 with ``hlf_names`` (hls4ml-style names, may be empty);
- ``labels`` (N,) int64 indexing the classes of ``scheme`` (-1: no class);
- ``meta`` dict: source format, path, generator settings;
- ``scheme`` the dataset's :class:`~jetlab.classes.LabelScheme` (generated jets: ``g, q, w, z, t``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from jetlab.classes import JETLAB, LabelScheme
from jetlab.errors import FormatError
from jetlab.schema import KINEMATIC_FEATURES

__all__ = ["Jets"]


@dataclass
class Jets:
    """Jets with constituents, jet four-vectors, high-level features and labels.

    Example:
        >>> import numpy as np
        >>> j = Jets.empty(max_particles=4)
        >>> len(j), j.constituents.shape
        (0, (0, 4, 9))
    """

    constituents: np.ndarray
    n_particles: np.ndarray
    particle_names: list[str]
    jet: np.ndarray
    hlf: np.ndarray
    hlf_names: list[str]
    labels: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    scheme: LabelScheme = JETLAB

    # ---------------------------------------------------------------- construction
    @classmethod
    def empty(cls, max_particles: int = 150, particle_names: Sequence[str] | None = None) -> Jets:
        from jetlab.schema import PARTICLE_FEATURES

        names = list(particle_names or PARTICLE_FEATURES)
        return cls(
            constituents=np.zeros((0, max_particles, len(names)), np.float32),
            n_particles=np.zeros(0, np.int32),
            particle_names=names,
            jet=np.zeros((0, 4), np.float32),
            hlf=np.zeros((0, 0), np.float32),
            hlf_names=[],
            labels=np.zeros(0, np.int64),
        )

    @classmethod
    def concatenate(cls, parts: Sequence[Jets]) -> Jets:
        """Join jets with the same feature names; pads particle slots to the largest P."""
        if not parts:
            raise ValueError("nothing to concatenate")
        first = parts[0]
        for p in parts[1:]:
            if p.particle_names != first.particle_names or p.hlf_names != first.hlf_names:
                raise FormatError("cannot join datasets with different feature names")
            if not p.scheme.same_classes(first.scheme):
                raise FormatError(f"cannot join datasets with label schemes {first.scheme} and {p.scheme}")
        width = max(p.constituents.shape[1] for p in parts)
        cons = [np.pad(p.constituents, ((0, 0), (0, width - p.constituents.shape[1]), (0, 0))) for p in parts]
        return replace(
            first,
            constituents=np.concatenate(cons),
            n_particles=np.concatenate([p.n_particles for p in parts]),
            jet=np.concatenate([p.jet for p in parts]),
            hlf=np.concatenate([p.hlf for p in parts]),
            labels=np.concatenate([p.labels for p in parts]),
            meta=dict(first.meta),
        )

    # ---------------------------------------------------------------- access
    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, index: Any) -> Jets:
        """Slice, integer array or boolean mask over jets -> a new `Jets`."""
        if isinstance(index, (int, np.integer)):
            index = slice(int(index), int(index) + 1 or None)
        return replace(
            self,
            constituents=self.constituents[index],
            n_particles=self.n_particles[index],
            jet=self.jet[index],
            hlf=self.hlf[index],
            labels=self.labels[index],
        )

    @property
    def max_particles(self) -> int:
        return int(self.constituents.shape[1])

    @property
    def mask(self) -> np.ndarray:
        """(N, P) bool, True for real particles."""
        return np.arange(self.max_particles)[None, :] < self.n_particles[:, None]

    def particle(self, name: str) -> np.ndarray:
        """(N, P) array of one particle feature, e.g. ``jets.particle("pt")``."""
        try:
            return self.constituents[..., self.particle_names.index(name)]
        except ValueError:
            raise KeyError(f"particle feature {name!r} not in {self.particle_names}") from None

    def feature(self, name: str) -> np.ndarray:
        """(N,) array of one high-level feature, e.g. ``jets.feature("j_mass_mmdt")``."""
        try:
            return self.hlf[:, self.hlf_names.index(name)]
        except ValueError:
            raise KeyError(f"high-level feature {name!r} not in this dataset") from None

    def counts(self) -> dict[str, int]:
        """Jets per class name, in class order."""
        n = np.bincount(self.labels[self.labels >= 0], minlength=len(self.scheme.classes))
        return {c: int(k) for c, k in zip(self.scheme.classes, n) if k}

    def select_classes(self, classes: Sequence[str]) -> Jets:
        keep = np.isin(self.labels, self.scheme.labels_of(classes))
        return self[keep]

    # ---------------------------------------------------------------- checks
    def validate(self, source: str = "jets") -> Jets:
        """Raise :class:`FormatError` naming ``source`` if shapes, names or values are invalid."""
        n = len(self)
        if self.labels.ndim != 1:
            raise FormatError(f"{source}: labels have shape {self.labels.shape}, expected ({n},)")
        c = self.constituents
        if c.ndim != 3 or c.shape[0] != n or c.shape[2] != len(self.particle_names):
            raise FormatError(f"{source}: constituents have shape {c.shape}, expected ({n}, P, "
                              f"{len(self.particle_names)})")
        missing = [k for k in KINEMATIC_FEATURES if k not in self.particle_names]
        if missing:
            raise FormatError(f"{source}: particle features {missing} missing")
        if self.n_particles.shape != (n,) or self.jet.shape != (n, 4):
            raise FormatError(f"{source}: n_particles/jet arrays do not match {n} jets")
        if self.hlf.shape != (n, len(self.hlf_names)):
            raise FormatError(f"{source}: hlf has shape {self.hlf.shape}, expected ({n}, {len(self.hlf_names)})")
        if n and (self.n_particles.min() < 0 or self.n_particles.max() > c.shape[1]):
            raise FormatError(f"{source}: particle counts outside [0, {c.shape[1]}]")
        if n and c.shape[1] > 0 and (self.n_particles == 0).any():  # P = 0: an HLF-only dataset
            raise FormatError(f"{source}: {int((self.n_particles == 0).sum())} jets have zero constituents")
        if n and (self.labels.min() < -1 or self.labels.max() >= len(self.scheme.classes)):
            raise FormatError(f"{source}: labels outside the classes of scheme {self.scheme}")
        for name, arr in (("constituents", c), ("jet", self.jet), ("hlf", self.hlf)):
            if arr.size and not np.isfinite(arr).all():
                bad = int((~np.isfinite(arr)).reshape(n, -1).any(axis=1).sum())
                raise FormatError(f"{source}: {name} holds NaN or inf values in {bad} jets")
        return self
