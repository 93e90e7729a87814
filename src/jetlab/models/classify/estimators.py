"""The baselines a physicist reaches for first: boosted decision trees, linear discriminants, one cut.

These are not trained by gradient steps but fitted in one call on whole arrays (``engine="fit"`` in
the registry); ``jetlab train`` / ``evaluate`` / ``compare`` treat them like every other model
(:mod:`jetlab.tasks.estimator`). Each one maps features ``x`` (N, F) to class probabilities (N, C)
and saves itself as plain text (a LightGBM model string or JSON numbers): a run never holds a pickle.

========== ================ ======================================================================
name       input            model
========== ================ ======================================================================
bdt        16 HLF + τ ratios gradient-boosted trees (LightGBM), early stopping on the validation split
efp_linear EFPs d ≤ 5        Fisher linear discriminant (or logistic regression) on standardized
                             EFPs: the linear baseline of arXiv:1712.07124
cut_tau32  τ32               one variable, one cut: the score is the variable (sign chosen on the
cut_d2     D2 (β = 1)        training split); binary tasks only
cut_mass   mMDT mass         a mass window centred on the signal's median training mass
shower_bdt shower shapes     the same trees on the photon-identification variables of calorimeter
                             showers (strip E_ratio, w_s3, R_η, ...: :mod:`jetlab.physics.shower_shapes`)
========== ================ ======================================================================
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from jetlab.errors import UsageError
from jetlab.models.registry import InputDims, register_model

__all__ = ["Estimator", "BoostedTrees", "LinearDiscriminant", "OneCut"]


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)  # (N, C)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class Estimator:
    """Base: ``fit(x, y, x_val, y_val, weight)``, ``predict_proba(x) -> (N, C)``, text state."""

    kind = "estimator"

    def __init__(self, n_classes: int, **hparams: Any) -> None:
        self.n_classes, self.hparams = n_classes, hparams

    @property
    def n_params(self) -> int:
        raise NotImplementedError

    def fit(self, x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
            weight: np.ndarray | None = None) -> dict[str, Any]:
        raise NotImplementedError

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        """JSON-serializable fitted state (numbers and strings only)."""
        raise NotImplementedError

    def load_state(self, state: dict[str, Any]) -> Estimator:
        raise NotImplementedError


class BoostedTrees(Estimator):
    """Gradient-boosted decision trees (LightGBM): binary log-loss or multiclass softmax.

    Early stopping on the validation split after ``early_stopping`` rounds without improvement;
    ``n_params`` counts the leaves of the kept trees.
    """

    kind = "lightgbm"

    def __init__(self, n_classes: int, **hparams: Any) -> None:
        super().__init__(n_classes, **hparams)
        self.booster: Any = None

    def _params(self) -> dict[str, Any]:
        h = self.hparams
        objective = {"objective": "binary"} if self.n_classes == 2 else {"objective": "multiclass",
                                                                       "num_class": self.n_classes}
        return objective | {
            "learning_rate": h["learning_rate"], "num_leaves": h["num_leaves"], "max_depth": h["max_depth"],
            "min_data_in_leaf": h["min_child_samples"], "bagging_fraction": h["subsample"], "bagging_freq": 1,
            "feature_fraction": h["colsample"], "lambda_l2": h["l2"], "seed": h["seed"], "deterministic": True,
            "num_threads": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1,
            "verbosity": -1,
        }

    def fit(self, x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
            weight: np.ndarray | None = None) -> dict[str, Any]:
        import lightgbm as lgb

        train = lgb.Dataset(x, y, weight=weight, free_raw_data=True)
        val = lgb.Dataset(x_val, y_val, reference=train)
        self.booster = lgb.train(self._params(), train, num_boost_round=self.hparams["n_estimators"],
                                 valid_sets=[val], valid_names=["val"],
                                 callbacks=[lgb.early_stopping(self.hparams["early_stopping"], verbose=False)])
        best = self.booster.best_score.get("val", {})
        return {"trees": self.booster.best_iteration or self.booster.current_iteration(),
                "best_val_loss": float(next(iter(best.values()))) if best else None}

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        p = np.asarray(self.booster.predict(x, num_iteration=self.booster.best_iteration or None))
        return np.stack([1 - p, p], axis=1) if self.n_classes == 2 else p  # (N, C)

    @property
    def n_params(self) -> int:
        if self.booster is None:
            return 0
        text = self.booster.model_to_string(num_iteration=self.booster.best_iteration or None)
        return sum(int(line.split("=")[1]) for line in text.splitlines() if line.startswith("num_leaves="))

    def state(self) -> dict[str, Any]:
        return {"model": self.booster.model_to_string(num_iteration=self.booster.best_iteration or None)}

    def load_state(self, state: dict[str, Any]) -> BoostedTrees:
        import lightgbm as lgb

        self.booster = lgb.Booster(model_str=state["model"])
        return self


class LinearDiscriminant(Estimator):
    """Linear scores ``x̂ W + b`` on standardized features (x̂ = (x - μ)/σ, optionally of log x).

    ``method="fisher"``: Fisher's linear discriminant (scikit-learn LDA, shrinkage covariance, since
    EFPs are strongly correlated); ``method="logistic"``: L2-regularized logistic regression.
    Probabilities: sigmoid (binary) or softmax (multiclass) of the scores, as scikit-learn computes them.
    """

    kind = "linear"

    def __init__(self, n_classes: int, **hparams: Any) -> None:
        super().__init__(n_classes, **hparams)
        if hparams["method"] not in ("fisher", "logistic"):
            raise UsageError(f"efp_linear: method {hparams['method']!r} is not fisher or logistic")
        self.mean = self.std = self.coef = self.intercept = None

    def _prepare(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64)
        return np.log(np.maximum(x, 1e-30)) if self.hparams["log"] else x

    def fit(self, x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
            weight: np.ndarray | None = None) -> dict[str, Any]:
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
        from sklearn.linear_model import LogisticRegression

        x = self._prepare(x)
        self.mean, std = x.mean(axis=0), x.std(axis=0)
        self.std = np.where(std > 0, std, 1.0)
        xs = (x - self.mean) / self.std  # (N, F)
        if self.hparams["method"] == "fisher":
            model = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(xs, y)
        else:
            model = LogisticRegression(C=self.hparams["C"], max_iter=2000).fit(xs, y, sample_weight=weight)
        self.coef, self.intercept = model.coef_.astype(np.float64), model.intercept_.astype(np.float64)
        p = np.clip(self.predict_proba(x_val), 1e-12, 1.0)
        return {"best_val_loss": float(-np.log(p[np.arange(len(y_val)), y_val]).mean())}

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        scores = ((self._prepare(x) - self.mean) / self.std) @ self.coef.T + self.intercept  # (N, 1) or (N, C)
        if scores.shape[1] == 1:
            scores = np.concatenate([np.zeros_like(scores), scores], axis=1)  # sigmoid = softmax of (0, s)
        return _softmax(scores)

    @property
    def n_params(self) -> int:
        return 0 if self.coef is None else int(self.coef.size + self.intercept.size)

    def state(self) -> dict[str, Any]:
        return {k: getattr(self, k).tolist() for k in ("mean", "std", "coef", "intercept")}

    def load_state(self, state: dict[str, Any]) -> LinearDiscriminant:
        for k in ("mean", "std", "coef", "intercept"):
            setattr(self, k, np.asarray(state[k], np.float64))
        return self


class OneCut(Estimator):
    """A single-variable cut, as in a cut-based analysis: the ROC scans the cut value.

    ``mode="auto"``: the score is ±x, the sign that separates signal (class 1) from background on the
    training split. ``mode="window"``: the score is -|x - c|, c the signal's median training value
    (a mass window centred on the peak; the ROC scans its half-width). Binary tasks only.
    """

    kind = "cut"

    def __init__(self, n_classes: int, **hparams: Any) -> None:
        super().__init__(n_classes, **hparams)
        if hparams["mode"] not in ("auto", "window"):
            raise UsageError(f"cut: mode {hparams['mode']!r} is not auto or window")
        self.sign, self.centre, self.scale = 1.0, 0.0, 1.0

    def _score(self, x: np.ndarray) -> np.ndarray:
        v = np.asarray(x, np.float64)[:, 0]  # (N,) the one variable
        return -np.abs(v - self.centre) if self.hparams["mode"] == "window" else self.sign * v

    def fit(self, x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
            weight: np.ndarray | None = None) -> dict[str, Any]:
        from sklearn.metrics import roc_auc_score

        if self.n_classes != 2:
            raise UsageError("cut baselines are binary: train them with e.g. --classes t:g,q")
        if x.shape[1] != 1:
            raise UsageError(f"cut: needs exactly one input variable, got {x.shape[1]} (set representation.hlf_names)")
        if self.hparams["mode"] == "window":
            self.centre = float(np.median(x[y == 1, 0]))
        else:
            self.sign = 1.0 if roc_auc_score(y, x[:, 0]) >= 0.5 else -1.0
        s = self._score(x)
        self.scale = float(s.std()) or 1.0
        return {"best_val_loss": None, "auc_train": float(roc_auc_score(y, s))}

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        s = self._score(x) / self.scale  # any monotonic map keeps the ROC; logistic keeps it in (0, 1)
        p = 1.0 / (1.0 + np.exp(-np.clip(s, -50, 50)))
        return np.stack([1 - p, p], axis=1)

    @property
    def n_params(self) -> int:
        return 1

    def state(self) -> dict[str, Any]:
        return {"sign": self.sign, "centre": self.centre, "scale": self.scale}

    def load_state(self, state: dict[str, Any]) -> OneCut:
        self.sign, self.centre, self.scale = (float(state[k]) for k in ("sign", "centre", "scale"))
        return self


# LightGBM's settings of both boosted-tree baselines (early stopping on the validation split picks the tree count)
BDT_DEFAULTS: dict[str, Any] = {"n_estimators": 1000, "learning_rate": 0.05, "num_leaves": 31, "max_depth": -1,
                                "min_child_samples": 20, "subsample": 0.8, "colsample": 0.8, "l2": 0.0,
                                "early_stopping": 50, "seed": 0}


# Boosted decision trees (LightGBM) on the course's 16 high-level features, the same inputs as mlp.
# Add N-subjettiness ratios with a --config holding:
# representation: {name: hlf, hlf_names: [j_zlogz, ..., j_multiplicity, j_tau21_b1, j_tau32_b1]}
# Trees are fitted in one call (no epochs): early stopping on the validation split picks the tree count.
@register_model("bdt",
                family="bdt", representation="hlf", engine="fit", paper="LightGBM (Ke et al. 2017)", **BDT_DEFAULTS)
def bdt(n_classes: int, dims: InputDims, **hp: Any) -> Estimator:
    """Boosted decision trees (LightGBM) on the high-level substructure features."""
    return BoostedTrees(n_classes, **hp)


# Fisher linear discriminant on the 53 connected energy flow polynomials of degree <= 5 (beta = 1),
# from the 64 hardest constituents (arXiv:1712.07124's linear baseline). Fitted in one call.
@register_model("efp_linear",
                recipe={"representation": {"efp_degree": 5, "efp_beta": 1.0, "max_particles": 64}},
                family="linear", representation="efp", engine="fit", paper="arXiv:1712.07124",
                method="fisher", log=False, C=1.0)
def efp_linear(n_classes: int, dims: InputDims, **hp: Any) -> Estimator:
    """Fisher linear discriminant on energy flow polynomials (d ≤ 5): the EFP paper's linear baseline."""
    return LinearDiscriminant(n_classes, **hp)


