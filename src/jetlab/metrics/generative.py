"""Metrics of generative jet models: W1M, W1P, W1EFP, FPD, KPD as JetNet defines them, and jetlab's extras.

JetNet's metrics (Kansal et al., arXiv:2106.11535 and arXiv:2211.10295, as the ``jetnet`` library v0.2.5
computes them; reimplemented on numpy/scipy, since jetnet does not import under numpy 2, and checked
against jetnet itself on the same jets by ``benchmarks/jetnet_reference.py``):

- W1 (:func:`w1`): scipy's 1-D Wasserstein-1 distance between ``n_eval`` values drawn with replacement
  from each sample, over ``n_batches`` draws; mean ± std over the draws. W1M: of the relative jet mass;
  W1P: of each particle feature over the real particles of the drawn jets; W1EFP: of each of JetNet's 5
  unnormalized EFPs (:func:`jetlab.metrics.jetnet.w1efp_features`). Feature-averaged values carry
  unc = sqrt(Σ_f std_f²)/F.
- FPD and KPD: :func:`jetlab.metrics.jetnet.fpd` and :func:`jetlab.metrics.jetnet.kpd` on JetNet's 36
  unnormalized EFPs of degree ≤ 4, scaled by the real sample's largest |value| (FPD extrapolated in 1/N
  with a non-negative fit; KPD with the degree-4 polynomial kernel). Being unnormalized, these EFPs see a
  global constituent-pT scale (an N-vertex EFP scales as s^N).

Values are raw; JetNet's tables print them multiplied by :data:`jetlab.metrics.jetnet.UNITS`
(W1M, W1P, FPD, KPD ×10³; W1EFP ×10⁵).

jetlab's extras (not in JetNet's tables):

- W1N (``w1n``): W1 of the particle multiplicity (IRC-safe EFPs barely see soft particles).
- FPD-asinh (``fpd_asinh``, :func:`asinh_standardise`): the same FPD estimator on the 36 EFPs mapped to
  u_k = asinh(EFP_k / median_real |EFP_k|) and standardized with the real sample's mean and std. The
  map tames the EFPs' long tails, which under JetNet's max-scaling squeeze the bulk of the jets into a
  small range (one outlying jet sets the scale), so a few-per-cent pT scale, which shifts log EFP_k by
  N_k log s, stands out at thousands of jets instead of the 50,000 JetNet's tables use.
- Classifier AUC (:func:`classifier_auc`): a histogram gradient-boosted classifier trained on half of
  the (balanced) jets to tell real from generated, on the max-scaled 36 EFPs, the relative jet mass and
  the multiplicity; ROC AUC on the other half (0.5 = indistinguishable), Hanley–McNeil standard error.

Inputs are JetNet-style particle clouds: ``x (N, P, 3)`` of (Δη, Δφ, pT_rel) relative to the jet axis,
``mask (N, P)`` bool, True = real particle; every function takes a ``seed``. Always compare with
:func:`truth_vs_truth`, the value of two independent real samples: the floor a perfect generator reaches
at that sample size (JetNet's draws are with replacement, so at a draw size near the sample size the
floor is the two samples' own finite-sample distance, above 0).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from scipy.stats import wasserstein_distance
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from jetlab.metrics import jetnet
from jetlab.metrics.jetnet import UNITS, frechet_distance, jetnet_efps, w1efp_features

__all__ = [
    "GenMetricsConfig", "JETNET_METRICS", "PARTICLE_FEATURES", "UNITS", "asinh_standardise", "classifier_auc",
    "compare_with_floor",
    "frechet_distance", "generative_metrics", "jet_mass_from_relative", "truth_vs_truth", "w1", "w1_features",
    "w1efp", "w1m", "w1n", "w1p",
]

PARTICLE_FEATURES = ("eta_rel", "phi_rel", "pt_rel")
JETNET_METRICS = ("w1m", "w1p", "w1efp", "fpd", "kpd")
"""The metrics JetNet defines; the others in :func:`generative_metrics` are jetlab's extras."""


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


