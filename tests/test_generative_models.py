"""Contract tests over every ``task="generate"`` model, plus the symmetries of the GAN and the ODE sampler."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from jetlab.data.batches import BatchBuilder, RepresentationConfig
from jetlab.models.registry import create, list_models
from tests.conftest import make_jets

GENERATORS = [s.name for s in list_models(task="generate") if s.representation != "voxels"]  # showers elsewhere
P, F = 30, 3


def setup(name: str, n: int = 40, **hp: Any) -> tuple[torch.nn.Module, dict[str, Any]]:
    """A small model of ``name`` and one batch of its representation (n synthetic jets, labels 0..4)."""
    torch.manual_seed(0)
    jets = make_jets(n, max_particles=P)
    spec = next(s for s in list_models(task="generate") if s.name == name)
    if spec.representation == "hlf":
        config = RepresentationConfig("hlf")
    else:
        config = RepresentationConfig("particles", features=("etarel", "phirel", "ptrel"), max_particles=P)
    builder = BatchBuilder(config).fit(jets)
    return create(name, 5, builder.dims(), **hp), builder(jets, jets.labels)


def losses(model: torch.nn.Module, batch: dict[str, Any]) -> dict[str, tuple[torch.Tensor, list[torch.nn.Parameter]]]:
    """Each loss of the model with the parameters it must train."""
    if hasattr(model, "discriminator"):
        return {"d": (model.discriminator_loss(batch)[0], list(model.discriminator.parameters())),
                "g": (model.generator_loss(batch)[0], list(model.generator.parameters()))}
    return {"loss": (model.training_loss(batch)[0], list(model.parameters()))}


def test_registry_has_the_generators() -> None:
    assert {"vae_gen", "gan", "flow", "flow_matching"} <= set(GENERATORS)


def test_diffusion_is_a_deprecated_alias_of_flow_matching(capsys: pytest.CaptureFixture[str]) -> None:
    """The old name builds the same model, notes the rename on stderr, and is no second registry entry."""
    from jetlab.cli_train import models_table
    from jetlab.models import registry

    registry._NOTED.discard("diffusion")
    spec = registry.get_spec("diffusion")
    err = capsys.readouterr().err
    assert spec.name == "flow_matching" and err.count("\n") == 1 and "'flow_matching'" in err
    registry.get_spec("diffusion")
    assert capsys.readouterr().err == ""  # noted once per process
    assert "diffusion" not in GENERATORS and spec.aliases == ("diffusion",)
    rows = {r["name"]: r for r in models_table() if r["task"] == "generate"}
    assert "diffusion" not in rows and rows["flow_matching"]["aliases"] == ["diffusion"]
    torch.manual_seed(0)
    old = create("diffusion", 5)
    torch.manual_seed(0)
    new = create("flow_matching", 5)
    assert type(old) is type(new)
    assert all(torch.equal(a, b) for a, b in zip(old.state_dict().values(), new.state_dict().values()))


@pytest.mark.parametrize("name", GENERATORS)
def test_loss_finite_with_gradients(name: str) -> None:
    model, batch = setup(name)
    model.train()
    for key, (loss, params) in losses(model, batch).items():
        assert torch.isfinite(loss), key
        model.zero_grad()
        loss.backward()
        missing = [i for i, p in enumerate(params) if p.grad is None or not torch.isfinite(p.grad).all()]
        assert not missing, f"{name}/{key}: parameters without finite gradient: {missing}"


@pytest.mark.parametrize("name", GENERATORS)
def test_adam_steps_reduce_the_loss(name: str) -> None:
    model, batch = setup(name)
    model.train()
    gan = hasattr(model, "discriminator")
    params = model.discriminator.parameters() if gan else model.parameters()
    opt = torch.optim.Adam(params, lr=3e-3)

    def loss(seed: int = 0) -> torch.Tensor:  # same noise for the before/after comparison
        torch.manual_seed(seed)
        return model.discriminator_loss(batch)[0] if gan else model.training_loss(batch)[0]

    before = float(loss().detach())
    for step in range(25):  # the GAN: discriminator steps against a fixed generator
        opt.zero_grad()
        loss(step + 1).backward()
        opt.step()
    assert float(loss().detach()) < before


@pytest.mark.parametrize("name", GENERATORS)
def test_sample_shapes_masks_and_determinism(name: str) -> None:
    model, batch = setup(name)
    model.train()
    losses(model, batch)  # observes the batch (multiplicities, feature moments)
    model.eval()
    labels = torch.arange(6) % 5
    a = model.sample(6, labels, generator=torch.Generator().manual_seed(3))
    b = model.sample(6, labels, generator=torch.Generator().manual_seed(3))
    assert torch.isfinite(a["x"]).all()
    assert all(torch.equal(a[k], b[k]) for k in a)
    if model.kind == "hlf":
        assert a["x"].shape == (6, batch["x"].shape[1])
        return
    assert model.kind == "cloud" and a["x"].shape == (6, P, F) and a["mask"].shape == (6, P)
    assert a["mask"].dtype == torch.bool and (a["mask"].sum(dim=1) >= 1).all()
    assert (a["x"][~a["mask"]] == 0).all()
    assert torch.equal(a["mask"], a["mask"].cummin(dim=1).values)  # real particles first


@pytest.mark.parametrize("name", [n for n in GENERATORS if n != "flow"])
def test_multiplicity_learned_per_class(name: str) -> None:
    model, batch = setup(name)
    model.train()
    losses(model, batch)
    assert int(model.multiplicity.sum()) == len(batch["label"])  # the training loss observed the batch
    fresh, _ = setup(name)
    counts = torch.where(batch["label"] == 0, 4, 11)  # class 0: 4 particles, the others: 11
    mask = torch.arange(P) < counts.unsqueeze(1)
    fresh.train()
    fresh.observe({"x": batch["x"] * mask.unsqueeze(-1), "mask": mask, "label": batch["label"]})
    fresh.eval()
    out = fresh.sample(20, torch.tensor([0, 2] * 10), generator=torch.Generator().manual_seed(0))
    assert out["mask"].sum(dim=1).tolist() == [4, 11] * 10
    fresh.train()
    fresh.observe(batch)  # class 0 now also has the batch's multiplicities
    fresh.eval()
    n = fresh.sample(400, torch.zeros(400, dtype=torch.long), generator=torch.Generator().manual_seed(0))
    seen = set((batch["mask"].sum(1)[batch["label"] == 0]).tolist()) | {4}
    assert set(n["mask"].sum(dim=1).tolist()) <= seen


@pytest.mark.parametrize("name", GENERATORS)
def test_conditioning_changes_samples(name: str) -> None:
    model, batch = setup(name)
    if model.kind == "cloud":  # one multiplicity for every class, so only the conditioning differs
        mask = (torch.arange(P) < 10).expand(len(batch["label"]), P)
        model.train()
        model.observe({"x": batch["x"] * mask.unsqueeze(-1), "mask": mask, "label": batch["label"]})
    model.eval()
    n = 8
    out = [model.sample(n, torch.full((n,), c), generator=torch.Generator().manual_seed(1)) for c in (0, 3)]
    if model.kind == "cloud":
        assert torch.equal(out[0]["mask"], out[1]["mask"])
    assert not torch.allclose(out[0]["x"], out[1]["x"])


def test_gan_generator_equivariant_discriminator_invariant() -> None:
    model, batch = setup("gan")
    model.eval()
    g, d = model.generator, model.discriminator
    b = 4
    x, mask, labels = batch["x"][:b], batch["mask"][:b], batch["label"][:b]
    perm = torch.randperm(P)
    eps, z = torch.randn(b, P, g.local), torch.randn(b, g.glob)
    out = g(eps, z, labels, mask)  # (b, P, F)
    assert torch.allclose(g(eps[:, perm], z, labels, mask[:, perm]), out[:, perm], atol=1e-5)
    logit = d(x, labels, mask)  # (b,)
    assert torch.allclose(d(x[:, perm], labels, mask[:, perm]), logit, atol=1e-5)
    junk = x + 5.0 * (~mask).unsqueeze(-1)  # content of padded slots must not matter
    assert torch.allclose(d(junk, labels, mask), logit, atol=1e-5)


def test_flow_matching_velocity_equivariant() -> None:
    model, batch = setup("flow_matching")
    model.eval()
    x, mask, labels = batch["x"][:4], batch["mask"][:4], batch["label"][:4]
    t, perm = torch.rand(4), torch.randperm(P)
    v = model.velocity(x, t, labels, mask)
    assert torch.allclose(model.velocity(x[:, perm], t, labels, mask[:, perm]), v[:, perm], atol=1e-5)


def test_flow_matching_steps_configurable_and_deterministic(monkeypatch: pytest.MonkeyPatch) -> None:
    model, batch = setup("flow_matching", steps=3)
    model.eval()
    calls = []
    forward = model.velocity.forward
    monkeypatch.setattr(model.velocity, "forward", lambda *a: calls.append(1) or forward(*a))
    labels = torch.tensor([0, 1, 2])
    a = model.sample(3, labels, generator=torch.Generator().manual_seed(0))
    assert len(calls) == 3
    b = model.sample(3, labels, generator=torch.Generator().manual_seed(0), steps=7)
    assert len(calls) == 10 and torch.equal(a["mask"], b["mask"]) and not torch.allclose(a["x"], b["x"])
    c = model.sample(3, labels, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a["x"], c["x"])
    mid, _ = setup("flow_matching", steps=3, solver="midpoint")
    mid.eval()
    calls.clear()
    mid_forward = mid.velocity.forward
    monkeypatch.setattr(mid.velocity, "forward", lambda *a: calls.append(1) or mid_forward(*a))
    mid.sample(2, labels[:2])
    assert len(calls) == 6
