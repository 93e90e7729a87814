"""One contract over the whole registry: shapes, finiteness, gradients, masking, symmetry, learning."""

from __future__ import annotations

import pytest
import torch

from jetlab.data.batches import BatchBuilder, RepresentationConfig
from jetlab.errors import UsageError
from jetlab.io.jets import Jets
from jetlab.models import count_parameters, create, get_spec, list_models
from tests.conftest import make_jets, permute_particles

TORCH = list_models(task="classify", engine="torch")  # fitted baselines: tests/test_estimators.py
MODELS = [s.name for s in TORCH]
SET_MODELS = [s.name for s in TORCH if s.representation in ("particles", "graph")]
SYMMETRIC = [s.name for s in TORCH if s.symmetric]
P = 32  # >= the largest multiplicity of make_jets(max_particles=30): no truncation


def batch_for(name: str, jets: Jets, max_particles: int = P) -> tuple[dict, BatchBuilder]:
    spec = get_spec(name)
    cfg = RepresentationConfig(spec.representation, max_particles=max_particles, image_bins=16, k=4)
    builder = BatchBuilder(cfg).fit(jets)
    return builder(jets, jets.labels), builder


def build(name: str, jets: Jets, n_classes: int = 5) -> tuple[torch.nn.Module, dict]:
    torch.manual_seed(0)
    batch, builder = batch_for(name, jets)
    return create(name, n_classes=n_classes, dims=builder.dims()), batch




@pytest.mark.parametrize("name", MODELS)
def test_forward_backward(name: str) -> None:
    jets = make_jets(12, seed=1)
    model, batch = build(name, jets)
    logits = model(batch)
    assert logits.shape == (12, 5) and torch.isfinite(logits).all()
    torch.nn.functional.cross_entropy(logits, batch["y"]).backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or not
                                                                               torch.isfinite(p.grad).all())]
    assert not missing, f"no/invalid gradient for {missing}"
    assert count_parameters(model) > 0
    assert get_spec(name).summary, "registry builders need a docstring"


@pytest.mark.parametrize("name", SET_MODELS)
def test_padding_does_not_matter(name: str) -> None:
    jets = make_jets(10, seed=2)
    model, batch = build(name, jets)
    model.eval()
    wide, _ = batch_for(name, jets, max_particles=P + 9)
    with torch.no_grad():
        torch.testing.assert_close(model(batch), model(wide), atol=2e-4, rtol=2e-4)


@pytest.mark.parametrize("name", SYMMETRIC)
def test_permutation_invariance(name: str) -> None:
    jets = make_jets(10, seed=3)
    model, batch = build(name, jets)
    model.eval()
    shuffled, _ = batch_for(name, permute_particles(jets, seed=4))
    with torch.no_grad():
        torch.testing.assert_close(model(batch), model(shuffled), atol=2e-4, rtol=2e-4)


@pytest.mark.parametrize("name", MODELS)
def test_loss_decreases(name: str) -> None:
    jets = make_jets(32, seed=5, n_classes=2)
    model, batch = build(name, jets, n_classes=2)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(batch), batch["y"])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert min(losses[-3:]) < losses[0], losses


def test_unknown_model_and_hparam() -> None:
    with pytest.raises(UsageError, match="did you mean"):
        create("partcilenet")
    if "mlp" in MODELS:
        with pytest.raises(UsageError, match="unknown hyper-parameter"):
            create("mlp", widht=3)
