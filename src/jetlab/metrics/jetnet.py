"""FPD, KPD and W1EFP as JetNet defines them: its EFP sets, its scaling, its estimators.

Kansal et al., "Evaluating generative models in high energy physics", arXiv:2211.10295 (FPD, KPD), and
"Particle cloud generation with message passing GANs", arXiv:2106.11535 (W1M, W1P, W1EFP), as implemented
in the ``jetnet`` library (v0.2.5, ``jetnet.evaluation.gen_metrics``); reimplemented here on numpy/scipy,
since jetnet does not import under numpy 2. ``benchmarks/jetnet_reference.py`` runs jetnet itself on the
same jets and prints both.

Features (jets as (Δη, Δφ, pT_rel) clouds, :func:`jetnet_efps`): energyflow's EFPs with
``measure="hadr", beta=1, normed=None`` (so **not** normalized: z_i = pT_rel,i) in (η, φ):

- FPD/KPD: all 36 EFPs of degree d ≤ 4 (energyflow's ``("d<=", 4)``): the one-vertex graph (Σ z_i), the
  20 connected graphs of :func:`jetlab.physics.efp.efp_graphs` and the 15 disconnected ones, each the
  product of its components.
- W1EFP: the 5 connected EFPs with 4 vertices and 4 edges (``("n==", 4), ("d==", 4), ("p==", 1)``).

Because z_i = pT_rel,i is not divided by Σ pT_rel, an EFP with N vertices scales as s^N under a global
constituent-pT scale s: JetNet's FPD sees a pT-scale error that normalized EFPs cannot.

Estimators (draws with replacement, as jetnet's ``rng.choice``):

- Scaling (:func:`max_normalise`): every feature of both samples divided by its largest |value| in the
  *real* sample.
- FPD (:func:`fpd`): the Fréchet distance ``|μ1 - μ2|² + Tr(Σ1 + Σ2 - 2 (Σ1 Σ2)^½)`` averaged over
  ``num_batches`` draws at ``num_points`` sizes N_i spaced evenly in 1/N between ``min_samples`` and
  ``max_samples``; fitted as c + s/N with c, s ≥ 0 (jetnet's bounded ``curve_fit``); value = c, error =
  its standard error (residual variance × (AᵀA)⁻¹). A value is never below 0.
- KPD (:func:`kpd`): unbiased MMD² with the polynomial kernel k(x, y) = (x·y/d + 1)⁴ (jetnet's code uses
  degree 4) per batch of ``batch_size``; median over batches ± half the 16.275–83.725 percentile range.

Papers quote W1M, W1P, FPD and KPD ×10³ and W1EFP ×10⁵ (:data:`UNITS`).
"""

from __future__ import annotations

import itertools
from functools import cache

import numpy as np
from scipy.optimize import lsq_linear

from jetlab.physics.efp import efp_graphs, efps, graph_degree, n_vertices

__all__ = ["KPD_DEGREE", "UNITS", "fpd", "frechet_distance", "jetnet_efps", "kpd", "max_normalise", "mmd2_poly",
           "w1efp_features"]

KPD_DEGREE = 4
UNITS = {"w1m": 1e3, "w1p": 1e3, "w1efp": 1e5, "fpd": 1e3, "kpd": 1e3}
"""Factor each metric is multiplied by in JetNet's tables (a value 0.0005 is printed 0.5 ×10⁻³)."""

_DMAX = 4


@cache
def _products(dmax: int = _DMAX) -> tuple[tuple[int, ...], ...]:
    """Multisets of connected-graph indices (into ``efp_graphs(dmax)``) of total degree ≤ dmax, ≥ 2 parts."""
    degrees = [graph_degree(g) for g in efp_graphs(dmax)]
    out = []
    for k in range(2, dmax + 1):
        for combo in itertools.combinations_with_replacement(range(len(degrees)), k):
            if sum(degrees[i] for i in combo) <= dmax:
                out.append(combo)
    return tuple(out)


