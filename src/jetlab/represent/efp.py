"""Energy-flow-polynomial features: the complete linear basis of IRC-safe jet observables, per jet.

A thin view of :func:`jetlab.physics.efp.efps` on `Jets`: the (z, θ) hadronic measure on the
constituents' pT and (Δη, Δφ) relative to the jet axis (ΔR is translation invariant, so relative
coordinates give the same θ_ij), all connected multigraphs of degree 1..``dmax``. Linear models on
these features are the EFP paper's baseline (Komiske, Metodiev, Thaler, arXiv:1712.07124).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from jetlab.errors import UsageError
from jetlab.io.jets import Jets
from jetlab.physics.efp import efp_graphs, efps
from jetlab.represent.registry import Representation, RepresentationConfig, register_representation
from jetlab.represent.sequence import ParticleView

__all__ = ["efp_features", "n_efp_features", "EnergyFlowPolynomials"]


def n_efp_features(dmax: int = 5) -> int:
    """Number of connected EFPs of degree ≤ ``dmax`` (53 for d ≤ 5).

    Example:
        >>> n_efp_features(3)
        8
    """
    return len(efp_graphs(dmax))


def efp_features(jets: Jets, dmax: int = 5, beta: float = 1.0, max_particles: int | None = 64) -> np.ndarray:
    """(N, G) float64 EFPs of every jet, G = :func:`n_efp_features` (``dmax``), columns in
    :func:`jetlab.physics.efp.efp_graphs` order, on the hardest ``max_particles`` constituents.

    Example:
        >>> efp_features(Jets.empty(max_particles=4), dmax=2).shape
        (0, 3)
    """
    view = ParticleView(jets, max_particles)
    deta, dphi = view.deta_dphi
    return efps(view.pt, deta, dphi, view.mask, dmax=dmax, beta=beta)  # (N, G)


class EnergyFlowPolynomials(Representation):
    """``efp``: ``x`` (B, G) energy flow polynomials of degree <= ``efp_degree`` (float64, unscaled: linear
    discriminants and trees standardize themselves)."""

    name = "efp"
    options = {"efp_degree": 5, "efp_beta": 1.0, "max_particles": 64}

    def check(self, config: RepresentationConfig) -> None:
        if not 1 <= config.efp_degree <= 7 or config.efp_beta <= 0:
            raise UsageError("representation: efp_degree in 1..7 and efp_beta > 0 required")

    def columns(self, config: RepresentationConfig, state: Mapping[str, Any], data: Jets) -> dict[str, Tensor]:
        x = efp_features(data, dmax=config.efp_degree, beta=config.efp_beta, max_particles=config.max_particles)
        return {"x": torch.from_numpy(x)}  # (B, G) float64: EFPs span many orders of magnitude

    def dims(self, config: RepresentationConfig, state: Mapping[str, Any]) -> dict[str, Any]:
        return {"hlf": n_efp_features(config.efp_degree), "max_particles": config.max_particles}


register_representation(EnergyFlowPolynomials())
