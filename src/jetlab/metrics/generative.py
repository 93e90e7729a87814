"""Metrics of generative jet models: W1M, W1P, W1EFP, FPD, KPD and a classifier AUC, with uncertainties.

Procedures of JetNet (Kansal et al., arXiv:2106.11535) and of "Evaluating generative models in high
energy physics" (Kansal et al., arXiv:2211.10295), reimplemented on numpy/scipy/sklearn (the
``jetnet`` package does not import under numpy 2).

Inputs are JetNet-style particle clouds: ``x (N, P, 3)`` of (Δη, Δφ, pT_rel) relative to the jet axis,
``mask (N, P)`` bool, True = real particle. Draws of a sample are without replacement when the sample
is large enough, else with replacement (see :func:`_draw`), except W1's draws, always with replacement
(bootstrap, as JetNet); every function takes a ``seed``.

- W1 (:func:`w1`): scipy's 1-D Wasserstein-1 distance between ``n_eval`` values drawn from each sample,
  repeated over ``n_batches`` draws; mean ± std over the draws. W1M: of the relative jet mass;
  W1P: of each particle feature over the real particles of the drawn jets; W1EFP: of each EFP.
  Feature-averaged values carry unc = sqrt(Σ_f std_f²)/F.
- FPD (:func:`fpd`): Fréchet distance between Gaussians fitted to the feature vectors,
  ``|μ1 - μ2|² + Tr(Σ1 + Σ2 - 2 (Σ1 Σ2)^½)``, averaged over batches at ``n_points`` sample sizes N_i,
  then fitted linearly in 1/N (the estimator's bias is ∝ 1/N); the intercept at 1/N → 0 is the value,
  its standard error from the fit's covariance the uncertainty (unconstrained fit: a value slightly
  below 0 means "consistent with 0").
- KPD (:func:`kpd`): unbiased MMD² with the cubic polynomial kernel k(x, y) = (x·y/d + 1)³ per batch;
  median over batches ± half the 15.87–84.13 percentile range (≈ 1σ).
- Classifier AUC (:func:`classifier_auc`): a histogram gradient-boosted classifier trained on half of
  the (balanced) jets to tell real from generated, ROC AUC on the other half (0.5 = indistinguishable),
  Hanley–McNeil standard error.

Features for W1EFP/FPD/KPD are the 20 connected EFPs of degree ≤ 4 (β = 1, arXiv:1712.07124, see
:mod:`jetlab.physics.efp`), standardized with the real sample's mean and std (so W1EFP is in units of
the real sample's std, not JetNet's raw-EFP units). The classifier sees those EFPs plus the relative
jet mass and the particle multiplicity. Always compare with :func:`truth_vs_truth`, the value of two
independent real samples: the floor a perfect generator reaches.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from scipy.stats import wasserstein_distance
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from jetlab.physics.efp import efps

__all__ = [
    "GenMetricsConfig", "PARTICLE_FEATURES", "classifier_auc", "compare_with_floor", "efp_features",
    "extrapolate_inverse_n", "fpd", "frechet_distance", "generative_metrics", "jet_mass_from_relative", "kpd",
    "mmd2_unbiased", "truth_vs_truth", "w1", "w1_features", "w1efp", "w1m", "w1p",
]

PARTICLE_FEATURES = ("eta_rel", "phi_rel", "pt_rel")
_EFP_DMAX = 4


@dataclass(frozen=True)
class GenMetricsConfig:
    """Settings of :func:`generative_metrics`; the defaults are the papers' (capped by the sample sizes)."""

    n_eval: int = 50_000  # values drawn per sample per W1 batch
    n_batches: int = 5  # W1 batches
    fpd_min: int = 20_000  # smallest FPD sample size N_i
    fpd_max: int = 50_000  # largest FPD sample size N_i
    fpd_points: int = 10  # number of N_i
    fpd_batches: int = 20  # draws averaged at each N_i
    kpd_batches: int = 10
    kpd_batch_size: int = 5_000
    classifier: bool = True
    classifier_threads: int | None = None  # OpenMP threads of the classifier; None = library default
    seed: int = 42


