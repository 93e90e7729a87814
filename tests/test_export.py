"""ONNX export: every classifier exports, ONNX Runtime agrees with torch at other batch sizes and particle
counts, `jetlab export` + `evaluate --backend onnx` reproduce the torch AUCs, and failures are one line."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from jetlab.cli import main
from jetlab.data.batches import BatchBuilder, RepresentationConfig
from jetlab.errors import UsageError
from jetlab.export import _operator, export_model, onnx_session
from jetlab.models import create, get_spec, list_models
from jetlab.tasks.config import resolve_config
from jetlab.tasks.predictors import OnnxPredictor
from jetlab.tasks.train import train
from tests.conftest import make_jets, make_separable_jets, write_dataset

MODELS = [s.name for s in list_models(task="classify") if getattr(s, "engine", "torch") == "torch"]
NOT_EXPORTABLE: dict[str, str] = {}  # model -> operator it fails on (none at present)
K = 3  # kNN neighbours of graph representations
# Small widths and depths keep each export to seconds; a model not listed (or a key it lacks) keeps its defaults.
TINY: dict[str, dict[str, Any]] = {
    "mlp": {"hidden": (8, 8), "dropout": 0.1}, "resnet": {"channels": (4, 8), "blocks": (1, 1)},
    "deepsets": {"phi": (8, 8), "rho": (8,)}, "pfn": {"phi": (8, 8), "f": (8,)}, "efn": {"phi": (8, 8), "f": (8,)},
    "pointnet": {"widths": (8, 8), "head": (8,)}, "gru": {"hidden": 8}, "lstm": {"hidden": 8},
    "set_transformer": {"dim": 8, "heads": 2, "ff": 8, "blocks": 1, "head": (8,)},
    "part": {"embed_dims": (8,), "pair_embed_dims": (8,), "num_heads": 2, "num_layers": 1, "ffn_ratio": 1},
    "part_lite": {"embed_dims": (8,), "pair_embed_dims": (8,), "num_heads": 2, "num_layers": 1, "ffn_ratio": 1},
    "gcn": {"hidden": (8, 8), "fc": (8,)}, "gat": {"hidden": (8, 8), "heads": 2, "fc": (8,)},
    "particlenet": {"k": K, "blocks": ((8, 8), (8, 8)), "fc": (8,)},
    "particlenet_lite": {"k": K, "blocks": ((8, 8), (8, 8)), "fc": (8,)},
    "interaction_net": {"edge_dims": (8,), "node_dims": (8,), "head_dims": (8,)},
    "lorentznet": {"hidden": 8, "n_layers": 1}, "pelican": {"width": 8, "n_layers": 1, "decoder": 8},
}


def tiny(name: str) -> dict[str, Any]:
    known = get_spec(name).defaults
    return {k: v for k, v in TINY.get(name, {}).items() if k in known}


def builder_for(name: str, max_particles: int) -> BatchBuilder:
    cfg = RepresentationConfig(get_spec(name).representation, max_particles=max_particles, image_bins=16, k=K)
    return BatchBuilder(cfg).fit(make_jets(20, seed=9))


@torch.no_grad()
def ort_vs_torch(onnx: Path, inputs: list[str], model: torch.nn.Module, batch: dict[str, Any]) -> float:
    got = onnx_session(onnx).run(["probs"], {n: batch[n].numpy() for n in inputs})[0]
    want = torch.softmax(model(batch), dim=1).numpy()
    assert got.shape == want.shape
    return float(np.abs(got - want).max())


@pytest.mark.parametrize("name", MODELS)
def test_every_classifier_exports(name: str, tmp_path: Path) -> None:
    """Export at B = 10, P = 14, then run ONNX Runtime at B = 5, P = 23 on jets with fewer particles than P."""
    builder = builder_for(name, 14)
    torch.manual_seed(0)
    model = create(name, n_classes=3, dims=builder.dims(), **tiny(name)).eval()
    batch = builder(make_jets(10, max_particles=12, seed=1))
    if name in NOT_EXPORTABLE:
        with pytest.raises(UsageError, match=f"{name}: cannot export to ONNX: operator {NOT_EXPORTABLE[name]}"):
            export_model(model, batch, tmp_path / "m.onnx", name=name, graph_k=K)
        return
    res = export_model(model, batch, tmp_path / "m.onnx", name=name, graph_k=K)
    assert res["max_abs_diff"] < 1e-4 and res["n_checked"] == 10
    other = dataclasses.replace(builder, config=builder.config.replace(max_particles=23))
    assert ort_vs_torch(tmp_path / "m.onnx", res["inputs"], model, other(make_jets(5, max_particles=20, seed=2))) < 1e-4
    assert not list(tmp_path.glob("*.tmp")), "temporary files left behind"


@pytest.mark.parametrize(("k", "p"), [(3, 14), (8, 6)])
def test_particlenet_export_awkward_jets(k: int, p: int, tmp_path: Path) -> None:
    """The packed export path (folded BatchNorm, repeated neighbour places subtracted) on a lone particle,
    jets with fewer than k + 1 particles, an empty jet and k > P; BatchNorm statistics not the identity."""
    builder = builder_for("particlenet", p)
    torch.manual_seed(0)
    model = create("particlenet", n_classes=3, dims=builder.dims(), k=k, blocks=((8, 8), (8, 8)), fc=(8,)).eval()
    for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)):
        for t, lo, hi in zip((bn.running_mean, bn.running_var, bn.weight, bn.bias), (-1, .5, .5, -1), (1, 2, 2, 1)):
            t.data.uniform_(lo, hi)
    jets = make_jets(10, max_particles=p, seed=1)
    res = export_model(model, builder(jets), tmp_path / "m.onnx", name="pn", graph_k=k)
    batch = builder(make_jets(6, max_particles=p, seed=3))
    batch["mask"] = torch.arange(p)[None] < torch.tensor([1, 2, 3, 0, p, k + 1])[:, None]  # padding keeps its values
    assert ort_vs_torch(tmp_path / "m.onnx", res["inputs"], model, batch) < 1e-5


def test_part_export_packs_pairs_even_when_none_is_real(tmp_path: Path) -> None:
    """ParT's pair embedding packs the real pairs (NonZero) in the export: batches with no real pair at all
    (lone particles, empty jets) and with every slot real give the torch scores."""
    p = 9
    builder = builder_for("part", p)
    torch.manual_seed(0)
    model = create("part", n_classes=3, dims=builder.dims(), **tiny("part")).eval()
    res = export_model(model, builder(make_jets(10, max_particles=p, seed=1)), tmp_path / "m.onnx", name="part")
    for counts in ([1, 1, 0, 1], [1, 2, p, 0]):
        batch = builder(make_jets(len(counts), max_particles=p, seed=3))
        batch["mask"] = torch.arange(p)[None] < torch.tensor(counts)[:, None]
        assert ort_vs_torch(tmp_path / "m.onnx", res["inputs"], model, batch) < 1e-5, counts


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_bidirectional_rnn_exports(cell: str, tmp_path: Path) -> None:
    """Two bidirectional layers: the export runs each direction unpacked (the backward one over each jet's
    real particles reversed) and equals the packed eager model, for lone particles and an empty jet too."""
    builder = builder_for(cell, 8)
    torch.manual_seed(0)
    model = create(cell, n_classes=3, dims=builder.dims(), hidden=6, layers=2, bidirectional=True, head=(4,),
                   head_dropout=0.0).eval()
    res = export_model(model, builder(make_jets(10, max_particles=8, seed=1)), tmp_path / "m.onnx", name=cell)
    assert res["max_abs_diff"] < 1e-5
    batch = builder(make_jets(5, max_particles=8, seed=3))
    batch["mask"] = torch.arange(8)[None] < torch.tensor([1, 2, 8, 0, 5])[:, None]
    assert ort_vs_torch(tmp_path / "m.onnx", res["inputs"], model, batch) < 1e-5


class MedianPool(torch.nn.Module):
    """A set model pooling with a median (``kthvalue``, which no exporter translates)."""

    def __init__(self) -> None:
        super().__init__()
        self.out = torch.nn.Linear(1, 2)

    def forward(self, batch: dict[str, Any]) -> torch.Tensor:
        return self.out(batch["x"][..., :1].kthvalue(2, dim=1).values)  # (B, 2)


def test_unexportable_model_fails_in_one_line(tmp_path: Path) -> None:
    batch = builder_for("pfn", 8)(make_jets(4, max_particles=8))
    with pytest.raises(UsageError) as err:
        export_model(MedianPool().eval(), batch, tmp_path / "m.onnx", name="median")
    assert str(err.value) == "median: cannot export to ONNX: operator aten::kthvalue unsupported"
    assert not (tmp_path / "m.onnx").exists() and not list(tmp_path.glob("*.tmp"))


def test_operator_named_from_exporter_errors() -> None:
    dispatch = RuntimeError("Error ... No ONNX function found for <OpOverload(op='aten.sort', overload='stable')>.")
    assert _operator(RuntimeError("step 3/3 failed\nnext"), dispatch) == "operator aten::sort unsupported"
    legacy = RuntimeError("Exporting the operator 'aten::_pack_padded_sequence' to ONNX opset version 18 ...")
    assert _operator(legacy) == "operator aten::_pack_padded_sequence unsupported"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = write_dataset(tmp_path_factory.mktemp("sep") / "d", make_separable_jets(200))
    out = tmp_path_factory.mktemp("runs") / "pfn"
    cfg = resolve_config("pfn", str(data), overrides={"hparams": {"phi": [16, 16], "f": [16]},
                                                     "trainer": {"epochs": 2, "batch_size": 64, "progress": False}})
    train(cfg, out)
    return out


def test_cli_export_then_evaluate_onnx(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(run), "--onnx", str(run / "model.onnx")]) == 0
    assert "max |diff|" in capsys.readouterr().out
    record = json.loads((run / "export.json").read_text())
    assert record["onnx"] == "model.onnx" and record["max_abs_diff"] < 1e-4 and record["n_checked"] > 0
    assert record["inputs"] == ["x", "mask"] and len(record["class_names"]) == 5
    aucs = {}
    for backend in ("torch", "onnx"):
        assert main(["evaluate", str(run), "--backend", backend, "--out", str(run / backend)]) == 0
        aucs[backend] = json.loads((run / backend / "metrics.json").read_text())["metrics"]["auc"]
    assert json.loads((run / "onnx" / "metrics.json").read_text())["backend"] == "onnx"
    flat = {b: np.array([v["value"] if isinstance(v, dict) else v for v in a.values()], float) for b, a in aucs.items()}
    np.testing.assert_allclose(flat["onnx"], flat["torch"], atol=1e-4)
    predictor = OnnxPredictor.from_run(run)
    assert predictor.backend == "onnx" and predictor.n_params > 0 and predictor.hparams["model"] == "pfn"
    assert predictor.hparams["class_names"] == record["class_names"]


def test_missing_export_is_one_line(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bare = tmp_path / "bare"
    shutil.copytree(run, bare, ignore=shutil.ignore_patterns("export.json", "*.onnx"))
    assert main(["evaluate", str(bare), "--backend", "onnx"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"jetlab export {bare} --onnx" in err