def w1n(real_mask: np.ndarray, fake_mask: np.ndarray, n_eval: int = 50_000, n_batches: int = 5,
        seed: int = 42) -> tuple[float, float]:
    """W1 of the particle multiplicity (real particles per jet): mean, std over bootstrap batches."""
    return w1(np.asarray(real_mask).sum(1).astype(float), np.asarray(fake_mask).sum(1).astype(float), n_eval,
              n_batches, seed)


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


def asinh_standardise(real: np.ndarray, fake: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """u = asinh(f / median_real |f|), then (u - mean_real(u)) / std_real(u), per column (see ``fpd_asinh``)."""
    med = np.median(np.abs(real), axis=0)
    med = np.where(med > 0, med, 1.0)
    ur, uf = np.arcsinh(real / med), np.arcsinh(fake / med)
    mu, sd = ur.mean(0), ur.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    return (ur - mu) / sd, (uf - mu) / sd


def _pair(value: tuple[float, float]) -> dict[str, float]:
    return {"value": float(value[0]), "unc": float(value[1])}


def _capped(c: GenMetricsConfig, n: int) -> GenMetricsConfig:
    """``c`` with the FPD/KPD draw sizes capped at ``n`` jets (FPD's smallest at 2n/5, JetNet's ratio)."""
    n_max = min(c.fpd_max, n)
    return replace(c, fpd_max=n_max, fpd_min=min(c.fpd_min, max(2, 2 * n_max // 5)),
                   kpd_batch_size=min(c.kpd_batch_size, n))


def generative_metrics(real: np.ndarray, fake: np.ndarray, real_mask: np.ndarray, fake_mask: np.ndarray,
                       config: GenMetricsConfig | None = None) -> dict[str, Any]:
    """All metrics of ``fake`` against ``real`` (both (N, P, 3) with (N, P) masks), raw values, JSON-ready.

    Layout: {"n_real", "n_fake", "w1m": {"value", "unc"}, "w1p": {"value", "unc", "per_feature"},
    "w1efp": {...same}, "fpd": {"value", "unc"}, "kpd": {"value", "unc"} (JetNet's), "w1n": {...},
    "fpd_asinh": {...}, "classifier_auc": {"value", "unc"} or None (extras), "units": JetNet's print factors,
    "config": {...}}.
    """
    c = _capped(config or GenMetricsConfig(), min(len(real), len(fake)))
    real_mask, fake_mask = np.asarray(real_mask, bool), np.asarray(fake_mask, bool)
    w1_args = (c.n_eval, c.n_batches, c.seed)
    out: dict[str, Any] = {"n_real": int(len(real)), "n_fake": int(len(fake))}
    out["w1m"] = _pair(w1m(real, fake, real_mask, fake_mask, *w1_args))
    out["w1p"] = w1p(real, fake, real_mask, fake_mask, *w1_args)
    out["w1efp"] = w1efp(w1efp_features(real, real_mask), w1efp_features(fake, fake_mask), *w1_args)
    fr, ff = jetnet_efps(real, real_mask), jetnet_efps(fake, fake_mask)  # (N, 36)
    out["fpd"] = _pair(jetnet.fpd(fr, ff, c.fpd_min, c.fpd_max, c.fpd_batches, c.fpd_points, seed=c.seed))
    out["kpd"] = _pair(jetnet.kpd(fr, ff, c.kpd_batches, c.kpd_batch_size, seed=c.seed))
    out["w1n"] = _pair(w1n(real_mask, fake_mask, *w1_args))
    ar, af = asinh_standardise(fr, ff)
    out["fpd_asinh"] = _pair(jetnet.fpd(ar, af, c.fpd_min, c.fpd_max, c.fpd_batches, c.fpd_points, False, c.seed))
    out["classifier_auc"] = None
    if c.classifier:
        sr, sf = jetnet.max_normalise(fr, ff)
        extra_r = np.stack([jet_mass_from_relative(real, real_mask), real_mask.sum(1)], axis=1)  # (N, 2)
        extra_f = np.stack([jet_mass_from_relative(fake, fake_mask), fake_mask.sum(1)], axis=1)
        auc = classifier_auc(np.hstack([sr, extra_r]), np.hstack([sf, extra_f]), c.seed,
                             n_threads=c.classifier_threads)
        out["classifier_auc"] = _pair(auc)
    out["units"] = dict(UNITS)
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
