"""A reader, a label scheme, a representation, a model and a task registered from outside the package,
trained and evaluated through the public API — what docs/contributing.md promises."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pytest
import torch
from torch import Tensor, nn

import jetlab.api as jl
import jetlab.classes as classes_mod
import jetlab.io.readers as readers_mod
import jetlab.models.registry as models_mod
import jetlab.represent.registry as reps_mod
import jetlab.tasks.registry as tasks_mod
from jetlab.classes import LabelScheme, register_scheme
from jetlab.data.module import JetDataModule
from jetlab.errors import UsageError
from jetlab.io.jets import Jets
from jetlab.io.readers import Reader, register_reader
from jetlab.models.registry import InputDims, register_model
from jetlab.represent.registry import Representation, RepresentationConfig, register_representation
from jetlab.schema import KINEMATIC_FEATURES
from jetlab.tasks.registry import TaskSpec, register_task

MAGIC = b"TOYJETS1"


@pytest.fixture
def toy() -> Iterator[LabelScheme]:
    """Register the toy extensions; restore every registry afterwards."""
    saved = [(d, dict(d)) for d in (readers_mod._READERS, reps_mod._REGISTRY, models_mod._REGISTRY,
                                    tasks_mod._TASKS, classes_mod._SCHEMES)]
    readers_mod.readers(), reps_mod.list_representations(), models_mod.list_models()  # built-ins first
    scheme = register_scheme(LabelScheme("toy", ("soft", "hard"), ("few soft particles", "more, harder ones")))
    register_reader(Reader("toy", "toy jets", _sniff, _read, _count, scheme))
    register_representation(PtMoments())
    register_model("toy_linear", family="linear", representation="toy_moments", task="toy_tag",
                   recipe={"trainer": {"batch_size": 32}})(toy_linear)
    register_task(TaskSpec("toy_tag", ToyData, lambda cfg, dm: ToyModule(cfg.model, dm.n_classes),
                           evaluate=evaluate_toy))
    yield scheme
    for registry, before in saved:
        registry.clear()
        registry.update(before)


# ------------------------------------------------------------------ a reader of its own layout
def _write(path: Path, n: int = 400, seed: int = 0) -> np.ndarray:
    """MAGIC, then float32 rows: label, n_particles, then 8 particle pT; class 1 has harder particles."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    counts = np.where(labels == 1, 8, 4)
    pt = rng.exponential(np.where(labels == 1, 20.0, 5.0)[:, None], (n, 8)) * (np.arange(8) < counts[:, None])
    path.write_bytes(MAGIC + np.column_stack([labels, counts, pt]).astype(np.float32).tobytes())
    return labels


def _rows(path: Path) -> np.ndarray:
    return np.frombuffer(path.read_bytes()[len(MAGIC):], np.float32).reshape(-1, 10)


