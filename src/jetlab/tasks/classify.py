"""`ClassifierModule`: any registered model + cross-entropy, as a LightningModule.

Training step, in one sitting::

    logits = model(batch)                          # (B, C)
    loss = cross_entropy(logits, y, class_weights) # imbalance handled by weights (or sampler)

Optimizers: Adam / AdamW. Schedulers: ReduceLROnPlateau on val_loss (the course's choice),
cosine annealing, or one-cycle.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor

from jetlab.data.module import JetDataModule
from jetlab.errors import UsageError
from jetlab.models import InputDims, create
from jetlab.tasks.registry import TaskSpec, register_task

__all__ = ["OptimConfig", "LossConfig", "ClassifierModule", "build_optimizers", "classifier_module"]


@dataclass(frozen=True)
class OptimConfig:
    optimizer: str = "adam"  # adam | adamw
    lr: float = 1e-3
    weight_decay: float = 0.0
    scheduler: str = "plateau"  # plateau | cosine | onecycle | none
    plateau_factor: float = 0.1
    plateau_patience: int = 2

    def __post_init__(self) -> None:
        if self.optimizer not in ("adam", "adamw"):
            raise UsageError(f"training.optimizer: {self.optimizer!r} is not adam or adamw")
        if self.scheduler not in ("plateau", "cosine", "onecycle", "none"):
            raise UsageError(f"training.scheduler: {self.scheduler!r} is not plateau, cosine, onecycle or none")
        if self.lr <= 0:
            raise UsageError("training.lr must be positive")


@dataclass(frozen=True)
class LossConfig:
    """Physics penalty in the loss: ``decorrelate: mass`` adds λ · dCorr²(p_signal, m) on background (DisCo)."""

    decorrelate: str | None = None  # None or "mass"
    disco_lambda: float = 0.0

    def __post_init__(self) -> None:
        if self.decorrelate not in (None, "mass"):
            raise UsageError(f"--decorrelate: {self.decorrelate!r} unknown (known: mass)")
        if self.disco_lambda < 0:
            raise UsageError("--disco-lambda must be >= 0")
        if self.decorrelate and self.disco_lambda == 0:
            raise UsageError("--decorrelate mass needs --disco-lambda > 0")


class ClassifierModule(L.LightningModule):
    """A registered model trained with (weighted) cross-entropy.

    Args:
        model: registry name; ``hparams`` its hyper-parameters; ``dims`` input sizes (as a dict).
        n_classes: output classes; ``class_weights``: (C,) loss weights.
        loss: :class:`LossConfig` as a dict; with ``decorrelate="mass"`` (binary tasks: class 1 =
            signal) the loss gains ``λ · dCorr²(p_signal, mass)`` over the background jets of the batch
            (DisCo, Kasieczka & Shih, arXiv:2001.05310).
    """

    class_weights: Tensor  # (C,) buffer

    def __init__(self, model: str, hparams: dict[str, Any], dims: dict[str, Any], n_classes: int,
                 class_names: list[str], class_weights: list[float] | None = None,
                 optim: dict[str, Any] | None = None, loss: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.model = create(model, n_classes=n_classes, dims=InputDims(**dims), **hparams)
        self.optim = OptimConfig(**(optim or {}))
        self.loss_cfg = LossConfig(**(loss or {}))
        if self.loss_cfg.decorrelate and n_classes != 2:
            raise UsageError("--decorrelate needs a binary task such as --classes t:g,q")
        weights = torch.as_tensor(class_weights if class_weights is not None else [1.0] * n_classes)
        self.register_buffer("class_weights", weights.float())

    def forward(self, batch: dict[str, Any]) -> Tensor:
        return self.model(batch)  # (B, C) logits

    def _step(self, batch: dict[str, Any], stage: str) -> Tensor:
        logits = self(batch)  # (B, C)
        loss = F.cross_entropy(logits, batch["y"], weight=self.class_weights)
        acc = (logits.argmax(dim=1) == batch["y"]).float().mean()
        n = batch["y"].shape[0]
        if self.loss_cfg.decorrelate == "mass":
            from jetlab.metrics.decorrelation import disco_penalty

            p_signal = torch.softmax(logits, dim=1)[:, 1]  # (B,)
            penalty = disco_penalty(p_signal, batch["mass"], batch["y"] == 0, self.loss_cfg.disco_lambda)
            self.log(f"{stage}_disco", penalty, on_epoch=True, on_step=False, batch_size=n, sync_dist=True)
            loss = loss + penalty
        self.log(f"{stage}_loss", loss, prog_bar=True, on_epoch=True, on_step=False, batch_size=n, sync_dist=True)
        self.log(f"{stage}_acc", acc, prog_bar=stage == "val", on_epoch=True, on_step=False, batch_size=n,
                 sync_dist=True)
        return loss

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        return self._step(batch, "val")

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        return torch.softmax(self(batch).float(), dim=1)  # (B, C)

    def configure_optimizers(self) -> Any:
        return build_optimizers(self, self.optim)

    @staticmethod
    def optim_dict(o: OptimConfig) -> dict[str, Any]:
        return asdict(o)


def build_optimizers(module: L.LightningModule, o: OptimConfig) -> Any:
    """What ``module.configure_optimizers`` returns: Adam / AdamW over its parameters, with the scheduler of ``o``."""
    cls = torch.optim.AdamW if o.optimizer == "adamw" else torch.optim.Adam
    opt = cls(module.parameters(), lr=o.lr, weight_decay=o.weight_decay)
    if o.scheduler == "plateau":
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=o.plateau_factor,
                                                             patience=o.plateau_patience)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": plateau, "monitor": "val_loss"}}
    if o.scheduler == "cosine":
        cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, module.trainer.max_epochs or 1))
        return {"optimizer": opt, "lr_scheduler": cosine}
    if o.scheduler == "onecycle":
        steps = int(module.trainer.estimated_stepping_batches)
        onecycle = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=o.lr, total_steps=max(steps, 1))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": onecycle, "interval": "step"}}
    return opt


def classifier_module(cfg: Any, dm: JetDataModule) -> ClassifierModule:
    """The run's classifier, sized by the data: its input dimensions, classes and class weights."""
    return ClassifierModule(cfg.model, cfg.hparams, asdict(dm.builder.dims()), dm.n_classes, dm.selection.names,
                            dm.class_weights().tolist(), asdict(cfg.optim), asdict(cfg.loss))


register_task(TaskSpec("classify", JetDataModule, classifier_module, evaluate="jetlab.tasks.evaluate:evaluate",
                       description="jet tagging: multi-class or signal vs background"))
