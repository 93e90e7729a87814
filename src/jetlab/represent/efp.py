"""Energy-flow-polynomial features: the complete linear basis of IRC-safe jet observables, per jet.

A thin view of :func:`jetlab.physics.efp.efps` on `Jets`: the (z, θ) hadronic measure on the
constituents' pT and (Δη, Δφ) relative to the jet axis (ΔR is translation invariant, so relative
coordinates give the same θ_ij), all connected multigraphs of degree 1..``dmax``. Linear models on
these features are the EFP paper's baseline (Komiske, Metodiev, Thaler, arXiv:1712.07124).
"""

from __future__ import annotations

import numpy as np

from jetlab.io.jets import Jets
from jetlab.physics.efp import efp_graphs, efps
from jetlab.represent.sequence import ParticleView

__all__ = ["efp_features", "n_efp_features"]


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
