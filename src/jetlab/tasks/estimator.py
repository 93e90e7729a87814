"""Fit-in-one-call models (BDT, linear discriminants, cuts) through the same run layout as Lightning runs.

``jetlab train --model bdt`` builds the features of the train and validation splits once (the same
:class:`~jetlab.data.batches.BatchBuilder` and splits as every other model), fits, and writes::

    RUN/config.yaml, RUN/representation.json       as for every run
    RUN/estimator.json                              kind, hyper-parameters, class names, fitted state
                                                    (numbers, or LightGBM's text model): no pickle
    RUN/train.json                                  fit time, trees/parameters, validation loss

``jetlab evaluate`` then scores the test split through :class:`EstimatorPredictor`.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import yaml

from jetlab.data.batches import BatchBuilder
from jetlab.data.module import JetDataModule
from jetlab.errors import InputError, UsageError
from jetlab.io.atomic import atomic_write_text
from jetlab.io.jets import Jets
from jetlab.io.showers import Showers
from jetlab.models import InputDims, count_parameters, create
from jetlab.tasks.config import RunConfig

if TYPE_CHECKING:
    from jetlab.models.classify.estimators import Estimator

__all__ = ["fit_run", "EstimatorPredictor"]

_CHUNK = 2048  # jets per feature-building call (bounds memory of the EFP contractions)


def _features(builder: BatchBuilder, jets: Jets | Showers) -> np.ndarray:
    """(N, F) float64 model inputs of ``jets`` (the ``x`` of the run's representation), chunked."""
    if builder.config.name not in ("hlf", "efp") and "hlf" not in builder.rep.serves:
        raise UsageError(f"fitted models read hlf, efp or shower_shapes features, not {builder.config.name!r}")
    parts = [builder(jets[i:i + _CHUNK])["x"].numpy() for i in range(0, len(jets), _CHUNK)]
    return np.concatenate(parts).astype(np.float64) if parts else np.zeros((0, builder.dims().hlf))


def fit_run(cfg: RunConfig, out: str | os.PathLike[str], resume: bool = False) -> dict[str, Any]:
    """Fit the estimator of ``cfg`` on its training split and write the run directory ``out``."""
    from jetlab.tasks.runfiles import save_builder

    out = Path(out)
    if (out / "estimator.json").is_file() and resume:
        return json.loads((out / "train.json").read_text())
    if (out / "config.yaml").exists() and not resume:
        raise UsageError(f"--out: {out} already holds a run; use --resume or another directory")
    dm = JetDataModule(cfg.data, cfg.selection, cfg.representation, cfg.trainer.batch_size)
    dm.setup()
    if dm.mode != "memory":
        raise UsageError(f"model {cfg.model!r} is fitted in one call on features in memory; this dataset is "
                         "streamed (set data.stream: memory, or use --max-jets)")
    cfg = replace(cfg, data=replace(cfg.data, classes=dm.selection.text, stream=dm.mode), scheme=dm.scheme_or_fail())
    builder = dm.builder
    # engine "fit": the registry entry builds an Estimator (the registry's type says only nn.Module)
    model = cast("Estimator", create(cfg.model, n_classes=dm.n_classes, dims=builder.dims(), **cfg.hparams))
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    save_builder(builder, out / "representation.json")
    start = time.perf_counter()  # the time counts building the features, as on-the-fly batches do for networks
    (x, y), (xv, yv) = ((_features(builder, dm.splits[s][0]), dm.splits[s][1]) for s in ("train", "val"))
    weight = dm.class_weights().numpy()[y] if cfg.data.balance == "weights" else None
    info = model.fit(x, y, xv, yv, weight)
    elapsed = time.perf_counter() - start
    hp = {"model": cfg.model, "hparams": cfg.hparams, "n_classes": dm.n_classes,
          "class_names": dm.selection.names, "dims": builder.dims().__dict__}
    state = {"kind": model.kind, "hyper_parameters": hp, "state": model.state()}
    atomic_write_text(out / "estimator.json", json.dumps(state))
    summary = {"task": cfg.task, "model": cfg.model, "scheme": cfg.scheme.name, "classes": dm.selection.names,
               "params": model.n_params,
               "epochs": 1, "global_steps": info.get("trees", 1), "best_val_loss": info.get("best_val_loss"),
               "train_time_s": elapsed, "n_train": len(y), "n_val": len(yv), "n_test": dm.split_size("test"),
               "data": dm.mode, "fit": info}
    atomic_write_text(out / "train.json", json.dumps(summary, indent=2))
    return summary


class EstimatorPredictor:
    """A fitted estimator of a run: ``batch -> (B, C)`` probabilities from the batch's features ``x``."""

    def __init__(self, run: str | Path) -> None:
        path = Path(run) / "estimator.json"
        if not path.is_file():
            raise InputError(f"{path}: missing (fit unfinished?)")
        try:
            saved = json.loads(path.read_text())
            hp = saved["hyper_parameters"]
            fitted = create(hp["model"], n_classes=hp["n_classes"], dims=InputDims(**hp["dims"]), **hp["hparams"])
            self.model = cast("Estimator", fitted).load_state(saved["state"])  # engine "fit": an Estimator
        except (ValueError, KeyError, TypeError) as e:
            raise InputError(f"{path}: not a fitted jetlab model ({type(e).__name__}: {e})") from None
        self.hparams, self.backend = hp, saved["kind"]
        self.n_params = count_parameters(self.model)

    def __call__(self, batch: dict[str, Any]) -> np.ndarray:
        return self.model.predict_proba(batch["x"].numpy().astype(np.float64)).astype(np.float32)
