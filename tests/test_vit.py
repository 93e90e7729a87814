"""The Vision Transformers (`vit`, `vit_hybrid`): patches against an independent im2col, shapes, gradients,
sizes next to the CNNs, one-line errors for indivisible images, training through the API and ONNX export."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

import jetlab.api as jl
from jetlab.data.batches import BatchBuilder, RepresentationConfig
from jetlab.errors import UsageError
from jetlab.export import export_run
from jetlab.models import count_parameters, create
from jetlab.models.classify.vit import patchify
from jetlab.models.registry import InputDims
from tests.conftest import make_jets, make_separable_jets, write_dataset

VITS = ["vit", "vit_hybrid"]
N = 40  # the registry recipes' image size
TINY = {"dim": 16, "depth": 1, "heads": 2}


def image_batch(n_jets: int, bins: int = N) -> dict:
    jets = make_jets(n_jets, seed=1)
    builder = BatchBuilder(RepresentationConfig("image", image_bins=bins)).fit(jets)
    return builder(jets, jets.labels)


@pytest.mark.parametrize("p", [1, 2, 5])
def test_patchify_matches_unfold(p: int) -> None:
    """Patches in row order, each flattened channel-major: what im2col (``F.unfold`` with stride p) gives."""
    x = torch.randn(3, 2, 10, 10)
    want = torch.nn.functional.unfold(x, p, stride=p).transpose(1, 2)  # (B, N, C·p²)
    torch.testing.assert_close(patchify(x, p), want, rtol=0, atol=0)


@pytest.mark.parametrize("name", VITS)
def test_shapes_finite_and_every_parameter_learns(name: str) -> None:
    batch = image_batch(12)
    assert batch["x"].shape == (12, 1, N, N)
    torch.manual_seed(0)
    model = create(name, n_classes=5, dims=InputDims(image_bins=N))
    logits = model(batch)
    assert logits.shape == (12, 5) and torch.isfinite(logits).all()
    torch.nn.functional.cross_entropy(logits, batch["y"]).backward()
    missing = [n for n, q in model.named_parameters() if q.grad is None or not torch.isfinite(q.grad).all()
               or not q.grad.abs().sum() > 0]
    assert not missing, f"no/zero gradient for {missing}"


def test_patch_order_enters_only_through_positions() -> None:
    """Rolling the image by whole patches permutes the patch tokens: with E_pos = 0 the class-token readout is
    unchanged (attention is permutation-equivariant), with learned positions it changes."""
    torch.manual_seed(0)
    model = create("vit", n_classes=3, dims=InputDims(image_bins=16), **TINY).eval()
    x = torch.rand(2, 1, 16, 16)
    rolled = torch.roll(x, shifts=(4, 8), dims=(-2, -1))  # 4x4 patches: a permutation of the 16 tokens
    with torch.no_grad():
        for q in model.parameters():  # order-1 weights: a fresh model's blocks are near the identity
            torch.nn.init.normal_(q, std=0.5)
        assert not torch.allclose(model({"x": x}), model({"x": rolled}), atol=1e-3)
        model.pos.zero_()
        torch.testing.assert_close(model({"x": x}), model({"x": rolled}), atol=1e-5, rtol=1e-5)


def test_parameter_counts_next_to_the_cnns() -> None:
    dims = InputDims(image_bins=N)
    counts = {name: count_parameters(create(name, n_classes=5, dims=dims)) for name in (*VITS, "resnet", "cnn")}
    print(f"\nparameters at {N}x{N}, 5 classes: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    assert counts["vit"] > counts["resnet"] > counts["cnn"] > 0
    assert counts["vit_hybrid"] > counts["vit"]  # the same encoder and token grid, plus the stem


@pytest.mark.parametrize(("name", "bins", "where"), [
    ("vit", 42, "vit: image_bins 42 is not divisible by patch_size 4"),
    ("vit_hybrid", 42, "vit_hybrid: the stem's 21×21 map (image_bins 42) is not divisible by patch_size 2"),
])
def test_indivisible_image_is_one_line(name: str, bins: int, where: str) -> None:
    with pytest.raises(UsageError) as err:
        create(name, n_classes=5, dims=InputDims(image_bins=bins))
    assert str(err.value) == where


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("sep") / "d", make_separable_jets(200))


@pytest.mark.parametrize("name", VITS)
def test_trains_through_the_api_and_exports(name: str, data: Path, tmp_path: Path) -> None:
    out = tmp_path / name
    summary = jl.train(name, data, out, hparams=TINY,
                       trainer={"epochs": 2, "batch_size": 64, "progress": False})
    assert summary["epochs"] == 2 and summary["model"] == name and summary["params"] > 0
    assert summary["best_val_loss"] is not None and summary["best_val_loss"] == summary["best_val_loss"]  # not NaN
    assert yaml.safe_load((out / "config.yaml").read_text())["representation"]["image_bins"] == N  # the recipe's
    record = export_run(out, out / "model.onnx")
    assert (out / "model.onnx").is_file() and record["inputs"] == ["x"] and record["exporter"] == "dynamo"
    assert record["max_abs_diff"] < 1e-4 and record["n_checked"] > 0