def _draw(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """``size`` indices into a sample of ``n``: without replacement if size <= n, else with."""
    return rng.choice(n, size=size, replace=size > n)


def jet_mass_from_relative(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Relative jet mass m/pT_jet from (Δη, Δφ, pT_rel) particles, as JetNet computes it.

    Each particle is taken massless with four-momentum pT_rel (cos Δφ, sin Δφ, sinh Δη, cosh Δη): the jet
    axis at (η, φ) = (0, 0) and pT_jet = 1, so m = sqrt(max(E² - |p|², 0)) is the jet mass in units of
    the jet pT. Returns (N,) float64; padding (mask False) is ignored.
    """
    x = np.asarray(x, dtype=np.float64)
    eta, phi, pt = (np.where(mask, x[..., k], 0.0) for k in range(3))  # (N, P) each
    px, py = (pt * np.cos(phi)).sum(1), (pt * np.sin(phi)).sum(1)
    pz, e = (pt * np.sinh(eta)).sum(1), (pt * np.cosh(eta)).sum(1)
    return np.sqrt(np.maximum(e * e - px * px - py * py - pz * pz, 0.0))


def _w1_columns(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """W1 of each column of a (Na, F) against b (Nb, F): (F,)."""
    return np.array([wasserstein_distance(a[:, f], b[:, f]) for f in range(a.shape[1])])


def w1(a: np.ndarray, b: np.ndarray, n_eval: int = 50_000, n_batches: int = 5, seed: int = 42) -> tuple[float, float]:
    """1-D Wasserstein-1 distance between samples ``a`` and ``b``: mean and std (ddof 0) over batches.

    Each batch draws ``n_eval`` values with replacement from each sample (JetNet's W1 procedure,
    arXiv:2106.11535), so the std is a bootstrap spread.
    """
    mean, std = w1_features(np.asarray(a)[:, None], np.asarray(b)[:, None], n_eval, n_batches, seed)
    return float(mean[0]), float(std[0])


def w1_features(
    a: np.ndarray, b: np.ndarray, n_eval: int = 50_000, n_batches: int = 5, seed: int = 42
) -> tuple[np.ndarray, np.ndarray]:
    """Per-column W1 of a (Na, F) and b (Nb, F): mean (F,) and std (F,) over ``n_batches`` draws."""
    rng = np.random.default_rng(seed)
    vals = np.array([_w1_columns(a[rng.integers(0, len(a), n_eval)], b[rng.integers(0, len(b), n_eval)])
                     for _ in range(n_batches)])  # (B, F)
    return vals.mean(0), vals.std(0)


def _summary(means: np.ndarray, stds: np.ndarray, names: list[str]) -> dict[str, Any]:
    """Feature-averaged W1 ± sqrt(Σ std²)/F, and each feature's value ± unc (JSON-ready)."""
    return {"value": float(means.mean()), "unc": float(np.sqrt((stds**2).sum()) / len(means)),
            "per_feature": {n: {"value": float(m), "unc": float(s)} for n, m, s in zip(names, means, stds)}}


def w1m(real: np.ndarray, fake: np.ndarray, real_mask: np.ndarray, fake_mask: np.ndarray,
        n_eval: int = 50_000, n_batches: int = 5, seed: int = 42) -> tuple[float, float]:
    """W1 of the relative jet mass (:func:`jet_mass_from_relative`): mean, std over batches."""
    return w1(jet_mass_from_relative(real, real_mask), jet_mass_from_relative(fake, fake_mask), n_eval,
              n_batches, seed)


def w1p(real: np.ndarray, fake: np.ndarray, real_mask: np.ndarray, fake_mask: np.ndarray,
        n_eval: int = 50_000, n_batches: int = 5, seed: int = 42) -> dict[str, Any]:
    """W1 of each particle feature (Δη, Δφ, pT_rel), real particles only, averaged over the features.

    Each batch draws ``n_eval`` jets from each sample and compares all their real particles (JetNet's
    W1P, padding excluded). Returns {"value", "unc", "per_feature": {name: {"value", "unc"}}}.
    """
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n_batches):
        ia, ib = rng.integers(0, len(real), n_eval), rng.integers(0, len(fake), n_eval)  # bootstrap draws
        vals.append(_w1_columns(real[ia][real_mask[ia]], fake[ib][fake_mask[ib]]))  # (F,)
    v = np.array(vals)  # (B, F)
    return _summary(v.mean(0), v.std(0), list(PARTICLE_FEATURES))


def w1efp(real_feats: np.ndarray, fake_feats: np.ndarray, n_eval: int = 50_000, n_batches: int = 5,
          seed: int = 42) -> dict[str, Any]:
    """W1 of each EFP column, averaged: {"value", "unc", "per_feature": {"efp_k": {"value", "unc"}}}."""
    means, stds = w1_features(real_feats, fake_feats, n_eval, n_batches, seed)
    return _summary(means, stds, [f"efp_{k}" for k in range(len(means))])


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """Fréchet (2-Wasserstein²) distance of two Gaussians: |μ1 - μ2|² + Tr(Σ1 + Σ2 - 2 (Σ1 Σ2)^½).

    Tr (Σ1 Σ2)^½ = Σ sqrt(eig(Σ1^½ Σ2 Σ1^½)), computed with symmetric eigendecompositions.
    """
    w, v = np.linalg.eigh(np.atleast_2d(cov1))
    s1 = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T  # Σ1^½
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(s1 @ np.atleast_2d(cov2) @ s1), 0.0, None)).sum()
    diff = np.atleast_1d(mu1) - np.atleast_1d(mu2)
    return float(diff @ diff + np.trace(np.atleast_2d(cov1)) + np.trace(np.atleast_2d(cov2)) - 2.0 * cross)


