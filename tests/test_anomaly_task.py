"""Anomaly detection end to end: background-only training, scoring of every class, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from jetlab.errors import UsageError
from jetlab.tasks.anomaly_eval import evaluate_anomaly
from jetlab.tasks.config import resolve_config
from jetlab.tasks.train import train
from tests.conftest import make_separable_jets, write_dataset

FAST = {"trainer": {"epochs": 4, "batch_size": 64, "progress": False}, "data": {"classes": "g,q"}}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("sep") / "d", make_separable_jets(500, seed=3))


@pytest.mark.parametrize("model", ["ae", "vae", "set_ae", "cae"])
def test_train_and_evaluate(model: str, data: Path, tmp_path: Path) -> None:
    over = FAST | ({"representation": {"image_bins": 16}} if model == "cae" else {})
    summary = train(resolve_config(model, str(data), overrides=over, task="anomaly"), tmp_path / model)
    assert summary["n_train"] + summary["n_val"] == 200 * 0.6 + 200 * 0.2  # g, q only: 200 of the 500 jets
    res = evaluate_anomaly(tmp_path / model)
    assert set(res["metrics"]["signals"]) == {"w", "z", "t"}
    for m in res["metrics"]["signals"].values():
        assert 0 <= m["auc"] <= 1 and "0.1" in m["eff_s"]
    assert (tmp_path / model / "scores.png").is_file() and (tmp_path / model / "metrics.json").is_file()
    if model == "vae":
        assert {"mse", "kl", "combined"} <= set(res["by_score"]) and (tmp_path / model / "latent.png").is_file()
        kl = json.loads((tmp_path / model / "train.json").read_text())
        assert kl["best_val_loss"] > 0
    if model == "cae":
        assert (tmp_path / model / "images.png").is_file()


def test_separable_signal_is_found(data: Path, tmp_path: Path) -> None:
    over = {**FAST, "trainer": {"epochs": 15, "batch_size": 32, "progress": False}, "optim": {"lr": 3e-3}}
    train(resolve_config("ae", str(data), overrides=over, task="anomaly"), tmp_path / "ae")
    res = evaluate_anomaly(tmp_path / "ae")
    assert res["metrics"]["signals"]["t"]["auc"] > 0.7  # t's HLF are shifted by 3.2 sigma-ish from g


def test_bad_input(data: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="for 'classify', not 'anomaly'"):
        resolve_config("mlp", str(data), task="anomaly")
    with pytest.raises(UsageError, match="for 'anomaly', not 'classify'"):
        resolve_config("ae", str(data))
    gq = write_dataset(tmp_path / "wz", make_separable_jets(100).select_classes(["w", "z"]))
    with pytest.raises(UsageError, match="no jets of class g,q"):
        train(resolve_config("ae", str(gq), overrides=FAST, task="anomaly"), tmp_path / "r")


def test_cli(data: Path, tmp_path: Path) -> None:
    def cli(*a: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "jetlab.cli", *a], capture_output=True, text=True, timeout=600)

    res = cli("anomaly", "train", "--model", "dae", "--data", str(data), "--background", "g,q", "--out",
              str(tmp_path / "dae"), "--epochs", "2", "--no-progress")
    assert res.returncode == 0, res.stderr[-2000:]
    res = cli("anomaly", "evaluate", str(tmp_path / "dae"))
    assert res.returncode == 0 and '"t"' in res.stdout, res.stderr[-2000:]
    bad = cli("anomaly", "train", "--model", "ae", "--data", str(data), "--background", "g,x",
              "--out", str(tmp_path / "x"))
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "'x'" in bad.stderr
    bad = cli("anomaly", "evaluate", str(tmp_path / "dae"), "--score", "kl")
    assert bad.returncode == 2 and "--score" in bad.stderr
