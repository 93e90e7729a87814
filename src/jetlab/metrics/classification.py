"""Metrics of jet taggers: AUC, background rejection, accuracy and confusion, with bootstrap uncertainties.

Definitions, one class against the rest (signal = jets of class ``c``, background = all other jets,
score = the predicted probability ``p_c``; in binary mode signal = class 1, score = ``p_1``):

- signal efficiency ``εS(t)``: fraction of signal jets with score >= t (true-positive rate, TPR);
- background efficiency or mistag rate ``εB(t)``: fraction of background jets with score >= t
  (false-positive rate, FPR);
- ROC curve: the points (εB, εS) for every threshold t, joined by straight lines;
- background rejection ``1/εB`` at a working point ``εS = x``: 1 over the εB of the ROC, linearly
  interpolated at εS = x (the tagger's figure of merit in the Top Tagging landscape, arXiv:1902.09914);
- AUC: area under εS(εB) = P(score of a random signal jet > that of a random background jet)
  + ½ P(equal scores); 0.5 for random guessing, 1 for a perfect tagger.

Uncertainties are bootstrap standard deviations (ddof = 1): the test set is resampled with replacement
``n_bootstrap`` times, the same resamples serve every metric, and each metric is recomputed on each
resample. Scores are sorted once per class; a resample is a vector of multiplicities, so its ROC is a
weighted cumulative sum over the sorted scores (no re-sorting).

Infinite rejection: when εB = 0 at the working point (no background jet passes the cut that keeps a
fraction x of the signal) the rejection exceeds what the test set can resolve. :func:`rejection_at`
then returns ``math.inf``; :func:`classification_metrics` keeps its output valid JSON by writing
``"value": null, "inf": true``; with the class's ``n_background`` the rejection reads "> n_background".
Resamples with εB = 0 are left out of the rejection's uncertainty.

Example:
    >>> fpr, tpr = [0.0, 0.0, 0.1, 0.2, 0.5, 1.0], [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    >>> round(rejection_at(fpr, tpr, 0.5), 3)     # εB = 0.15 halfway between (0.1, 0.4) and (0.2, 0.6)
    6.667
    >>> rejection_at(fpr, tpr, 0.2)               # εB = 0: nothing to resolve it with
    inf
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import confusion_matrix, roc_auc_score, roc_curve

__all__ = ["rejection_at", "classification_metrics", "roc_points", "sorted_groups", "weighted_auc_and_fpr",
           "versus_auc", "binned_metrics"]

_CHUNK_ELEMENTS = 4_000_000  # resamples x jets held at once in the bootstrap (bounds memory to ~100 MB)
_PER_CLASS = ("n_signal", "n_background", "auc", "auc_unc", "rejection")  # keys holding class name -> value


def rejection_at(fpr: ArrayLike, tpr: ArrayLike, eff: float) -> float:
    """Background rejection 1/εB at signal efficiency εS = ``eff``, from a ROC curve.

    Arguments:
        fpr, tpr: the ROC's εB and εS, both non-decreasing, starting at the (0, 0) end, as returned
            by :func:`sklearn.metrics.roc_curve` (or :func:`roc_points`).
        eff: the working point εS, in (0, 1].

    The ROC is a path of straight segments. εB at εS = ``eff`` is read on the first segment that
    reaches ``eff``; a horizontal run (εS constant while εB grows) gives its smallest εB.
    Returns ``math.inf`` when that εB is 0.
    """
    f, t = np.asarray(fpr, dtype=np.float64), np.asarray(tpr, dtype=np.float64)
    if f.ndim != 1 or f.shape != t.shape or f.size == 0:
        raise ValueError(f"fpr and tpr must be 1-D of equal non-zero length, got {f.shape} and {t.shape}")
    if np.any(np.diff(f) < 0) or np.any(np.diff(t) < 0):
        raise ValueError("fpr and tpr must be non-decreasing (a ROC from the (0, 0) end)")
    if not 0.0 < eff <= 1.0:
        raise ValueError(f"signal efficiency must be in (0, 1], got {eff}")
    if t[-1] < eff:
        raise ValueError(f"the ROC never reaches εS = {eff} (max {t[-1]})")
    eps_b = _fpr_at(f, t, eff)
    return math.inf if eps_b <= 0.0 else 1.0 / eps_b


def _fpr_at(fpr: np.ndarray, tpr: np.ndarray, eff: float) -> float:
    """εB at εS = ``eff`` on the ROC path (``fpr``, ``tpr``), both non-decreasing; ``eff`` in (0, 1]."""
    i = min(int(np.searchsorted(tpr, eff, side="left")), tpr.size - 1)       # first point with εS >= eff
    if i == 0 or tpr[i] <= tpr[i - 1]:
        return float(fpr[i])
    frac = (eff - tpr[i - 1]) / (tpr[i] - tpr[i - 1])
    return float(fpr[i - 1] + frac * (fpr[i] - fpr[i - 1]))


def _bkg_passing(tp: np.ndarray, bkg: np.ndarray, target: float) -> float:
    """Background weight passing where the signal weight passing reaches ``target`` (> 0), interpolated.

    ``tp`` (G,) is the cumulative signal weight and ``bkg`` (G,) the background weight per score
    group, in descending score order; the ROC path starts at the origin.
    """
    whole = tp.dtype.type(math.ceil(target))                                    # TP are integers: no float copy
    i = min(int(np.searchsorted(tp, whole, side="left")), tp.size - 1)        # first group with TP >= target
    f1 = float(bkg[: i + 1].sum())
    t0, f0 = (float(tp[i - 1]), f1 - float(bkg[i])) if i > 0 else (0.0, 0.0)
    t1 = float(tp[i])
    return f1 if t1 <= t0 else f0 + (target - t0) / (t1 - t0) * (f1 - f0)


def weighted_auc_and_fpr(
    weights: np.ndarray, positive: np.ndarray, starts: np.ndarray, effs: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """AUC and εB at each εS in ``effs`` for R weightings of one sorted sample.

    Arguments:
        weights: (R, N) integer jet multiplicities (bootstrap counts), columns in *descending* score order.
        positive: (N,) bool, True for signal jets, same order.
        starts: (G,) index of the first jet of each group of equal scores in that order.
        effs: working points εS, in (0, 1].

    Returns ``auc`` (R,) and ``eps_b`` (R, E); NaN for rows without signal or background weight.
    With S_g, B_g the signal and background weight of score group g and TP_g the signal weight of
    the groups scoring >= g: AUC = Σ_g B_g (TP_g - S_g / 2) / (S B); εB at εS is read off the ROC
    path through the origin and the points (Σ_{h<=g} B_h / B, TP_g / S), as in :func:`rejection_at`.
    """
    sig = np.where(positive, weights, 0)                                         # (R, N)
    tied = starts.size < weights.shape[1]
    if tied:                                                                     # sum weights per score group
        sig, bkg = np.add.reduceat(sig, starts, axis=1), np.add.reduceat(weights, starts, axis=1)
        bkg -= sig                                                               # (R, G)
    else:
        bkg = weights - sig                                                      # (R, N); bkg * sig == 0
    pairs = np.zeros(weights.shape[0])                                           # 2 x ordered (sig, bkg) pairs
    if tied:
        pairs -= np.einsum("rg,rg->r", bkg, sig, dtype=np.float64)               # ties count one half
    tp = np.cumsum(sig, axis=1, dtype=sig.dtype, out=sig)                        # (R, G), in place: sig is ours
    pairs += 2.0 * np.einsum("rg,rg->r", bkg, tp, dtype=np.float64)
    n_sig, n_bkg = tp[:, -1].astype(np.float64), bkg.sum(axis=1).astype(np.float64)  # (R,)
    ok = (n_sig > 0) & (n_bkg > 0)
    auc = np.full(ok.shape, np.nan)
    auc[ok] = pairs[ok] / (2.0 * n_sig[ok] * n_bkg[ok])
    eps_b = np.full((weights.shape[0], len(effs)), np.nan)
    for r in np.flatnonzero(ok):                                                 # R x E binary searches
        eps_b[r] = [_bkg_passing(tp[r], bkg[r], eff * n_sig[r]) / n_bkg[r] for eff in effs]
    return auc, eps_b


def sorted_groups(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort once for :func:`weighted_auc_and_fpr`.

    Returns the order (N,) of ``scores`` (N,), descending, and the index (G,) in that order at which
    each run of equal scores starts.
    """
    order = np.argsort(-scores, kind="stable")
    s = scores[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    return order, starts


def _bootstrap(
    scores: np.ndarray, labels: np.ndarray, signal: Sequence[int], correct: np.ndarray,
    effs: Sequence[float], n_bootstrap: int, seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Resampled accuracy (R,), AUC (R, S) and εB (R, S, E) for the signal classes ``signal``.

    ``scores`` (N, C) are the probabilities; class ``c`` is scored by column ``c``.
    """
    n = labels.shape[0]
    rng = np.random.default_rng(seed)
    sorted_by = [sorted_groups(scores[:, c]) for c in signal]
    acc = np.empty(n_bootstrap)
    auc = np.empty((n_bootstrap, len(signal)))
    eps_b = np.empty((n_bootstrap, len(signal), len(effs)))
    step = max(1, _CHUNK_ELEMENTS // max(n, 1))
    for lo in range(0, n_bootstrap, step):
        r = min(step, n_bootstrap - lo)
        draws = rng.integers(0, n, size=(r, n)) + n * np.arange(r)[:, None]     # (r, N) flat indices
        counts = np.bincount(draws.ravel(), minlength=r * n).reshape(r, n).astype(np.int32)  # multiplicities
        acc[lo:lo + r] = counts @ correct / n
        in_order = np.empty_like(counts)                                         # (r, N), reused per class
        for k, (c, (order, starts)) in enumerate(zip(signal, sorted_by, strict=True)):
            np.take(counts, order, axis=1, out=in_order)
            auc[lo:lo + r, k], eps_b[lo:lo + r, k] = weighted_auc_and_fpr(in_order, labels[order] == c, starts, effs)
    return acc, auc, eps_b


def _std(samples: np.ndarray) -> float | None:
    """Standard deviation (ddof = 1) of the finite entries; None with fewer than two."""
    finite = samples[np.isfinite(samples)]
    return float(np.std(finite, ddof=1)) if finite.size >= 2 else None


def _class_entry(
    pos: np.ndarray, score: np.ndarray, effs: Sequence[float], boot_auc: np.ndarray | None,
    boot_eps_b: np.ndarray | None,
) -> dict[str, Any]:
    """One-vs-rest metrics of one class: counts, AUC ± unc, 1/εB ± unc at each εS (JSON-ready)."""
    n_sig, n_bkg = int(pos.sum()), int((~pos).sum())
    entry: dict[str, Any] = {"n_signal": n_sig, "n_background": n_bkg, "auc": None, "auc_unc": None,
                             "rejection": {}}  # fmt: skip
    if n_sig == 0 or n_bkg == 0:
        entry["rejection"] = {f"{e:g}": {"value": None, "unc": None, "inf": False} for e in effs}
        return entry
    fpr, tpr, _ = roc_curve(pos, score)
    entry["auc"] = float(roc_auc_score(pos, score))
    entry["auc_unc"] = None if boot_auc is None else _std(boot_auc)
    for k, eff in enumerate(effs):
        rej = rejection_at(fpr, tpr, eff)
        finite, unc = math.isfinite(rej), None
        if boot_eps_b is not None and finite:
            with np.errstate(divide="ignore"):
                unc = _std(1.0 / boot_eps_b[:, k])                           # resamples with εB = 0 left out
        entry["rejection"][f"{eff:g}"] = {"value": rej if finite else None, "unc": unc, "inf": not finite}
    return entry


def classification_metrics(
    probs: ArrayLike,
    labels: ArrayLike,
    class_names: Sequence[str],
    signal_effs: Sequence[float] = (0.3, 0.5),
    n_bootstrap: int = 100,
    seed: int = 0,
) -> dict[str, Any]:
    """Accuracy, confusion matrix, one-vs-rest AUC and 1/εB of a C-class tagger, with bootstrap errors.

    Arguments:
        probs: (N, C) class probabilities (any per-class score works: only the ordering matters).
        labels: (N,) integer true classes in ``0..C-1``.
        class_names: C names, e.g. ``["g", "q", "w", "z", "t"]`` or, binary, ``["g+q", "t"]``.
        signal_effs: working points εS of the rejections.
        n_bootstrap: resamples of the test set for the uncertainties; 0 gives None uncertainties.
            100 resamples of N = 1e5 jets and 5 classes take about a second.
        seed: seed of the resampling.

    Returns a JSON-serializable dict (``*_unc``: bootstrap standard deviation, None without resamples):

    - ``n_jets``, ``class_names``, ``binary`` (C == 2), ``signal_effs``, ``n_bootstrap``, ``seed``;
    - ``accuracy``, ``accuracy_unc``: fraction of jets whose arg-max class is the true one;
    - ``confusion``: ``counts`` (C x C, row = true class, column = predicted) and ``normalized``
      (each row divided by its sum; an empty row stays 0);
    - per signal class, keyed by class name: ``n_signal``, ``n_background`` (jets), ``auc``,
      ``auc_unc`` (floats) and ``rejection`` (``"0.3"`` -> ``{"value", "unc", "inf"}``, see above);
    - ``macro_auc``, ``macro_auc_unc``: mean of the per-class AUCs (None if one is undefined).

    The signal classes are all C classes, each against the rest; in binary mode only class 1 (score
    ``probs[:, 1]``, background class 0), named in ``signal`` and ``background``, and ``macro_auc`` is
    its AUC. A class absent from ``labels`` (or making up all of it) has AUC and rejections None.

    Example:
        >>> m = classification_metrics([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7]], [0, 0, 1], ["g+q", "t"])
        >>> m["signal"], m["auc"], m["accuracy"], m["confusion"]["counts"]
        ('t', {'t': 1.0}, 0.6666666666666666, [[1, 1], [0, 1]])
    """
    p, y, effs = _check_inputs(probs, labels, class_names, signal_effs)
    n, c = p.shape
    binary = c == 2
    signal = [1] if binary else list(range(c))
    pred = p.argmax(axis=1)
    correct = (pred == y).astype(np.float64)
    boot = _bootstrap(p, y, signal, correct, effs, n_bootstrap, seed) if n_bootstrap > 0 and n > 0 else None
    per_class = {
        str(class_names[s]): _class_entry(y == s, p[:, s], effs, None if boot is None else boot[1][:, k],
                                          None if boot is None else boot[2][:, k])
        for k, s in enumerate(signal)
    }  # fmt: skip
    aucs = [e["auc"] for e in per_class.values()]
    macro = float(np.mean(aucs)) if aucs and None not in aucs else None
    out: dict[str, Any] = {
        "n_jets": int(n), "class_names": [str(s) for s in class_names], "binary": binary,
        "signal_effs": effs, "n_bootstrap": int(n_bootstrap), "seed": int(seed),
        "accuracy": float(correct.mean()) if n else None,
        "accuracy_unc": None if boot is None else _std(boot[0]),
        "confusion": _confusion(y, pred, c),
        **{key: {name: e[key] for name, e in per_class.items()} for key in _PER_CLASS},
        "macro_auc": macro,
        "macro_auc_unc": None if boot is None or macro is None else _std(np.mean(boot[1], axis=1)),
    }  # fmt: skip
    if binary:
        out.update(signal=str(class_names[1]), background=str(class_names[0]))
    return out


def _confusion(labels: np.ndarray, pred: np.ndarray, n_classes: int) -> dict[str, list[list[Any]]]:
    """Confusion matrix (row = true, column = predicted): counts and rows normalised to 1."""
    cm = confusion_matrix(labels, pred, labels=list(range(n_classes)))
    rows = cm.sum(axis=1, keepdims=True)
    normalized = np.divide(cm, rows, out=np.zeros(cm.shape), where=rows > 0)
    return {"counts": cm.astype(int).tolist(), "normalized": normalized.tolist()}


def _check_inputs(
    probs: ArrayLike, labels: ArrayLike, class_names: Sequence[str], signal_effs: Sequence[float]
) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """``probs`` as float64 (N, C), ``labels`` as int64 (N,) and the working points, validated."""
    effs = [float(e) for e in signal_effs]
    if any(not 0.0 < e <= 1.0 for e in effs):
        raise ValueError(f"signal efficiencies must be in (0, 1], got {effs}")
    p, y = np.asarray(probs, dtype=np.float64), np.asarray(labels)
    if p.ndim != 2 or p.shape[1] != len(class_names):
        raise ValueError(f"probs must be (N, {len(class_names)}) for classes {list(class_names)}, got {p.shape}")
    if y.shape != (p.shape[0],):
        raise ValueError(f"labels must be ({p.shape[0]},), got {y.shape}")
    if y.size and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= p.shape[1]):
        raise ValueError(f"labels must be integers in 0..{p.shape[1] - 1}")
    if not np.all(np.isfinite(p)):
        raise ValueError("probs contain NaN or infinite values")
    return p, y.astype(np.int64), effs


def roc_points(
    probs: ArrayLike, labels: ArrayLike, cls: int, max_points: int = 2000
) -> tuple[np.ndarray, np.ndarray]:
    """ROC of class ``cls`` against the rest: ``fpr`` (εB) and ``tpr`` (εS), at most ``max_points`` each.

    Arguments:
        probs: (N, C) probabilities; class ``cls`` is scored by ``probs[:, cls]``.
        labels: (N,) integer true classes.
        cls: the signal class (1 in binary mode).
        max_points: longer curves keep a subset of their own points, spread evenly along the curve
            as drawn (εS linear, εB logarithmic), always including both ends.
    """
    p, y = np.asarray(probs, dtype=np.float64), np.asarray(labels)
    pos = y == cls
    if not pos.any() or pos.all():
        raise ValueError(f"class {cls} needs both signal and background jets for a ROC")
    fpr, tpr, _ = roc_curve(pos, p[:, cls])
    if fpr.size <= max_points:
        return fpr, tpr
    floor = fpr[fpr > 0].min()
    logf = np.log10(np.maximum(fpr, floor))
    span = max(float(logf[-1] - logf[0]), 1e-12)
    step = np.hypot(np.diff(tpr), np.diff(logf) / span)                          # path length, unit box
    s = np.r_[0.0, np.cumsum(step)]
    keep = np.searchsorted(s, np.linspace(0.0, s[-1], max_points - 2))
    keep = np.unique(np.r_[0, np.minimum(keep, fpr.size - 1), fpr.size - 1])
    return fpr[keep], tpr[keep]


def versus_auc(probs: np.ndarray, labels: np.ndarray, signal: int, background: Sequence[int]) -> float | None:
    """AUC of one class against chosen others only, e.g. top vs QCD (g, q) from a 5-class tagger.

    The discriminant is p_s / (p_s + Σ_b p_b) over jets of the signal and background classes
    (the usual way to turn a multi-class output into a binary tagger). None if a side is empty.

    Example:
        >>> p = np.array([[0.1, 0.1, 0.8], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.3, 0.3, 0.4]])
        >>> versus_auc(p, np.array([2, 0, 1, 1]), signal=2, background=[0, 1])
        1.0
    """
    probs, labels = np.asarray(probs, np.float64), np.asarray(labels)
    keep = np.isin(labels, [signal, *background])
    if not (labels[keep] == signal).any() or (labels[keep] == signal).all():
        return None
    p = probs[keep]
    score = p[:, signal] / np.maximum(p[:, [signal, *background]].sum(axis=1), 1e-12)
    return float(roc_auc_score(labels[keep] == signal, score))


def binned_metrics(probs: ArrayLike, labels: ArrayLike, values: ArrayLike, edges: Sequence[float],
                   signal_effs: Sequence[float] = (0.5, 0.9), n_bootstrap: int = 100, seed: int = 0
                   ) -> list[dict[str, Any]]:
    """A binary tagger's AUC and 1/εB (signal = class 1, score ``probs[:, 1]``) in bins of ``values`` (N,),
    e.g. the incident energy of calorimeter showers: one :func:`classification_metrics`-style entry per bin
    ``[edges[i], edges[i+1])`` (the last bin closed), with ``lo``, ``hi`` and ``n_signal``, ``n_background``,
    ``auc``, ``auc_unc``, ``rejection`` of the signal class; a bin with one side empty has None metrics.

    Example:
        >>> p = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.1, 0.9]])
        >>> [b["auc"] for b in binned_metrics(p, [0, 1, 0, 1], [5.0, 5.0, 50.0, 50.0], [1, 10, 100], n_bootstrap=0)]
        [1.0, 1.0]
    """
    p, y, effs = _check_inputs(probs, labels, ["background", "signal"], signal_effs)
    v, edges = np.asarray(values, np.float64), [float(e) for e in edges]
    out = []
    for k, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        inside = (v >= lo) & ((v < hi) if k < len(edges) - 2 else (v <= hi))
        m = classification_metrics(p[inside], y[inside], ["background", "signal"], effs, n_bootstrap, seed)
        out.append({"lo": lo, "hi": hi, **{key: m[key]["signal"] for key in _PER_CLASS}})
    return out
