"""A run's files, read and written in one place: ``config.yaml``, ``representation.json``, checkpoints.

Every task that reads or writes a run (train, evaluate, sample, anomaly evaluation, fitted models, export)
goes through these functions, so none of them imports another task to reach a run's files.
Checkpoints are read with ``torch.load(weights_only=True)``: no code in a checkpoint ever runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import yaml

from jetlab.data.batches import BatchBuilder, RepresentationConfig
from jetlab.errors import InputError, brief
from jetlab.io.atomic import atomic_write_text
from jetlab.models import InputDims, create
from jetlab.represent import HLFScaler
from jetlab.tasks.config import RunConfig, resolve_config

__all__ = ["save_builder", "load_builder", "load_run", "load_model"]


def save_builder(builder: BatchBuilder, path: Path) -> None:
    state = {"config": builder.config.to_dict(), "features": list(builder.features), "n_scalars": builder.n_scalars,
             "scaler": builder.scaler.to_dict() if builder.scaler is not None else None}
    atomic_write_text(path, json.dumps(state, indent=2))


def load_builder(path: Path) -> BatchBuilder:
    state = json.loads(path.read_text())
    scaler = HLFScaler.from_dict(state["scaler"]) if state.get("scaler") else None
    return BatchBuilder(RepresentationConfig(**state["config"]), scaler, tuple(state.get("features", ())),
                        int(state.get("n_scalars", 0)))


def load_run(run: str | Path) -> RunConfig:
    run = Path(run)
    path = run / "config.yaml"
    if not path.is_file():
        raise InputError(f"{run}: not a jetlab run (no config.yaml)")
    raw = yaml.safe_load(path.read_text())
    return resolve_config(raw["model"], raw["data"]["path"], {k: v for k, v in raw.items() if k != "data"},
                          {"data": {k: v for k, v in raw["data"].items() if k != "path"}}, str(path),
                          task=raw.get("task", "classify"))


def load_model(run: str | Path, which: str = "best") -> tuple[torch.nn.Module, dict[str, Any]]:
    """The model of a run and its saved hyper-parameters, from ``checkpoints/<which>.ckpt``."""
    ckpt = Path(run) / "checkpoints" / f"{which}.ckpt"
    if not ckpt.is_file():
        raise InputError(f"{ckpt}: checkpoint missing (training unfinished?)")
    try:
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure means: refuse the file
        raise InputError(f"{ckpt}: refused to load ({brief(e, 120)})") from None
    hp = dict(state.get("hyper_parameters", {}))
    try:
        model = create(hp["model"], n_classes=hp.get("n_classes", 2), dims=InputDims(**hp["dims"]), **hp["hparams"])
        model.load_state_dict({k.removeprefix("model."): v for k, v in state["state_dict"].items()
                               if k.startswith("model.")})
    except (KeyError, RuntimeError) as e:
        raise InputError(f"{ckpt}: does not match its run's model ({brief(e, 120)})") from None
    return model.eval(), hp
