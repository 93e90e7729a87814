"""The CaloChallenge evaluation of generated showers, every number next to its simulator-vs-simulator floor.

Krause et al., arXiv:2410.21611 (the CaloChallenge 2022 evaluation), on the features of
:mod:`jetlab.metrics.calo_features` (voxels and incident energies in MeV):

- **Separation power** of each high-level feature's histogram (:func:`separation_power`):
  S = ½ Σ_k (p_k - q_k)² / (p_k + q_k), p and q the reference and compared histograms normalized to unit
  sum; 0 for identical histograms, 1 for disjoint ones. Features: E_tot/E_inc, and per layer E_l/E_inc,
  ⟨x⟩, ⟨y⟩, σ_x, σ_y, sparsity; plus the spectrum of all voxel energies above the threshold.
- **Binning** (:func:`binning`), fixed by the *reference* sample only, so that the floor and the model are
  measured on the same bins: ``n_bins`` bins over the reference's 0.5-99.5 percentile range, log-spaced
  when it is positive and spans more than two decades (E_l/E_inc of the back layers, voxel energies),
  linear otherwise; the sparsity (values k/n_l) on its lattice, whole voxels per bin. Entries below or
  above the range count in the first or last bin, so every shower counts (the challenge's histograms drop
  them instead). Finite-sample noise gives two samples of n showers S ≈ K/(2n) for K filled bins: the floor.
- **Classifier AUC** (:func:`classifier_auc`): the challenge's DNN (Linear-LeakyReLU blocks, one logit,
  binary cross-entropy, Adam) told real from compared on the low-level inputs (log10 E_inc, 100 E_i/E_inc)
  and on the high-level ones (log10 E_inc, log10(E_l + 1e-8), ⟨x⟩/100, ⟨y⟩/100, σ_x/100, σ_y/100), n
  showers of each split 60/20/20 into train/validation/test; the epoch of lowest validation loss is kept
  and its ROC AUC on the test part reported (0.5: indistinguishable), ± the std of 200 bootstraps of the
  test part. Sizes default to a small network for CPUs (:meth:`ClassifierConfig.challenge` gives the
  challenge's); the inputs are standardized with the training part's mean and std. The challenge's
  isotonic calibration is left out: it is monotonic and does not change the AUC.
- **FPD and KPD** on the high-level inputs, as the challenge's code computes them:
  :func:`jetlab.metrics.jetnet.fpd` and :func:`jetlab.metrics.jetnet.kpd` (scaled by the reference's
  largest |value|; draw sizes capped at n). Being Gaussian summaries of max-scaled logarithms, they are
  blind to some errors the other metrics catch: every voxel × 1.2 in 500 CaloGAN showers moves FPD by
  0.6 σ of its floor while the high-level classifier reaches AUC 0.97 (``tests/test_calo_metrics.py``).

:func:`compare_showers` splits the real sample into halves A and B and draws as many generated showers:
each metric of (A, generated) is reported next to the same metric of (A, B), the floor a perfect generator
reaches at that sample size (the classifier's floor is not exactly 0.5 at small n, and the separation
powers' is above 0). Uncertainties are bootstrap spreads (separation powers: ``n_boot`` resamplings of
both samples); FPD's is its fit error, KPD's half its 68 % range over batches.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from scipy.stats import rankdata

from jetlab.errors import UsageError
from jetlab.metrics import jetnet
from jetlab.metrics.calo_features import (
    CaloLayout,
    ShowerFeatures,
    check_showers,
    low_level,
    shower_features,
    voxel_energies,
)

__all__ = ["GROUPS", "VOXEL_FEATURE", "Binning", "CaloMetricsConfig", "ClassifierConfig", "binning", "classifier_auc",
           "compare_showers", "feature_binnings", "separation_power", "separation_powers", "shower_metrics"]

VOXEL_FEATURE = "voxel_energy"
GROUPS = ("etot_einc", "elayer_einc", "centre", "width", "sparsity", VOXEL_FEATURE)


def separation_power(h_ref: np.ndarray, h_cmp: np.ndarray) -> float:
    """½ Σ (p - q)² / (p + q) of two histograms (counts or densities on the same bins), each normalized to
    unit sum first; empty bins of both are skipped.

    Example:
        >>> separation_power(np.array([1, 2, 3]), np.array([2, 4, 6]))         # identical shapes
        0.0
        >>> separation_power(np.array([1, 0]), np.array([0, 5]))               # disjoint
        1.0
    """
    p, q = (np.asarray(h, np.float64) for h in (h_ref, h_cmp))
    p, q = p / max(p.sum(), 1e-300), q / max(q.sum(), 1e-300)
    s = p + q
    keep = s > 0
    return float(0.5 * ((p[keep] - q[keep]) ** 2 / s[keep]).sum())


@dataclass(frozen=True)
class Binning:
    """Shared bins of one feature: ``edges`` (K + 1,), log-spaced or not; out-of-range values go to the edge bins."""

    edges: np.ndarray
    log: bool = False

    @property
    def n_bins(self) -> int:
        return len(self.edges) - 1

    def index(self, values: np.ndarray) -> np.ndarray:
        """Bin of each value, 0 .. K - 1 (under/overflow clipped into the first/last bin; NaN into the last)."""
        k = np.searchsorted(self.edges, np.asarray(values, np.float64), side="right") - 1
        return np.clip(k, 0, self.n_bins - 1)

    def counts(self, values: np.ndarray) -> np.ndarray:
        return np.bincount(self.index(values), minlength=self.n_bins)


def binning(reference: np.ndarray, n_bins: int = 40, step: float | None = None) -> Binning:
    """Bins from the reference's 0.5-99.5 percentiles (module docstring); ``step``: values lie on a lattice of
    that spacing (sparsity), edges are put half-way between lattice points."""
    v = np.asarray(reference, np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return Binning(np.linspace(0.0, 1.0, n_bins + 1))
    lo, hi = (float(x) for x in np.percentile(v, [0.5, 99.5]))
    if step:
        a, b = round(lo / step), round(hi / step)
        width = max(1, math.ceil((b - a + 1) / n_bins))
        return Binning((np.arange(a, b + width + 1, width) - 0.5) * step)
    if lo > 0 and hi > 100 * lo:
        return Binning(np.geomspace(lo, hi, n_bins + 1), log=True)
    if hi <= lo:
        pad = 0.5 * abs(lo) if lo else 0.5
        lo, hi = lo - pad, hi + pad
    return Binning(np.linspace(lo, hi, n_bins + 1))


def feature_binnings(reference: ShowerFeatures, reference_voxels: np.ndarray, n_bins: int = 40,
                     threshold_mev: float = 0.0) -> dict[str, Binning]:
    """The bins of every feature of :meth:`ShowerFeatures.columns` and of ``voxel_energy``, from the reference."""
    steps = {f"sparsity_{k}": 1.0 / n for k, n in enumerate(reference.layer_voxels)}
    out = {name: binning(v, n_bins, steps.get(name)) for name, v in reference.columns().items()}
    out[VOXEL_FEATURE] = binning(voxel_energies(reference_voxels, threshold_mev), n_bins)
    return out


def _voxel_counts(voxels: np.ndarray, bins: Binning, threshold_mev: float) -> np.ndarray:
    """Per-shower histogram of its voxel energies above the threshold: (N, K)."""
    v = np.asarray(voxels, np.float64)
    shower, voxel = np.nonzero(v > threshold_mev)
    flat = shower * bins.n_bins + bins.index(v[shower, voxel])
    return np.bincount(flat, minlength=len(v) * bins.n_bins).reshape(len(v), bins.n_bins)


def _histogram(sample: np.ndarray, rows: np.ndarray | None, n_bins: int) -> np.ndarray:
    """Counts (K,) of the showers ``rows`` (all if None) of ``sample``: (N,) bin indices or (N, K) per-shower counts."""
    part = sample if rows is None else sample[rows]
    return part.sum(0) if part.ndim == 2 else np.bincount(part, minlength=n_bins)


def _bootstrap_sep(ref: np.ndarray, cmp: np.ndarray, n_bins: int, n_boot: int,
                   rng: np.random.Generator) -> tuple[float, float]:
    """Separation power of two samples (see :func:`_histogram`) ± its std over ``n_boot`` resamplings of both."""
    value = separation_power(_histogram(ref, None, n_bins), _histogram(cmp, None, n_bins))
    boots = [separation_power(_histogram(ref, rng.integers(0, len(ref), len(ref)), n_bins),
                              _histogram(cmp, rng.integers(0, len(cmp), len(cmp)), n_bins)) for _ in range(n_boot)]
    return value, float(np.std(boots)) if boots else 0.0


def separation_powers(reference: ShowerFeatures, compared: ShowerFeatures, reference_voxels: np.ndarray,
                      compared_voxels: np.ndarray, n_bins: int = 40, threshold_mev: float = 0.0, n_boot: int = 20,
                      seed: int = 42) -> dict[str, tuple[float, float]]:
    """Separation power ± bootstrap std of every feature (bins of :func:`feature_binnings`): name -> (S, σ_S).

    A bootstrap resamples whole showers (a shower's voxels move together in the voxel spectrum).
    """
    bins = feature_binnings(reference, reference_voxels, n_bins, threshold_mev)
    rng = np.random.default_rng(seed)
    ref_cols, cmp_cols = reference.columns(), compared.columns()
    out = {}
    for name, b in bins.items():
        if name == VOXEL_FEATURE:
            r, c = (_voxel_counts(v, b, threshold_mev) for v in (reference_voxels, compared_voxels))  # (N, K)
        else:
            r, c = b.index(ref_cols[name]), b.index(cmp_cols[name])                                 # (N,)
        out[name] = _bootstrap_sep(r, c, b.n_bins, n_boot, rng)
    return out


@dataclass(frozen=True)
class ClassifierConfig:
    """The real-vs-generated DNN and its training; defaults are small for CPUs (see :meth:`challenge`)."""

    n_layers: int = 2            # hidden-to-hidden blocks after the input block (challenge: 2)
    n_hidden: int = 64           # challenge: 512
    dropout: float = 0.0
    lr: float = 1e-3             # challenge: 2e-4
    batch_size: int = 64         # challenge: 1000 (small samples need many steps per epoch)
    epochs: int = 50             # challenge: 50
    patience: int = 10           # epochs without a better validation loss before stopping (challenge: none)
    split: tuple[float, float, float] = (0.6, 0.2, 0.2)   # train, validation, test
    standardize: bool = True
    n_threads: int = 1           # torch CPU threads while training
    n_boot: int = 200            # bootstraps of the test part for the AUC's uncertainty

    @classmethod
    def challenge(cls) -> ClassifierConfig:
        """The CaloChallenge evaluation's sizes (its ``--cls_*`` defaults)."""
        return cls(n_hidden=512, lr=2e-4, batch_size=1000, epochs=50, patience=50)


def _dnn(n_in: int, c: ClassifierConfig) -> torch.nn.Sequential:
    """Input block, ``n_layers`` hidden blocks (Linear, LeakyReLU, Dropout), one output logit."""
    blocks: list[torch.nn.Module] = []
    for width_in in [n_in] + [c.n_hidden] * c.n_layers:
        blocks += [torch.nn.Linear(width_in, c.n_hidden), torch.nn.LeakyReLU(), torch.nn.Dropout(c.dropout)]
    return torch.nn.Sequential(*blocks, torch.nn.Linear(c.n_hidden, 1))


@contextmanager
def _threads(n: int) -> Iterator[None]:
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _split(real: np.ndarray, fake: np.ndarray, c: ClassifierConfig,
           rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """n = min(sizes) of each class, each split by ``c.split``: [(x, y) of train, validation, test]; real = 1."""
    n = min(len(real), len(fake))
    cuts = np.cumsum(np.round(np.asarray(c.split[:2]) * n).astype(int))
    parts: list[list[np.ndarray]] = [[], [], []]
    for x in (fake, real):
        for k, idx in enumerate(np.split(rng.permutation(len(x))[:n], cuts)):
            parts[k].append(x[idx])
    return [(np.concatenate(p), np.r_[np.zeros(len(p[0])), np.ones(len(p[1]))]) for p in parts]


def _train(model: torch.nn.Module, train: tuple[torch.Tensor, torch.Tensor], val: tuple[torch.Tensor, torch.Tensor],
           c: ClassifierConfig, rng: np.random.Generator) -> int:
    """Adam on BCE; keeps the weights of the epoch with the lowest validation loss; returns that epoch (1-based)."""
    opt = torch.optim.Adam(model.parameters(), lr=c.lr)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    best, best_epoch, state = math.inf, 0, None
    for epoch in range(1, c.epochs + 1):
        model.train()
        for idx in np.array_split(rng.permutation(len(train[0])), max(1, math.ceil(len(train[0]) / c.batch_size))):
            loss = loss_fn(model(train[0][idx]).squeeze(1), train[1][idx])      # (B,) logits vs labels
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            val_loss = float(loss_fn(model(val[0]).squeeze(1), val[1]))
        if val_loss < best:
            best, best_epoch, state = val_loss, epoch, {k: v.clone() for k, v in model.state_dict().items()}
        elif epoch - best_epoch >= c.patience:
            break
    if state is not None:
        model.load_state_dict(state)
    return best_epoch


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic: P(score_real > score_fake), ties counted half (y = 1: real)."""
    ranks = rankdata(score)
    n1 = float(y.sum())
    n0 = len(y) - n1
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)) if n1 and n0 else 0.5


def classifier_auc(real: np.ndarray, fake: np.ndarray, config: ClassifierConfig | None = None,
                   seed: int = 42) -> dict[str, float]:
    """Test-part ROC AUC of the DNN telling ``real (N, F)`` from ``fake (M, F)`` (module docstring).

    Returns {"value": AUC, "unc": bootstrap std, "n_test": showers in the test part, "epoch": the kept epoch}.
    The same inputs and seed give the same number (torch's global RNG is left as it was).
    """
    c = config or ClassifierConfig()
    rng = np.random.default_rng(seed)
    (xtr, ytr), (xva, yva), (xte, yte) = _split(np.asarray(real, np.float64), np.asarray(fake, np.float64), c, rng)
    mu, sd = (xtr.mean(0), xtr.std(0)) if c.standardize else (0.0, 1.0)
    sd = np.where(sd > 0, sd, 1.0)
    t = [(torch.as_tensor((x - mu) / sd, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32))
         for x, y in ((xtr, ytr), (xva, yva), (xte, yte))]
    with _threads(c.n_threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = _dnn(xtr.shape[1], c)
        epoch = _train(model, t[0], t[1], c, rng)
        with torch.no_grad():
            score = model(t[2][0]).squeeze(1).numpy()                               # (n_test,) logits
    auc = _auc(yte, score)
    boots = [_auc(yte[i], score[i]) for i in rng.integers(0, len(yte), (c.n_boot, len(yte)))]
    return {"value": auc, "unc": float(np.std(boots)) if boots else 0.0, "n_test": int(len(yte)), "epoch": epoch}


@dataclass(frozen=True)
class CaloMetricsConfig:
    """Settings of :func:`shower_metrics` and :func:`compare_showers`; FPD/KPD sizes as JetNet's, capped at n."""

    n_bins: int = 40
    n_boot: int = 20                  # bootstraps per separation power
    threshold_mev: float = 0.0        # voxels above it count as hit (sparsity, voxel spectrum)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    low_level: bool = True            # train the low-level classifier (the slow part on large layouts)
    high_level: bool = True
    fpd_min: int = 20_000
    fpd_max: int = 50_000
    fpd_points: int = 10
    fpd_batches: int = 20
    kpd_batches: int = 10
    kpd_batch_size: int = 5_000
    seed: int = 42


def _pair(v: tuple[float, float]) -> dict[str, float]:
    return {"value": float(v[0]), "unc": float(v[1])}


def shower_metrics(reference: tuple[np.ndarray, np.ndarray], compared: tuple[np.ndarray, np.ndarray],
                   layout: CaloLayout, config: CaloMetricsConfig | None = None) -> dict[str, Any]:
    """Every metric of ``compared`` against ``reference``, each a ``(voxels (N, V) MeV, incident (N,) MeV)`` pair.

    Returns {"separation_power": {feature: {"value", "unc"}}, "classifier_low", "classifier_high" (None when
    switched off), "fpd", "kpd": {"value", "unc"}}. Bins come from ``reference``; see the module docstring.
    """
    c = config or CaloMetricsConfig()
    (rv, re), (cv, ce) = (check_showers(*s, layout, what) for s, what in ((reference, "reference showers"),
                                                                          (compared, "compared showers")))
    fr, fc = (shower_features(v, e, layout, c.threshold_mev) for v, e in ((rv, re), (cv, ce)))
    seps = separation_powers(fr, fc, rv, cv, c.n_bins, c.threshold_mev, c.n_boot, c.seed)
    out: dict[str, Any] = {"separation_power": {k: _pair(v) for k, v in seps.items()}}
    out["classifier_low"] = classifier_auc(low_level(rv, re), low_level(cv, ce), c.classifier, c.seed) \
        if c.low_level else None
    hr, hc = fr.high_level(), fc.high_level()
    out["classifier_high"] = classifier_auc(hr, hc, c.classifier, c.seed) if c.high_level else None
    n = min(len(hr), len(hc))
    n_max = min(c.fpd_max, n)
    n_min = min(c.fpd_min, max(2, 2 * n_max // 5))
    out["fpd"] = _pair(jetnet.fpd(hr, hc, n_min, n_max, c.fpd_batches, c.fpd_points, seed=c.seed))
    out["kpd"] = _pair(jetnet.kpd(hr, hc, c.kpd_batches, min(c.kpd_batch_size, n), seed=c.seed))
    return out


def _with_floor(model: dict[str, Any], floor: dict[str, Any]) -> dict[str, Any]:
    return {"value": model["value"], "unc": model["unc"], "floor": floor["value"], "floor_unc": floor["unc"]}


def _maxima(seps: dict[str, dict[str, float]]) -> dict[str, dict[str, Any]]:
    """Largest separation power of each feature group (and of all): model and floor, with the feature names."""
    out = {}
    for group in ("all", *GROUPS):
        names = [k for k in seps if group == "all" or k.startswith(group)]
        top = max(names, key=lambda k: seps[k]["value"])
        top_floor = max(names, key=lambda k: seps[k]["floor"])
        out[group] = {"value": seps[top]["value"], "unc": seps[top]["unc"], "feature": top,
                      "floor": seps[top_floor]["floor"], "floor_unc": seps[top_floor]["floor_unc"],
                      "floor_feature": top_floor}
    return out


def compare_showers(real: tuple[np.ndarray, np.ndarray], fake: tuple[np.ndarray, np.ndarray], layout: CaloLayout,
                    config: CaloMetricsConfig | None = None) -> dict[str, Any]:
    """The metrics of generated showers and their floor, measured the same way: {"metric": {"value", "unc",
    "floor", "floor_unc"}, ...}.

    ``real`` is split into disjoint random halves A and B of n = min(N_real // 2, N_fake) showers, and n
    generated showers are drawn: "value" compares them with A, "floor" compares B with A (same reference,
    bins, sizes, classifier seed). Keys: "separation_power" (per feature), "separation_power_max" (per
    feature group: value, floor and the features that reach them), "classifier_low", "classifier_high",
    "fpd", "kpd", "n" and "config".
    """
    c = config or CaloMetricsConfig()
    rv, re = check_showers(*real, layout, "real showers")
    fv, fe = check_showers(*fake, layout, "generated showers")
    n = min(len(rv) // 2, len(fv))
    if n < 10:
        raise UsageError(f"compare_showers needs at least 20 real and 10 generated showers, got {len(rv)} and "
                         f"{len(fv)}")
    rng = np.random.default_rng(c.seed + 1)
    order, pick = rng.permutation(len(rv)), rng.permutation(len(fv))[:n]
    a, b = order[:n], order[n:2 * n]
    model = shower_metrics((rv[a], re[a]), (fv[pick], fe[pick]), layout, c)
    floor = shower_metrics((rv[a], re[a]), (rv[b], re[b]), layout, c)
    seps = {k: _with_floor(v, floor["separation_power"][k]) for k, v in model["separation_power"].items()}
    out: dict[str, Any] = {"n": n, "separation_power": seps, "separation_power_max": _maxima(seps)}
    for key in ("classifier_low", "classifier_high", "fpd", "kpd"):
        out[key] = None if model[key] is None else _with_floor(model[key], floor[key])
    out["config"] = asdict(c)
    return out