def _gaussian_fd(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance of Gaussians fitted to a (n, F) and b (m, F)."""
    return frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))


def extrapolate_inverse_n(sizes: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    """Fit values = c + s/N by least squares; return (c, σ_c), the value at 1/N → 0 and its std error."""
    x = 1.0 / np.asarray(sizes, dtype=np.float64)
    design = np.stack([np.ones_like(x), x], axis=1)  # (K, 2)
    coef, *_ = np.linalg.lstsq(design, values, rcond=None)
    dof = max(len(x) - 2, 1)
    sigma2 = float(((values - design @ coef) ** 2).sum()) / dof
    cov = sigma2 * np.linalg.inv(design.T @ design)
    return float(coef[0]), float(np.sqrt(cov[0, 0]))


def fpd(real_feats: np.ndarray, fake_feats: np.ndarray, n_min: int = 20_000, n_max: int = 50_000,
        n_points: int = 10, n_batches: int = 20, seed: int = 42) -> tuple[float, float]:
    """Fréchet physics distance (arXiv:2211.10295) extrapolated to infinite sample size: (value, unc).

    At each of ``n_points`` sizes N_i evenly spaced in [n_min, n_max] (n_max capped by both sample sizes,
    n_min by n_max / 2), the Fréchet distance of ``n_batches`` draws of N_i jets per sample is averaged;
    then :func:`extrapolate_inverse_n` fits the averages linearly in 1/N_i.
    """
    n_max = min(n_max, len(real_feats), len(fake_feats))
    n_min = min(n_min, n_max // 2)
    sizes = np.unique(np.linspace(n_min, n_max, n_points).astype(int))
    rng = np.random.default_rng(seed)
    vals = [np.mean([_gaussian_fd(real_feats[_draw(rng, len(real_feats), n)],
                                  fake_feats[_draw(rng, len(fake_feats), n)]) for _ in range(n_batches)])
            for n in sizes]
    return extrapolate_inverse_n(sizes, np.array(vals))


def _kernel_mean(a: np.ndarray, b: np.ndarray, exclude_diagonal: bool) -> float:
    """Mean of k(a_i, b_j) = (a_i·b_j/d + 1)³ over pairs (i ≠ j if ``exclude_diagonal``), in row blocks."""
    d, total = a.shape[1], 0.0
    for lo in range(0, len(a), 1024):
        total += float(((a[lo:lo + 1024] @ b.T / d + 1.0) ** 3).sum())  # (≤1024, m) block
    if exclude_diagonal:
        total -= float((((a * b).sum(1) / d + 1.0) ** 3).sum())
        return total / (len(a) * (len(a) - 1))
    return total / (len(a) * len(b))


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² of x (n, d) and y (m, d) with the cubic polynomial kernel (x·y/d + 1)³.

    MMD² = mean_{i≠j} k(x_i, x_j) + mean_{i≠j} k(y_i, y_j) - 2 mean_{i,j} k(x_i, y_j).
    """
    return _kernel_mean(x, x, True) + _kernel_mean(y, y, True) - 2.0 * _kernel_mean(x, y, False)


def kpd(real_feats: np.ndarray, fake_feats: np.ndarray, n_batches: int = 10, batch_size: int = 5_000,
        seed: int = 42) -> tuple[float, float]:
    """Kernel physics distance (arXiv:2211.10295): median of per-batch unbiased MMD², half 1σ-quantile range.

    Batches of ``batch_size`` jets are drawn without replacement from each, capped at half of the smaller
    sample so that the batches differ and the spread measures something (at the full sample size every
    batch would be the same and the spread 0).
    """
    size = max(2, min(batch_size, len(real_feats) // 2, len(fake_feats) // 2))
    rng = np.random.default_rng(seed)
    vals = np.array([mmd2_unbiased(real_feats[_draw(rng, len(real_feats), size)],
                                   fake_feats[_draw(rng, len(fake_feats), size)]) for _ in range(n_batches)])
    lo, hi = np.percentile(vals, [15.87, 84.13])
    return float(np.median(vals)), float((hi - lo) / 2.0)


def classifier_auc(real_feats: np.ndarray, fake_feats: np.ndarray, seed: int = 42,
                   max_per_class: int = 50_000, n_threads: int | None = None) -> tuple[float, float]:
    """AUC of a classifier trained to tell real (1) from generated (0) jets: (auc, Hanley–McNeil std error).

    ``min(len(real), len(fake), max_per_class)`` jets of each are shuffled and split in halves; a
    :class:`~sklearn.ensemble.HistGradientBoostingClassifier` trains on one half and is scored on the other.
    ``n_threads`` limits its OpenMP threads (1 is far faster on a loaded machine; None = library default).
    """
    rng = np.random.default_rng(seed)
    n = min(len(real_feats), len(fake_feats), max_per_class)
    x = np.concatenate([real_feats[_draw(rng, len(real_feats), n)], fake_feats[_draw(rng, len(fake_feats), n)]])
    y = np.r_[np.ones(n), np.zeros(n)]
    order = rng.permutation(2 * n)
    train, test = order[:n], order[n:]
    with threadpool_limits(limits=n_threads, user_api="openmp"):
        clf = HistGradientBoostingClassifier(max_iter=100, random_state=seed).fit(x[train], y[train])
        auc = float(roc_auc_score(y[test], clf.predict_proba(x[test])[:, 1]))
    n1, n0 = float(y[test].sum()), float(len(test) - y[test].sum())
    q1, q2 = auc / (2.0 - auc), 2.0 * auc * auc / (1.0 + auc)
    var = (auc * (1 - auc) + (n1 - 1) * (q1 - auc * auc) + (n0 - 1) * (q2 - auc * auc)) / (n1 * n0)
    return auc, float(np.sqrt(max(var, 0.0)))


def efp_features(x: np.ndarray, mask: np.ndarray, dmax: int = _EFP_DMAX) -> np.ndarray:
    """Connected EFPs of degree ≤ ``dmax`` (β = 1) of (Δη, Δφ, pT_rel) jets: (N, G) float64."""
    x = np.asarray(x, dtype=np.float64)
    return efps(x[..., 2], x[..., 0], x[..., 1], mask, dmax=dmax, beta=1.0)


def _pair(value: tuple[float, float]) -> dict[str, float]:
    return {"value": float(value[0]), "unc": float(value[1])}


def _capped(c: GenMetricsConfig, n: int) -> GenMetricsConfig:
    """``c`` with the FPD/KPD draw sizes capped at ``n`` jets, so that those draws are without replacement."""
    return replace(c, fpd_max=min(c.fpd_max, n), fpd_min=min(c.fpd_min, n // 2),
                   kpd_batch_size=min(c.kpd_batch_size, n))


def generative_metrics(real: np.ndarray, fake: np.ndarray, real_mask: np.ndarray, fake_mask: np.ndarray,
                       config: GenMetricsConfig | None = None) -> dict[str, Any]:
    """All metrics of ``fake`` against ``real`` (both (N, P, 3) with (N, P) masks), JSON-ready.

    Layout: {"n_real", "n_fake", "w1m": {"value", "unc"}, "w1p": {"value", "unc", "per_feature"},
    "w1efp": {...same}, "fpd": {"value", "unc"}, "kpd": {"value", "unc"},
    "classifier_auc": {"value", "unc"} or None, "config": {...}}.
    """
    c = _capped(config or GenMetricsConfig(), min(len(real), len(fake)))
    real_mask, fake_mask = np.asarray(real_mask, bool), np.asarray(fake_mask, bool)
    fr, ff = efp_features(real, real_mask), efp_features(fake, fake_mask)  # (N, 20)
    mu, sd = fr.mean(0), fr.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    fr, ff = (fr - mu) / sd, (ff - mu) / sd
    w1_args = (c.n_eval, c.n_batches, c.seed)
    out: dict[str, Any] = {"n_real": int(len(real)), "n_fake": int(len(fake))}
    out["w1m"] = _pair(w1m(real, fake, real_mask, fake_mask, *w1_args))
    out["w1p"] = w1p(real, fake, real_mask, fake_mask, *w1_args)
    out["w1efp"] = w1efp(fr, ff, *w1_args)
    out["fpd"] = _pair(fpd(fr, ff, c.fpd_min, c.fpd_max, c.fpd_points, c.fpd_batches, c.seed))
    out["kpd"] = _pair(kpd(fr, ff, c.kpd_batches, c.kpd_batch_size, c.seed))
    out["classifier_auc"] = None
    if c.classifier:
        extra_r = np.stack([jet_mass_from_relative(real, real_mask), real_mask.sum(1)], axis=1)  # (N, 2)
        extra_f = np.stack([jet_mass_from_relative(fake, fake_mask), fake_mask.sum(1)], axis=1)
        auc = classifier_auc(np.hstack([fr, extra_r]), np.hstack([ff, extra_f]), c.seed,
                             n_threads=c.classifier_threads)
        out["classifier_auc"] = _pair(auc)
    out["config"] = asdict(c)
    return out


def truth_vs_truth(real: np.ndarray, mask: np.ndarray, config: GenMetricsConfig | None = None) -> dict[str, Any]:
    """:func:`generative_metrics` of two disjoint random halves (N // 2 jets each) of the real sample: the floor.

    The FPD and KPD draw sizes are capped at N // 2 (recorded in the returned "config"); compare it with a
    real-vs-generated value computed at the same sizes, e.g. by :func:`compare_with_floor`.
    """
    c = config or GenMetricsConfig()
    a, b = _halves(len(real), c.seed)
    m = np.asarray(mask, bool)
    return generative_metrics(real[a], real[b], m[a], m[b], c)


def _halves(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint random index sets of n // 2 each."""
    order = np.random.default_rng(seed + 1).permutation(n)
    return order[: n // 2], order[n // 2 : 2 * (n // 2)]


def compare_with_floor(real: np.ndarray, fake: np.ndarray, real_mask: np.ndarray, fake_mask: np.ndarray,
                       config: GenMetricsConfig | None = None) -> dict[str, Any]:
    """Generated-vs-real metrics and their truth-vs-truth floor, at equal sample sizes: {"fake": ..., "truth": ...}.

    The real sample is split into disjoint halves A and B (N // 2 jets each, as in :func:`truth_vs_truth`);
    "truth" compares B with A, "fake" compares min(N_fake, N // 2) generated jets with A, so both use
    the same reference, the same sizes and the same procedure.
    """
    c = config or GenMetricsConfig()
    a, b = _halves(len(real), c.seed)
    rm, fm = np.asarray(real_mask, bool), np.asarray(fake_mask, bool)
    k = np.random.default_rng(c.seed + 2).permutation(len(fake))[: len(a)]
    return {"fake": generative_metrics(real[a], fake[k], rm[a], fm[k], c),
            "truth": generative_metrics(real[a], real[b], rm[a], rm[b], c)}
