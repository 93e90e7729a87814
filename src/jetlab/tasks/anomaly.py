"""Anomaly detection: autoencoders trained on background jets only, scored on every class.

``jetlab anomaly train --model ae --data D --background g,q --out RUN`` trains on the
background classes of the train/val splits; ``jetlab anomaly evaluate RUN`` scores the test
split of *all* classes (the background test jets were never seen) and reports, per signal class,
AUC, εS at fixed εB, the SIC curve and its maximum, with score, latent and image plots.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import lightning as L
import numpy as np
import torch

from jetlab.data.module import JetDataModule
from jetlab.io.atomic import atomic_write_text
from jetlab.models import InputDims, create
from jetlab.tasks.registry import TaskSpec, register_task

if TYPE_CHECKING:
    from jetlab.models.anomaly.autoencoders import AutoEncoder

__all__ = ["AnomalyModule", "AnomalyDataModule", "score_test_split", "anomaly_module"]


class AnomalyModule(L.LightningModule):
    """An autoencoder of the registry trained with its own loss (reconstruction, + β·KL for the VAE)."""

    def __init__(self, model: str, hparams: dict[str, Any], dims: dict[str, Any], class_names: list[str],
                 optim: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        # an anomaly registry entry builds an AutoEncoder (the registry's type says only nn.Module)
        self.model = cast("AutoEncoder", create(model, n_classes=2, dims=InputDims(**dims), **hparams))
        from jetlab.tasks.classify import OptimConfig

        self.optim = OptimConfig(**(optim or {}))

    def _step(self, batch: dict[str, Any], stage: str) -> torch.Tensor:
        out = self.model(batch)
        total, parts = self.model.loss(out)
        n = batch["x"].shape[0]
        self.log(f"{stage}_loss", total, prog_bar=True, on_epoch=True, on_step=False, batch_size=n, sync_dist=True)
        for name, value in parts.items():
            self.log(f"{stage}_{name}", value, on_epoch=True, on_step=False, batch_size=n, sync_dist=True)
        return total

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "val")

    def configure_optimizers(self) -> Any:
        from jetlab.tasks.classify import build_optimizers

        return build_optimizers(self, self.optim)  # the classifier's optimizers and schedulers


class AnomalyDataModule(JetDataModule):
    """Splits all jets once (stratified); trains and validates on background classes only, tests on all."""

    def split_pool(self, labels: np.ndarray) -> np.ndarray:
        """Every labelled jet: the test split holds signal classes never seen in training."""
        return labels >= 0

    def split_targets(self, split: str, labels: np.ndarray) -> np.ndarray:
        """Test: every jet, target = its dataset label; train and validation: background jets only."""
        if split == "test":
            return labels.astype(np.int64)
        background = self.scheme_or_fail().labels_of(self.selection.signal)
        return np.where(np.isin(labels, background), labels, -1).astype(np.int64)

    def class_weights(self) -> torch.Tensor:
        return torch.ones(1)


@torch.no_grad()
def score_test_split(model: AutoEncoder, dm: AnomalyDataModule) -> dict[str, np.ndarray]:
    """Per-jet scores of every kind, latent vectors, labels and mass on the test split (all classes)."""
    scores: dict[str, list[np.ndarray]] = {}
    latent, labels, mass, elapsed = [], [], [], 0.0
    for batch in dm.test_dataloader():
        start = time.perf_counter()
        out = model(batch)
        elapsed += time.perf_counter() - start
        for k, v in model.scores(out).items():
            scores.setdefault(k, []).append(v.float().numpy())
        latent.append(out["z"].float().numpy())
        labels.append(batch["label"].numpy())
        mass.append(batch["mass"].numpy())
    result = {f"score_{k}": np.concatenate(v) for k, v in scores.items()}
    result.update(latent=np.concatenate(latent), labels=np.concatenate(labels), mass=np.concatenate(mass))
    result["jets_per_s"] = np.array(len(result["labels"]) / max(elapsed, 1e-9))
    return result


def anomaly_module(cfg: Any, dm: AnomalyDataModule) -> AnomalyModule:
    return AnomalyModule(cfg.model, cfg.hparams, asdict(dm.builder.dims()), list(dm.selection.signal),
                         asdict(cfg.optim))


def write_json(path: Path, obj: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(obj, indent=1))


register_task(TaskSpec("anomaly", AnomalyDataModule, anomaly_module,
                       evaluate="jetlab.tasks.anomaly_eval:evaluate_anomaly",
                       description="anomaly detection: autoencoders trained on background classes"))
