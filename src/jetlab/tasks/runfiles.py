"""A run's files, read and written in one place: ``config.yaml``, ``representation.json``, checkpoints.

Every task that reads or writes a run (train, evaluate, sample, anomaly evaluation, fitted models, export)
goes through these functions, so none of them imports another task to reach a run's files.
Checkpoints are read with ``torch.load(weights_only=True)``: no code in a checkpoint ever runs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
import yaml

from jetlab.classes import JETLAB, LabelScheme
from jetlab.data.batches import BatchBuilder, RepresentationConfig
from jetlab.errors import InputError, UsageError, brief
from jetlab.io.atomic import atomic_write_text
from jetlab.models import InputDims, create
from jetlab.tasks.config import RunConfig, resolve_config

__all__ = ["save_builder", "load_builder", "load_run", "load_model", "load_generator"]


def save_builder(builder: BatchBuilder, path: Path) -> None:
    """``representation.json``: the representation's config and what it learned from the training jets."""
    atomic_write_text(path, json.dumps({"config": builder.config.to_dict(), "state": builder.state_dict()}, indent=2))


def load_builder(path: Path) -> BatchBuilder:
    saved = json.loads(path.read_text())
    state = saved.get("state")
    if state is None:  # runs before the representation registry kept these three at the top level
        state = {k: saved[k] for k in ("scaler", "features", "n_scalars") if saved.get(k) is not None}
    config = dict(saved["config"])
    return BatchBuilder.from_saved(RepresentationConfig(config.pop("name"), **config), state)


def load_run(run: str | os.PathLike[str]) -> RunConfig:
    run = Path(run)
    path = run / "config.yaml"
    if not path.is_file():
        raise InputError(f"{run}: not a jetlab run (no config.yaml)")
    raw = yaml.safe_load(path.read_text())
    scheme = LabelScheme.from_dict(raw["scheme"], str(path)) if "scheme" in raw else JETLAB  # older runs: jets
    return resolve_config(raw["model"], raw["data"]["path"], {k: v for k, v in raw.items() if k != "data"},
                          {"data": {k: v for k, v in raw["data"].items() if k != "path"}}, str(path),
                          task=raw.get("task", "classify"), scheme=scheme)


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


def load_generator(run: str | Path, n: int, classes: str | None = None
                   ) -> tuple[RunConfig, list[str], torch.nn.Module]:
    """A generative run's config, the classes to draw (``classes`` or all it was trained on) and its model
    (``last`` checkpoint); a run of another task, ``n < 1`` or an untrained class is a one-line error."""
    from jetlab.tasks.registry import get_task

    cfg = load_run(run)
    if not get_task(cfg.task).samples:
        raise UsageError(f"{run}: a {cfg.task!r} run, not a generator")
    if n < 1:
        raise UsageError("--n must be positive")
    trained = list(cfg.selection.names) if cfg.selection else []
    names = cfg.scheme.parse(classes) if classes else trained
    bad = [c for c in names if c not in trained]
    if bad:
        raise UsageError(f"--classes: the generator was not trained on {','.join(bad)}")
    model, _ = load_model(run, "last")
    return cfg, names, model
