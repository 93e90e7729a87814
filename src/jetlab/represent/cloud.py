"""Point clouds: coordinates, features and mask per particle, for PointNet, ParticleNet and ParT.

``points`` (N, P, 2) are (Δη, Δφ) relative to the jet axis (Δφ wrapped into [-π, π)); they define
neighbourhoods (kNN in ParticleNet's first EdgeConv). ``x`` (N, P, F) are the named features of
:mod:`jetlab.represent.sequence`; ``mask`` (N, P) bool is True for real particles. Padded slots are
exactly 0 in ``points``, ``x`` and :func:`four_momenta`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from jetlab.errors import UsageError
from jetlab.io.jets import Jets
from jetlab.represent.registry import Representation, RepresentationConfig, register_representation
from jetlab.represent.sequence import PARTICLE_TYPES, ParticleView, as_view, default_features, stack_features

__all__ = ["point_cloud", "relative_clouds", "four_momenta", "lorentz_scalars", "Particles"]


def point_cloud(
    jets: Jets | ParticleView, features: Sequence[str] | None = None, max_particles: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(points, x, mask)`` of every jet.

    Arguments:
        jets: N jets with P particle slots, or their :class:`ParticleView` (then ``max_particles`` is unused).
        features: particle feature names (None = :func:`~jetlab.represent.sequence.default_features`).
        max_particles: keep the first (hardest) slots, or zero-pad up to this many.

    Returns:
        ``points`` (N, P, 2) float32 (Δη, Δφ), ``x`` (N, P, F) float32, ``mask`` (N, P) bool
        (True = real particle).

    Example:
        >>> points, x, mask = point_cloud(Jets.empty(max_particles=5), features=["deta", "dphi"])
        >>> points.shape, x.shape, mask.shape
        ((0, 5, 2), (0, 5, 2), (0, 5))
    """
    view = as_view(jets, max_particles)
    x = stack_features(view, features)  # (N, P, F)
    points = np.stack(view.deta_dphi, axis=-1).astype(np.float32)  # (N, P, 2)
    return points, x, view.mask


def relative_clouds(jets: Jets, n_particles: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """JetNet-style clouds of the ``n_particles`` hardest constituents, as the generative metrics read them:
    ``x (N, P, 3)`` float64 (Δη, Δφ, pT/pT_jet) and ``mask (N, P)`` bool, True = real particle."""
    _, x, mask = point_cloud(jets, features=("etarel", "phirel", "ptrel"), max_particles=n_particles)
    return x.astype(np.float64), mask


def four_momenta(jets: Jets | ParticleView, max_particles: int | None = None) -> np.ndarray:
    """(N, P, 4) float32 four-momenta (E, px, py, pz) in GeV, 0 at padded slots (``jets`` as in :func:`point_cloud`).

    For pairwise features (ParT interaction matrix: ln Δ, ln kT, ln z, ln m²) and Lorentz-equivariant
    models (LorentzNet), which need the momenta rather than the relative coordinates.

    Example:
        >>> four_momenta(Jets.empty(max_particles=3)).shape
        (0, 3, 4)
    """
    return as_view(jets, max_particles).columns32(("E", "px", "py", "pz"))  # (N, P, 4)


# Particle-ID classes by |PDG id|: electron, muon, photon, charged hadron, neutral hadron.
_PID_CLASSES = (11, 13, 22)


def lorentz_scalars(jets: Jets | ParticleView, max_particles: int | None = None) -> np.ndarray:
    """(N, P, S) float32 per-particle Lorentz scalars: charge and a particle-ID one-hot, 0 at padding.

    Lorentz-equivariant models (LorentzNet, PELICAN) may only see inputs that a boost leaves
    unchanged; kinematics enter them through :func:`four_momenta`. With ``charge`` and ``pdgid``
    in the data S = 6 (charge, e, μ, γ, charged hadron, neutral hadron); without them S = 0.

    Example:
        >>> lorentz_scalars(Jets.empty(max_particles=3)).shape
        (0, 3, 6)
    """
    view = as_view(jets, max_particles)
    n, p = view.mask.shape
    if "charge" in view.names and "pdgid" not in view.names and set(PARTICLE_TYPES) <= set(view.names):
        flags = [view.column(f) != 0 for f in PARTICLE_TYPES]  # stored flags (JetClass): e, μ, γ, h±, h0
        out = np.stack([view.column("charge"), *flags], axis=-1).astype(np.float32)
        out[~view.mask] = 0.0
        return out
    if not {"charge", "pdgid"} <= set(view.names):
        return np.zeros((n, p, 0), np.float32)
    charge, pid = view.column("charge"), np.abs(view.column("pdgid")).astype(np.int64)
    onehot = [pid == c for c in _PID_CLASSES]
    lepton_photon = np.logical_or.reduce(onehot)
    onehot += [view.mask & ~lepton_photon & (charge != 0), view.mask & ~lepton_photon & (charge == 0)]
    out = np.stack([charge, *onehot], axis=-1).astype(np.float32)
    out[~view.mask] = 0.0
    return out


class Particles(Representation):
    """``particles``: ``x`` (B, P, F) particle features, ``mask`` (B, P), ``points`` (B, P, 2) (Δη, Δφ),
    ``p4`` (B, P, 4) (E, px, py, pz), ``z`` (B, P) pT fraction, ``scalars`` (B, P, S) Lorentz scalars.

    Fitted: the particle features (the config's, else the dataset's default) and the number of scalars.
    """

    name = "particles"
    options: Mapping[str, Any] = {"features": None, "max_particles": 64}
    particles = True
    onnx_inputs = ("x", "mask", "points", "p4", "z", "scalars")

    def check(self, config: RepresentationConfig) -> None:
        if config.max_particles < 1:
            raise UsageError(f"representation: max_particles >= 1 required, got {config.max_particles}")

    def fit(self, config: RepresentationConfig, data: Jets) -> dict[str, Any]:
        features = tuple(config.features) if config.features else default_features(data.particle_names)
        return {"features": features, "n_scalars": int(lorentz_scalars(data[:0]).shape[-1])}

    def columns(self, config: RepresentationConfig, state: Mapping[str, Any], data: Jets) -> dict[str, Tensor]:
        view = ParticleView(data, config.max_particles)  # shared: each column is read once per batch
        features = state.get("features") or None
        points, x, mask = point_cloud(view, features=features)  # (B, P, 2), (B, P, F), (B, P)
        p4 = four_momenta(view)  # (B, P, 4) E, px, py, pz
        pt = np.hypot(p4[..., 1], p4[..., 2])
        z = pt / np.maximum(pt.sum(axis=1, keepdims=True), 1e-12)  # (B, P)
        return {"x": torch.from_numpy(x), "mask": torch.from_numpy(mask), "points": torch.from_numpy(points),
                "p4": torch.from_numpy(p4), "z": torch.from_numpy(z.astype(np.float32)),
                "scalars": torch.from_numpy(lorentz_scalars(view))}

    def dims(self, config: RepresentationConfig, state: Mapping[str, Any]) -> dict[str, Any]:
        return {"particle_features": len(state.get("features") or ()) or 13, "max_particles": config.max_particles,
                "scalars": int(state.get("n_scalars", 0))}


register_representation(Particles())