# One cut on tau32 = tau3/tau2 (beta = 1): the classic top tagger's substructure variable. Binary tasks only.
@register_model("cut_tau32",
                recipe={"representation": {"hlf_names": ("j_tau32_b1",)}},
                family="cut", representation="hlf", engine="fit", paper="arXiv:1011.2268",
                mode="auto")
def cut_tau32(n_classes: int, dims: InputDims, **hp: Any) -> Estimator:
    """One cut on N-subjettiness τ32 (three-prong top jets have small τ32)."""
    return OneCut(n_classes, **hp)


# One cut on D2 (beta = 1) of the mMDT-groomed jet: the classic W/Z two-prong variable. Binary tasks only.
@register_model("cut_d2",
                recipe={"representation": {"hlf_names": ("j_d2_b1_mmdt",)}},
                family="cut", representation="hlf", engine="fit", paper="arXiv:1409.6298", mode="auto")
def cut_d2(n_classes: int, dims: InputDims, **hp: Any) -> Estimator:
    """One cut on the energy-correlation ratio D2 (two-prong W/Z jets have small D2)."""
    return OneCut(n_classes, **hp)


# A window in the mMDT-groomed jet mass, centred on the signal's median mass. Binary tasks only.
@register_model("cut_mass",
                recipe={"representation": {"hlf_names": ("j_mass_mmdt",)}},
                family="cut", representation="hlf", engine="fit", paper="arXiv:1307.0007",
                mode="window")
def cut_mass(n_classes: int, dims: InputDims, **hp: Any) -> Estimator:
    """A groomed (mMDT) jet-mass window centred on the signal peak."""
    return OneCut(n_classes, **hp)


# Boosted decision trees on the shower shapes that calorimeter groups identify photons with (strip E_ratio, w_s3,
# w_stot, f_side, ΔE; middle R_η, R_φ, w_η2; layer fractions; ln E): the baseline of image classifiers on showers.
@register_model("shower_bdt",
                family="bdt", representation="shower_shapes", engine="fit", paper="arXiv:1908.00005",
                **BDT_DEFAULTS)
def shower_bdt(n_classes: int, dims: InputDims, **hp: Any) -> Estimator:
    """Boosted decision trees (LightGBM) on the photon-identification shower shapes of calorimeter showers."""
    return BoostedTrees(n_classes, **hp)
