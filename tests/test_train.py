"""Training, resuming, evaluating and comparing runs end to end on small synthetic datasets."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from jetlab.data.splits import split_indices, targets_for
from jetlab.errors import InputError, UsageError
from jetlab.tasks.config import resolve_config
from jetlab.tasks.evaluate import evaluate, load_model
from jetlab.tasks.train import train
from tests.conftest import make_separable_jets, write_dataset

FAST = {"trainer": {"epochs": 3, "batch_size": 64, "progress": False}}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("sep") / "d", make_separable_jets(400))


@pytest.fixture(scope="module")
def mlp_run(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "mlp"
    train(resolve_config("mlp", str(data), overrides={"trainer": {"epochs": 8, "batch_size": 64, "progress": False},
                                                       "optim": {"lr": 1e-2}}), out)
    return out


def test_splits_are_disjoint_stratified_deterministic() -> None:
    labels = np.repeat(np.arange(5), 100)
    a, b = split_indices(labels, split_seed=3), split_indices(labels, split_seed=3)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not (set(a["train"]) & set(a["test"])) and not (set(a["val"]) & set(a["test"]))
    assert len(a["train"]) + len(a["val"]) + len(a["test"]) == 500
    assert np.bincount(labels[a["test"]]).tolist() == [20] * 5
    assert not np.array_equal(split_indices(labels, split_seed=4)["test"], a["test"])


def test_binary_targets() -> None:
    t = targets_for(np.array([0, 1, 4, 2]), (4,), (0, 1))
    assert t.tolist() == [0, 0, 1, -1]


def test_run_directory(mlp_run: Path) -> None:
    for f in ("config.yaml", "representation.json", "train.json", "checkpoints/best.ckpt", "checkpoints/last.ckpt",
              "logs/metrics.csv"):
        assert (mlp_run / f).is_file(), f
    summary = json.loads((mlp_run / "train.json").read_text())
    assert summary["epochs"] == 8 and summary["n_train"] + summary["n_val"] + summary["n_test"] == 400


def test_evaluate_writes_metrics(mlp_run: Path) -> None:
    res = evaluate(mlp_run)
    m = json.loads((mlp_run / "metrics.json").read_text())
    assert m["n_jets"] == 80 and m["inference_jets_per_s"] > 0
    for f in ("roc.png", "confusion.png", "predictions.npz"):
        assert (mlp_run / f).is_file()
    assert res["metrics"]["accuracy"] > 0.3  # 5 classes: chance is 0.2
    assert set(res["metrics"]["auc_vs_qcd"]) == {"w", "z", "t"} and res["metrics"]["auc_vs_qcd"]["t"] > 0.6


def test_resume_continues(data: Path, tmp_path: Path) -> None:
    cfg = resolve_config("mlp", str(data), overrides={"trainer": {"epochs": 2, "progress": False}})
    train(cfg, tmp_path / "r")
    more = resolve_config("mlp", str(data), overrides={"trainer": {"epochs": 4, "progress": False}})
    res = train(more, tmp_path / "r", resume=True)
    assert res["epochs"] == 4
    first = (tmp_path / "r" / "logs" / "metrics.csv").read_text()
    resumed = (tmp_path / "r" / "logs" / "resume_1" / "metrics.csv").read_text()
    epoch = lambda text: {r.split(",")[0] for r in text.splitlines()[1:]}  # noqa: E731
    assert "0" in epoch(first) and "3" in epoch(resumed) and "0" not in epoch(resumed)
    with pytest.raises(UsageError, match="already holds a run"):
        train(more, tmp_path / "r")
    other = resolve_config("mlp", str(data), overrides={"data": {"classes": "t:g,q"}, "trainer": {"epochs": 5}})
    with pytest.raises(UsageError, match="classes"):
        train(other, tmp_path / "r", resume=True)


def test_binary_task(data: Path, tmp_path: Path) -> None:
    cfg = resolve_config("mlp", str(data), overrides={"data": {"classes": "t:g,q"}, **FAST})
    train(cfg, tmp_path / "b")
    res = evaluate(tmp_path / "b")
    assert res["metrics"]["class_names"] == ["g+q", "t"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"model": "mlpp"}, "did you mean"),
        ({"user": {"trainer": {"epoks": 3}}}, "trainer.epoks"),
        ({"user": {"bogus": {}}}, "bogus"),
        ({"user": {"hparams": {"no_such": 1}}}, None),
        ({"user": {"representation": {"name": "image"}}}, "reads the 'hlf'"),
        ({"overrides": {"data": {"classes": ""}}}, "empty"),
        ({"overrides": {"data": {"classes": "t:t,q"}}}, "both signal and background"),
        ({"overrides": {"trainer": {"max_time": "3min"}}}, "--max-time"),
    ],
)
def test_config_errors(data: Path, tmp_path: Path, kwargs: dict, match: str | None) -> None:
    model = kwargs.pop("model", "mlp")
    with pytest.raises(UsageError, match=match):
        cfg = resolve_config(model, str(data), **kwargs)
        train(cfg, tmp_path / "x")


def test_class_missing_from_dataset(tmp_path: Path) -> None:
    jets = make_separable_jets(100)
    path = write_dataset(tmp_path / "gq", jets.select_classes(["g", "q"]))
    with pytest.raises(UsageError, match="no jets of class w .*holds: g,q"):
        train(resolve_config("mlp", str(path), overrides={**FAST, "data": {"classes": "g,q,w"}}), tmp_path / "run")
    with pytest.raises(UsageError, match="unknown class 'top' .*g, q, w, z, t"):
        resolve_config("mlp", str(path), overrides={**FAST, "data": {"classes": "top"}})


def test_no_classes_means_those_the_dataset_holds(tmp_path: Path) -> None:
    jets = make_separable_jets(100)
    path = write_dataset(tmp_path / "gq", jets.select_classes(["q", "t"]))
    summary = train(resolve_config("mlp", str(path), overrides=FAST), tmp_path / "run")
    assert summary["classes"] == ["q", "t"] and summary["scheme"] == "jetlab"
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["data"]["classes"] == "q,t" and saved["data"]["stream"] == "memory"
    assert saved["scheme"]["classes"] == ["g", "q", "w", "z", "t"]


def test_malicious_checkpoint_is_refused(mlp_run: Path, tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self):  # noqa: ANN204
            return (Path("/tmp/jetlab-pwned").touch, ())

    run = tmp_path / "evil"
    (run / "checkpoints").mkdir(parents=True)
    for f in ("config.yaml", "representation.json"):
        (run / f).write_text((mlp_run / f).read_text())
    with open(run / "checkpoints" / "best.ckpt", "wb") as fh:
        pickle.dump({"state_dict": {}, "hyper_parameters": Evil()}, fh)
    with pytest.raises(InputError, match="refused"):
        load_model(run)
    assert not Path("/tmp/jetlab-pwned").exists()


def test_cli_train_evaluate_compare(data: Path, mlp_run: Path, tmp_path: Path) -> None:
    def cli(*a: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "jetlab.cli", *a], capture_output=True, text=True, timeout=600)

    res = cli("train", "--model", "deepsets", "--data", str(data), "--out", str(tmp_path / "ds"), "--epochs", "2",
              "--no-progress")
    assert res.returncode == 0, res.stderr[-2000:]
    assert cli("evaluate", str(tmp_path / "ds")).returncode == 0
    evaluate(mlp_run)
    res = cli("compare", str(mlp_run), str(tmp_path / "ds"), "--out", str(tmp_path / "cmp"))
    assert res.returncode == 0, res.stderr[-2000:]
    html = (tmp_path / "cmp" / "landscape.html").read_text()
    assert "deepsets" in html and "mlp" in html and "data:image/png;base64" in html
    bad = cli("train", "--model", "partcilenet", "--data", str(data), "--out", str(tmp_path / "z"))
    assert bad.returncode == 2 and "did you mean" in bad.stderr and bad.stderr.count("\n") == 1
    listing = json.loads(cli("models", "--json").stdout)
    assert {"mlp", "pfn", "particlenet_lite"} <= {r["name"] for r in listing}


def test_ddp_on_cpu(data: Path, tmp_path: Path) -> None:
    """Two processes, gloo backend, through the real CLI (Lightning relaunches the command per rank)."""
    res = subprocess.run([sys.executable, "-m", "jetlab.cli", "train", "--model", "mlp", "--data", str(data), "--out",
                          str(tmp_path / "ddp"), "--epochs", "1", "--accelerator", "cpu", "--devices", "2",
                          "--strategy", "ddp", "--no-progress"], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (tmp_path / "ddp" / "checkpoints" / "last.ckpt").is_file()
    assert torch.load(tmp_path / "ddp" / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 0


def test_representation_the_dataset_cannot_provide(tmp_path: Path) -> None:
    from jetlab.errors import FormatError

    jets = make_separable_jets(100)
    jets.hlf, jets.hlf_names = jets.hlf[:, :0], []
    path = write_dataset(tmp_path / "nohlf", jets)
    with pytest.raises(FormatError, match="j_zlogz"):
        train(resolve_config("mlp", str(path), overrides=FAST), tmp_path / "run")


def test_same_seed_same_training(data: Path, tmp_path: Path) -> None:
    """On CPU the same seed gives the same run (tolerance 1e-6 on the validation loss)."""
    losses = []
    for k in range(2):
        cfg = resolve_config("pfn", str(data), overrides={"trainer": {"epochs": 2, "seed": 11, "progress": False}})
        losses.append(train(cfg, tmp_path / f"s{k}")["best_val_loss"])
    assert abs(losses[0] - losses[1]) < 1e-6
    other = resolve_config("pfn", str(data), overrides={"trainer": {"epochs": 2, "seed": 12, "progress": False}})
    assert abs(train(other, tmp_path / "s2")["best_val_loss"] - losses[0]) > 1e-6


def test_disco_decorrelation_option(data: Path, tmp_path: Path) -> None:
    over = {"data": {"classes": "t:g,q"}, "loss": {"decorrelate": "mass", "disco_lambda": 5.0}, **FAST}
    train(resolve_config("mlp", str(data), overrides=over), tmp_path / "disco")
    res = evaluate(tmp_path / "disco")
    assert {"jsd", "rejection"} <= set(res["metrics"]["sculpting"])
    assert "train_disco" in (tmp_path / "disco" / "logs" / "metrics.csv").read_text().splitlines()[0]
    with pytest.raises(UsageError, match="binary"):
        train(resolve_config("mlp", str(data), overrides={**over, "data": {"classes": "g,q,t"}}), tmp_path / "x")
    with pytest.raises(UsageError, match="disco-lambda"):
        resolve_config("mlp", str(data), overrides={"loss": {"decorrelate": "mass"}})


@pytest.mark.parametrize(("optim", "precision"), [({"scheduler": "cosine"}, "32-true"),
                                                  ({"scheduler": "onecycle", "optimizer": "adamw"}, "32-true"),
                                                  ({"scheduler": "plateau"}, "bf16-mixed")])
def test_schedulers_and_precision(data: Path, tmp_path: Path, optim: dict, precision: str) -> None:
    over = {"optim": optim, "trainer": {"epochs": 2, "precision": precision, "progress": False}}
    res = train(resolve_config("pfn", str(data), overrides=over), tmp_path / "r")
    assert res["epochs"] == 2 and np.isfinite(res["best_val_loss"])


def test_max_jets_keeps_every_class(data: Path) -> None:
    """--max-jets takes a random subset of each split, not its first (class-ordered) rows."""
    from jetlab.classes import parse_selection
    from jetlab.data.batches import RepresentationConfig
    from jetlab.data.module import DataConfig, JetDataModule

    dm = JetDataModule(DataConfig(path=str(data), max_jets=40), parse_selection("g,q,w,z,t"),
                       RepresentationConfig("hlf"))
    dm.setup()
    counts = np.bincount(dm.splits["train"][1], minlength=5)
    assert len(dm.splits["train"][1]) == 40 and (counts >= 3).all(), counts
