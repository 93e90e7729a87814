"""Generative task end to end: train a generator a little, sample jets, read them back, tag them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import jetlab.io as jio
from jetlab.errors import UsageError
from jetlab.tasks.config import resolve_config
from jetlab.tasks.sample import sample
from jetlab.tasks.train import train
from tests.conftest import make_separable_jets, write_dataset

FAST = {"trainer": {"epochs": 2, "batch_size": 64, "progress": False}}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("gen") / "d", make_separable_jets(300, seed=4))


@pytest.mark.parametrize("model", ["vae_gen", "gan", "flow_matching", "flow"])
def test_train_and_sample(model: str, data: Path, tmp_path: Path) -> None:
    train(resolve_config(model, str(data), overrides=FAST, task="generate"), tmp_path / model)
    res = sample(tmp_path / model, 25, tmp_path / f"{model}.h5", seed=1)
    jets = jio.open(res["out"])
    assert len(jets) == 25 and set(jets.counts()) == {"g", "q", "w", "z", "t"}
    assert np.isfinite(jets.hlf).all()
    if model != "flow":
        assert jets.max_particles == 30 and (jets.n_particles >= 1).all()
        assert (jets.jet[:, 0] > 0).all()
    again = sample(tmp_path / model, 25, tmp_path / "again.h5", seed=1)
    np.testing.assert_array_equal(jio.open(again["out"]).hlf, jets.hlf)


def test_sampled_jets_can_be_tagged(data: Path, tmp_path: Path) -> None:
    """A tagger trained on real jets (kinematic features only) evaluates a generated sample."""
    train(resolve_config("flow_matching", str(data), overrides=FAST, task="generate"), tmp_path / "gen")
    sample(tmp_path / "gen", 50, tmp_path / "fake.h5")
    over = {**FAST, "representation": {"features": ["deta", "dphi", "log_pt", "log_e", "dr"]}}
    train(resolve_config("pfn", str(data), overrides=over), tmp_path / "tagger")
    from jetlab.tasks.evaluate import evaluate

    res = evaluate(tmp_path / "tagger", data=tmp_path / "fake.h5", out=tmp_path / "tagged", split="all")
    assert res["n_jets"] == 50


def test_old_diffusion_run_still_loads(data: Path, tmp_path: Path) -> None:
    """A run written when flow matching was registered as 'diffusion' loads and samples under the new name."""
    import torch

    run = tmp_path / "old"
    cfg = resolve_config("diffusion", str(data), overrides=FAST, task="generate")
    assert cfg.model == "flow_matching"
    train(cfg, run)
    for f in run.rglob("*.yaml"):  # make it look like an old run: every stored model name says 'diffusion'
        f.write_text(f.read_text().replace("flow_matching", "diffusion"))
    for f in run.rglob("*.json"):
        f.write_text(f.read_text().replace("flow_matching", "diffusion"))
    for ckpt in run.rglob("*.ckpt"):
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        assert state["hyper_parameters"]["model"] == "flow_matching"
        state["hyper_parameters"]["model"] = "diffusion"
        torch.save(state, ckpt)
    res = sample(run, 20, tmp_path / "old.h5", seed=1)
    assert len(jio.open(res["out"])) == 20


def test_bad_input(data: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="for 'generate', not 'classify'"):
        resolve_config("gan", str(data))
    train(resolve_config("flow", str(data), overrides=FAST, task="generate"), tmp_path / "f")
    with pytest.raises(UsageError, match="--classes"):
        sample(tmp_path / "f", 10, tmp_path / "x.h5", classes="t,b")
    res = subprocess.run([sys.executable, "-m", "jetlab.cli", "sample", str(tmp_path / "f"), "--n", "0", "--out",
                          str(tmp_path / "y.h5")], capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and res.stderr.count("\n") == 1
    info = subprocess.run([sys.executable, "-m", "jetlab.cli", "info", str(tmp_path / "x.h5")], capture_output=True,
                          text=True, timeout=300)
    assert info.returncode == 2  # nothing half-written was left behind
    assert json.loads((tmp_path / "f" / "train.json").read_text())["task"] == "generate"


def test_gen_metrics_cli(tmp_path: Path) -> None:
    """Two halves of one sample are consistent with the floor; a pT-smeared copy is clearly worse."""
    jets = make_separable_jets(800, max_particles=24, seed=9)
    real = write_dataset(tmp_path / "real", jets)
    smeared = jets[:]
    r = np.random.default_rng(0)
    pt = jets.particle_names.index("pt")
    smeared.constituents = jets.constituents.copy()
    smeared.constituents[..., pt] *= np.where(jets.mask, r.lognormal(0, 0.5, jets.mask.shape), 1.0)
    fake = write_dataset(tmp_path / "fake", smeared)

    def run(a: Path, b: Path, *extra: str) -> dict:
        res = subprocess.run([sys.executable, "-m", "jetlab.cli", "gen-metrics", str(a), str(b), "--json", *extra],
                             capture_output=True, text=True, timeout=600, env={**__import__("os").environ,
                                                                               "OMP_NUM_THREADS": "1"})
        assert res.returncode == 0, res.stderr[-2000:]
        return json.loads(res.stdout)

    same = run(real, real, "--plots", str(tmp_path / "plots"))
    assert (tmp_path / "plots" / "gen_jets.png").is_file()
    worse = run(real, fake)
    for res in (same, worse):
        assert {"w1m", "w1p", "w1efp", "fpd", "kpd", "w1n", "fpd_asinh", "classifier_auc"} <= set(res["fake"])
        assert res["fake"]["fpd"]["unc"] is not None and res["fake"]["kpd"]["unc"] is not None
    pt = {k: r["fake"]["w1p"]["per_feature"]["pt_rel"]["value"] for k, r in (("same", same), ("worse", worse))}
    floor = worse["truth"]["w1p"]["per_feature"]["pt_rel"]["value"]
    assert pt["worse"] > 2 * floor and pt["worse"] > 2 * pt["same"], (pt, floor)
    assert worse["fake"]["w1p"]["value"] > worse["truth"]["w1p"]["value"]
