"""``jetlab train``: build the run, fit with Lightning, keep what is needed to reproduce it.

RUN/ holds ``config.yaml`` (resolved), ``representation.json`` (features, HLF scaler),
``checkpoints/best.ckpt`` and ``last.ckpt``, ``logs/metrics.csv`` and ``train.json``
(epochs, best validation loss, wall time, parameter count).
"""

from __future__ import annotations

import io
import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import lightning as L
import torch
import yaml
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.plugins import TorchCheckpointIO

from jetlab.data.batches import BatchBuilder
from jetlab.data.module import JetDataModule
from jetlab.errors import UsageError
from jetlab.io.atomic import atomic_write, atomic_write_text, remove_stale
from jetlab.models import count_parameters, get_spec
from jetlab.tasks.config import RunConfig
from jetlab.tasks.registry import get_task
from jetlab.tasks.runfiles import load_builder, save_builder

if TYPE_CHECKING:
    from lightning.pytorch.trainer.connectors.accelerator_connector import _PRECISION_INPUT  # Trainer(precision=)

__all__ = ["train", "task_objects", "resolved"]


def _check_resume(cfg: RunConfig, out: Path) -> Path:
    """The checkpoint to resume from; the run must have the same model and classes (``cfg`` resolved)."""
    saved = yaml.safe_load((out / "config.yaml").read_text()) if (out / "config.yaml").is_file() else None
    last = out / "checkpoints" / "last.ckpt"
    if saved is None or not last.is_file():
        raise UsageError(f"--resume: {out} has no config.yaml and checkpoints/last.ckpt to resume from")
    for key, now in (("model", cfg.model), ("classes", cfg.data.classes)):
        before = saved["model"] if key == "model" else saved["data"]["classes"]
        if before != now:
            raise UsageError(f"--resume: {out} was trained with {key} {before!r}, not {now!r}")
    return last


def resolved(cfg: RunConfig, dm: JetDataModule) -> RunConfig:
    """``cfg`` as the data resolved it: the classes used, the dataset's scheme, memory or stream."""
    data = replace(cfg.data, classes=dm.selection.text, stream=dm.mode)
    return replace(cfg, data=data, scheme=dm.scheme_or_fail())


def _previous_time(out: Path) -> float:
    """Training time of the runs before this resume; 0 when none finished (killed before train.json)."""
    try:
        return float(json.loads((out / "train.json").read_text()).get("train_time_s", 0.0))
    except (OSError, ValueError, AttributeError):
        return 0.0


class _AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written beside their target and renamed when whole: a kill or a full disk never
    leaves a partial ``last.ckpt`` (Lightning's own save goes through the system temp directory and,
    across filesystems, copies into the target in place)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        if storage_options is not None:
            raise TypeError("storage_options is not supported by jetlab's checkpoint writer")
        buf = io.BytesIO()
        torch.save(checkpoint, buf)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, buf.getvalue())


def _log_version(out: Path, resume: bool) -> str:
    """First run logs to logs/metrics.csv; each resume to logs/resume_<k>/ (Lightning would overwrite)."""
    if not resume:
        return ""
    k = 1
    while (out / "logs" / f"resume_{k}").exists():
        k += 1
    return f"resume_{k}"