def _connected(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Unnormalized connected EFPs of degree ≤ 4 (β = 1) of (Δη, Δφ, pT_rel) jets: (N, 20)."""
    x = np.asarray(x, dtype=np.float64)
    return efps(x[..., 2], x[..., 0], x[..., 1], np.asarray(mask, bool), dmax=_DMAX, beta=1.0, normed=False)


def jetnet_efps(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """JetNet's 36 FPD/KPD features: all unnormalized EFPs of degree ≤ 4 of (N, P, 3) jets: (N, 36).

    Columns: Σ pT_rel (the one-vertex graph), the 20 connected EFPs, then the 15 products (energyflow's
    own column order differs; FPD and KPD do not depend on the order).
    """
    conn = _connected(x, mask)  # (N, 20)
    total = np.where(mask, np.asarray(x, dtype=np.float64)[..., 2], 0.0).sum(1, keepdims=True)  # (N, 1)
    prods = [np.prod(conn[:, list(c)], axis=1) for c in _products()]  # 15 × (N,)
    return np.hstack([total, conn, np.stack(prods, axis=1)])


def w1efp_features(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """JetNet's 5 W1EFP features: the unnormalized connected EFPs with 4 vertices and 4 edges: (N, 5)."""
    keep = [k for k, g in enumerate(efp_graphs(_DMAX)) if n_vertices(g) == 4 and graph_degree(g) == 4]
    return _connected(x, mask)[:, keep]


def max_normalise(real: np.ndarray, fake: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both samples divided, feature by feature, by the real sample's largest |value| (1 where that is 0)."""
    scale = np.abs(real).max(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    return real / scale, fake / scale


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """Fréchet (2-Wasserstein²) distance of two Gaussians: |μ1 - μ2|² + Tr(Σ1 + Σ2 - 2 (Σ1 Σ2)^½).

    Tr (Σ1 Σ2)^½ = Σ sqrt(eig(Σ1^½ Σ2 Σ1^½)), computed with symmetric eigendecompositions.
    """
    w, v = np.linalg.eigh(np.atleast_2d(cov1))
    s1 = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T  # Σ1^½
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(s1 @ np.atleast_2d(cov2) @ s1), 0.0, None)).sum()
    diff = np.atleast_1d(mu1) - np.atleast_1d(mu2)
    return float(diff @ diff + np.trace(np.atleast_2d(cov1)) + np.trace(np.atleast_2d(cov2)) - 2.0 * cross)


def _frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance of Gaussians fitted to a (n, F) and b (m, F)."""
    return frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))


def fpd(real: np.ndarray, fake: np.ndarray, min_samples: int = 20_000, max_samples: int = 50_000,
        num_batches: int = 20, num_points: int = 10, normalise: bool = True, seed: int = 42) -> tuple[float, float]:
    """Fréchet physics distance, extrapolated to N → ∞ with a non-negative linear fit in 1/N: (value, error).

    ``real``, ``fake``: (n, F) features (for jets, :func:`jetnet_efps`); see the module docstring.
    """
    x, y = max_normalise(real, fake) if normalise else (real, fake)
    sizes = (1.0 / np.linspace(1.0 / min_samples, 1.0 / max_samples, num_points)).astype(int)
    rng = np.random.default_rng(seed)
    vals = np.array([np.mean([_frechet(x[rng.choice(len(x), n)], y[rng.choice(len(y), n)])
                              for _ in range(num_batches)]) for n in sizes])
    design = np.stack([np.ones(len(sizes)), 1.0 / sizes], axis=1)  # (K, 2): intercept, slope
    coef = lsq_linear(design, vals, bounds=(0.0, np.inf)).x
    dof = max(len(sizes) - 2, 1)
    cov = float(((vals - design @ coef) ** 2).sum()) / dof * np.linalg.pinv(design.T @ design)
    return float(coef[0]), float(np.sqrt(cov[0, 0]))


def mmd2_poly(x: np.ndarray, y: np.ndarray, degree: int = KPD_DEGREE) -> float:
    """Unbiased MMD² of x (m, d) and y (n, d) with k(a, b) = (a·b/d + 1)^degree.

    MMD² = Σ_{i≠j} k(x_i, x_j)/(m(m-1)) + Σ_{i≠j} k(y_i, y_j)/(n(n-1)) - 2 mean_{i,j} k(x_i, y_j).
    """
    d = x.shape[1]
    kxx, kyy, kxy = ((a @ b.T / d + 1.0) ** degree for a, b in ((x, x), (y, y), (x, y)))  # (m, m) (n, n) (m, n)
    m, n = len(x), len(y)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2.0 * kxy.mean())


def kpd(real: np.ndarray, fake: np.ndarray, num_batches: int = 10, batch_size: int = 5_000,
        normalise: bool = True, seed: int = 42) -> tuple[float, float]:
    """Kernel physics distance: median of per-batch unbiased MMD² ± half its 16.275–83.725 % range.

    Batch i draws ``batch_size`` rows of each sample with replacement from ``default_rng(seed + 1000 i)``.
    """
    x, y = max_normalise(real, fake) if normalise else (real, fake)
    vals = []
    for i in range(num_batches):
        rng = np.random.default_rng(seed + i * 1000)
        vals.append(mmd2_poly(x[rng.choice(len(x), batch_size)], y[rng.choice(len(y), batch_size)]))
    lo, hi = np.percentile(vals, [16.275, 83.725])
    return float(np.median(vals)), float((hi - lo) / 2.0)