def _sniff(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(len(MAGIC)) == MAGIC


def _count(path: Path) -> int:
    return (path.stat().st_size - len(MAGIC)) // 40


def _read(path: Path, start: int = 0, stop: int | None = None) -> Jets:
    rows = _rows(path)[start:stop]
    n, pt = len(rows), np.sort(rows[:, 2:], axis=1)[:, ::-1]  # (N, 8) pT-descending
    eta = phi = np.zeros_like(pt)
    cons = np.stack([pt, np.zeros_like(pt), np.zeros_like(pt), pt, pt, eta, phi], -1).astype(np.float32)
    jet = np.column_stack([pt.sum(1), np.zeros(n), np.zeros(n), np.zeros(n)]).astype(np.float32)
    return Jets(cons, rows[:, 1].astype(np.int32), list(KINEMATIC_FEATURES), jet, np.zeros((n, 0), np.float32), [],
                rows[:, 0].astype(np.int64), {"format": "toy", "path": str(path)},
                scheme=classes_mod.get_scheme("toy")).validate(str(path))


# ------------------------------------------------------------------ a representation, a model, a task
class PtMoments(Representation):
    """x (B, K): mean log pT^k of the real particles, k = 1..K."""

    name = "toy_moments"
    options = {"n_moments": 2}

    def columns(self, config: RepresentationConfig, state: Mapping[str, Any], data: Jets) -> dict[str, Tensor]:
        logpt = np.where(data.mask, np.log1p(data.particle("pt")), 0.0)  # (B, P)
        n = np.maximum(data.n_particles, 1)[:, None]
        x = np.column_stack([(logpt ** k).sum(1, keepdims=True) / n for k in range(1, config.n_moments + 1)])
        return {"x": torch.from_numpy(x.astype(np.float32))}  # (B, K)

    def dims(self, config: RepresentationConfig, state: Mapping[str, Any]) -> dict[str, Any]:
        return {"hlf": config.n_moments}


def toy_linear(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """One linear layer on the toy moments."""
    return nn.Linear(dims.hlf, n_classes)


class ToyData(JetDataModule):
    """Every jet of every class, target = its label (no class selection beyond the dataset's)."""

    def split_targets(self, split: str, labels: np.ndarray) -> np.ndarray:
        return labels.astype(np.int64)


class ToyModule(L.LightningModule):
    def __init__(self, model: str, n_classes: int) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.model = models_mod.create(model, n_classes=n_classes, dims=InputDims(hlf=2))

    def _loss(self, batch: dict[str, Any]) -> Tensor:
        return nn.functional.cross_entropy(self.model(batch["x"]), batch["y"])

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        loss = self._loss(batch)
        self.log("train_loss", loss, on_epoch=True, on_step=False, batch_size=len(batch["y"]))
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self.log("val_loss", self._loss(batch), on_epoch=True, on_step=False, batch_size=len(batch["y"]))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=0.05)


def evaluate_toy(run: str | Path, data: str | Path | None = None, out: str | Path | None = None) -> dict[str, Any]:
    from jetlab.tasks.runfiles import load_builder, load_run

    run, cfg = Path(run), load_run(run)
    state = torch.load(run / "checkpoints" / "best.ckpt", weights_only=True)
    model = models_mod.create(cfg.model, n_classes=2, dims=InputDims(hlf=2))
    model.load_state_dict({k.removeprefix("model."): v for k, v in state["state_dict"].items()})
    dm = ToyData(cfg.data, cfg.selection, cfg.representation, 64, load_builder(run / "representation.json"),
                 scheme=cfg.scheme)
    dm.setup()
    with torch.no_grad():
        right = sum(int((model(b["x"]).argmax(1) == b["y"]).sum()) for b in dm.test_dataloader())
    result = {"model": cfg.model, "accuracy": right / dm.split_size("test"), "n_jets": dm.split_size("test")}
    (Path(out or run) / "metrics.json").write_text(json.dumps(result))
    return result


# ------------------------------------------------------------------ the checks
def test_toy_extensions_train_and_evaluate_through_the_api(toy: LabelScheme, tmp_path: Path) -> None:
    _write(tmp_path / "jets.toy")
    info = jl.info(tmp_path / "jets.toy")
    assert info["format"] == "toy" and info["jets_per_class"] == {"soft": 200, "hard": 200}
    summary = jl.train("toy_linear", tmp_path / "jets.toy", tmp_path / "run", task="toy_tag",
                       trainer={"epochs": 8, "progress": False})
    assert summary["scheme"] == "toy" and summary["classes"] == ["soft", "hard"]
    res = jl.evaluate(tmp_path / "run")
    assert res["accuracy"] > 0.9 and res["n_jets"] == 80  # 20 % of 400, stratified


def test_toy_scheme_names_in_errors(toy: LabelScheme, tmp_path: Path) -> None:
    _write(tmp_path / "jets.toy")
    with pytest.raises(UsageError, match="unknown class 'top' .*scheme 'toy' has: soft, hard"):
        jl.train("toy_linear", tmp_path / "jets.toy", tmp_path / "run", task="toy_tag", classes="top")
    with pytest.raises(UsageError, match="unknown task 'toy_nope'"):
        jl.train("toy_linear", tmp_path / "jets.toy", tmp_path / "run", task="toy_nope")


def test_registries_are_restored(toy: LabelScheme) -> None:
    assert "toy" in readers_mod.readers()


def test_nothing_toy_left_after_the_fixture() -> None:
    assert "toy" not in readers_mod.readers() and "toy_tag" not in tasks_mod.list_tasks()