class CpuBudget(Callback):
    """Stop training once this process has used ``seconds`` of CPU time (every thread counted) since fit began:
    a budget that, unlike ``max_time``, does not shrink when other jobs share the machine. Checked after
    every training batch; the stopped epoch is still validated (Lightning's early-stop path)."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.start = float(seconds), 0.0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.start = time.process_time()

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if time.process_time() - self.start > self.seconds:
            trainer.should_stop = True


def _trainer(cfg: RunConfig, out: Path, resume: bool = False) -> L.Trainer:
    t = cfg.trainer
    callbacks: list[Callback] = [
        ModelCheckpoint(dirpath=out / "checkpoints", filename="best", monitor="val_loss", mode="min",
                        save_last=True, enable_version_counter=False),
    ]
    if get_task(cfg.task).early_stopping:
        callbacks.append(EarlyStopping(monitor="val_loss", patience=t.patience, mode="min"))
    if t.max_cpu_seconds is not None:
        callbacks.append(CpuBudget(t.max_cpu_seconds))
    return L.Trainer(
        default_root_dir=out, max_epochs=t.epochs, max_time=t.max_time,
        precision=cast("_PRECISION_INPUT", t.precision),  # a config string; Lightning checks it
        accelerator=t.accelerator, devices=t.devices, strategy=t.strategy, num_nodes=t.num_nodes,
        callbacks=callbacks, logger=CSVLogger(out, name="logs", version=_log_version(out, resume)),
        enable_progress_bar=t.progress,
        gradient_clip_val=t.gradient_clip, deterministic=t.deterministic, log_every_n_steps=1,
        enable_model_summary=False, plugins=[_AtomicCheckpointIO()],
    )


def task_objects(cfg: RunConfig, builder: BatchBuilder | None) -> tuple[JetDataModule, L.LightningModule]:
    """The data module (set up) and Lightning module of the run's task, from the task registry."""
    task = get_task(cfg.task)
    dm = task.data_module(cfg.data, cfg.selection, cfg.representation, cfg.trainer.batch_size, builder,
                          seed=cfg.trainer.seed)
    dm.setup()
    return dm, task.lightning_module(resolved(cfg, dm), dm)


def train(cfg: RunConfig, out: str | os.PathLike[str], resume: bool = False) -> dict[str, Any]:
    """Train ``cfg`` into run directory ``out``; ``resume`` continues from ``last.ckpt``."""
    if get_spec(cfg.model).engine == "fit":  # BDT, linear discriminant, cut: one fit, no Lightning loop
        from jetlab.tasks.estimator import fit_run

        return fit_run(cfg, out, resume)
    out = Path(out)
    child = os.environ.get("LOCAL_RANK", "0") != "0" or os.environ.get("NODE_RANK", "0") != "0"
    if not resume and not child and (out / "config.yaml").exists():
        raise UsageError(f"--out: {out} already holds a run; use --resume or another directory")
    L.seed_everything(cfg.trainer.seed, workers=True, verbose=False)
    dm, module = task_objects(cfg, load_builder(out / "representation.json") if resume else None)
    cfg = resolved(cfg, dm)
    ckpt = _check_resume(cfg, out) if resume else None
    trainer = _trainer(cfg, out, resume)
    if trainer.is_global_zero:
        out.mkdir(parents=True, exist_ok=True)
        remove_stale(out / "checkpoints")  # *.tmp of a killed run's checkpoint write
        atomic_write_text(out / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        save_builder(dm.builder, out / "representation.json")
    start = time.perf_counter()
    try:
        trainer.fit(module, datamodule=dm, ckpt_path=ckpt)
    except OSError as e:  # full disk, file size limit: name the run (Lightning's errors often name no file)
        raise type(e)(e.errno, e.strerror or str(e), e.filename or str(out)) from None
    elapsed = time.perf_counter() - start
    previous = _previous_time(out) if resume else 0.0
    checkpoint = cast("ModelCheckpoint | None", trainer.checkpoint_callback)  # the ModelCheckpoint of _trainer
    best = checkpoint.best_model_score if checkpoint else None
    summary = {"task": cfg.task, "model": cfg.model, "scheme": cfg.scheme.name, "classes": dm.selection.names,
               "params": count_parameters(module.model),
               "epochs": trainer.current_epoch, "global_steps": trainer.global_step,
               "best_val_loss": float(best) if best is not None else None,
               "train_time_s": previous + elapsed, "data": dm.mode,
               **{f"n_{split}": dm.split_size(split) for split in ("train", "val", "test")}}
    if trainer.is_global_zero:
        atomic_write_text(out / "train.json", json.dumps(summary, indent=2))
    return summary
