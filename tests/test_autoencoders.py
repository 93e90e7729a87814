"""The autoencoder contract over every anomaly model, and the properties of each kind (DAE, VAE, set AE)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from jetlab.data.batches import BatchBuilder, RepresentationConfig
from jetlab.errors import UsageError
from jetlab.io.jets import Jets
from jetlab.models import InputDims, count_parameters, create, get_spec, list_models
from jetlab.models.anomaly.set_autoencoder import chamfer_distance, sinkhorn_distance
from tests.conftest import make_jets, permute_particles

ANOMALY = [s.name for s in list_models(task="anomaly")]
P = 32  # >= the largest multiplicity of make_jets(max_particles=30): no truncation


def batch_for(name: str, jets: Jets, max_particles: int = P) -> tuple[dict, BatchBuilder]:
    cfg = RepresentationConfig(get_spec(name).representation, max_particles=max_particles, image_bins=16)
    builder = BatchBuilder(cfg).fit(jets)
    return builder(jets, jets.labels), builder


def build(name: str, jets: Jets, **hp: object) -> tuple[torch.nn.Module, dict]:
    torch.manual_seed(0)
    batch, builder = batch_for(name, jets)
    return create(name, dims=builder.dims(), **hp), batch




@pytest.mark.parametrize("name", ANOMALY)
def test_contract(name: str) -> None:
    jets = make_jets(12, seed=1)
    model, batch = build(name, jets)
    out = model(batch)
    n = len(jets)
    assert out["target"] is batch["x"] and out["z"].ndim == 2 and out["z"].shape[0] == n
    if get_spec(name).representation == "particles":
        assert out["recon"].shape == (n, model.n_out, batch["x"].shape[-1])
    else:
        assert out["recon"].shape == out["target"].shape
    total, parts = model.loss(out)
    assert total.shape == () and torch.isfinite(total) and all(torch.isfinite(v) for v in parts.values())
    total.backward()
    missing = [k for k, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, f"no/invalid gradient for {missing}"
    with torch.no_grad():
        scores = model.scores(model.eval()(batch))
    assert tuple(scores) == model.score_names and model.score_names[0] in ("mse", "chamfer")
    assert all(s.shape == (n,) and torch.isfinite(s).all() and (s >= 0).all() for s in scores.values())
    assert get_spec(name).summary and get_spec(name).task == "anomaly"


@pytest.mark.parametrize("name", ANOMALY)
def test_loss_decreases(name: str) -> None:
    jets = make_jets(32, seed=5)
    model, batch = build(name, jets)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss, _ = model.loss(model(batch))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert min(losses[-3:]) < losses[0], losses


def test_course_ae_parameter_count() -> None:
    # 16 → 10 → 5 → 10 → 16, weights + biases: (16·10+10) + (10·5+5) + (5·10+10) + (10·16+16) = 170 + 55 + 60 + 176
    assert count_parameters(create("ae", dims=InputDims(hlf=16))) == 461
    assert count_parameters(create("dae", dims=InputDims(hlf=16))) == 461  # noise adds no parameters


def test_feature_weights_weight_the_mse() -> None:
    w = torch.tensor([2.0] + [0.0] * 15)
    model = create("ae", feature_weights=w).eval()
    out = model({"x": torch.randn(4, 16)})
    expected = 2.0 * (out["recon"][:, 0] - out["target"][:, 0]) ** 2 / 16
    torch.testing.assert_close(model.scores(out)["mse"], expected)
    assert "feature_weights" in model.state_dict()
    with pytest.raises(UsageError, match="feature_weights"):
        create("ae", feature_weights=[1.0, 2.0])


def test_dae_noise_only_in_training() -> None:
    jets = make_jets(16, seed=2)
    dae, batch = build("dae", jets, noise_std=0.5)
    ae = create("ae", dims=InputDims(hlf=batch["x"].shape[1]))
    ae.load_state_dict(dae.state_dict())  # same weights, no noise
    with torch.no_grad():
        train_out = dae.train()(batch)["recon"]
        dae.eval(), ae.eval()
        torch.testing.assert_close(dae(batch)["recon"], ae(batch)["recon"], rtol=0, atol=0)
        torch.testing.assert_close(dae(batch)["recon"], dae(batch)["recon"], rtol=0, atol=0)
    assert not torch.allclose(train_out, ae(batch)["recon"]), "training forward must see noisy inputs"
    assert dae.train()(batch)["target"] is batch["x"], "the target is the clean input"


def test_vae_kl_and_reparametrization() -> None:
    jets = make_jets(16, seed=3)
    vae, batch = build("vae", jets)
    out = vae.train()(batch)
    kl = vae.kl_divergence(out["mu"], out["logvar"])
    assert (kl > 0).all() and out["z"].shape == (16, 2)
    torch.manual_seed(7)
    out = vae(batch)
    torch.manual_seed(7)
    eps = torch.randn_like(out["mu"])
    torch.testing.assert_close(out["z_sample"], out["mu"] + eps * torch.exp(0.5 * out["logvar"]))
    s = vae.scores(out)
    torch.testing.assert_close(s["combined"], s["mse"] + vae.beta * s["kl"])
    total, parts = vae.loss(out)
    torch.testing.assert_close(total, parts["recon"] + vae.beta * parts["kl"])
    vae.eval()
    with torch.no_grad():
        a, b = vae(batch), vae(batch)
    torch.testing.assert_close(a["recon"], b["recon"], rtol=0, atol=0)  # eval decodes the mean
    torch.testing.assert_close(a["z_sample"], a["mu"], rtol=0, atol=0)


def test_cae_image_bins_must_be_divisible_by_four() -> None:
    for bins in (16, 20, 100):
        m = create("cae", dims=InputDims(image_bins=bins))
        assert m({"x": torch.zeros(1, 1, bins, bins)})["recon"].shape == (1, 1, bins, bins)
    with pytest.raises(UsageError, match="divisible"):
        create("cae", dims=InputDims(image_bins=30))


def test_set_ae_permutation_invariance() -> None:
    jets = make_jets(10, seed=3)
    model, batch = build("set_ae", jets)
    model.eval()
    shuffled, _ = batch_for("set_ae", permute_particles(jets, seed=4))
    assert not torch.equal(shuffled["x"], batch["x"])
    with torch.no_grad():
        a, b = model(batch), model(shuffled)
        torch.testing.assert_close(model.scores(a)["chamfer"], model.scores(b)["chamfer"], atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(a["recon"], b["recon"], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("metric", ["chamfer", "sinkhorn"])
def test_set_ae_padding_invariance(metric: str) -> None:
    jets = make_jets(10, seed=2)
    model, batch = build("set_ae", jets, metric=metric)
    wide, _ = batch_for("set_ae", jets, max_particles=P + 9)
    model.eval()
    with torch.no_grad():
        a, b = model.scores(model(batch)), model.scores(model(wide))
    assert set(a) == set(model.score_names)
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-4, rtol=1e-4)


def test_chamfer_against_double_loop() -> None:
    r = np.random.default_rng(0)
    recon, target = r.normal(size=(3, 4, 2)), r.normal(size=(3, 5, 2))
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=bool)
    expected = []
    for y, x, m in zip(recon, target, mask):
        real = x[m]
        d = np.array([[np.sum((yi - xj) ** 2) for xj in real] for yi in y])  # (N, n) brute force
        expected.append(d.min(axis=0).mean() + d.min(axis=1).mean())
    got = chamfer_distance(torch.tensor(recon), torch.tensor(target), torch.tensor(mask))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10)
    empty = chamfer_distance(torch.tensor(recon[:1]), torch.tensor(target[:1]), torch.zeros(1, 5, dtype=torch.bool))
    assert empty.item() == 0.0


def test_sinkhorn_approaches_the_optimal_assignment() -> None:
    r = np.random.default_rng(1)
    recon, target = r.normal(size=(2, 3, 2)), r.normal(size=(2, 4, 2))
    mask = np.array([[1, 1, 1, 0], [1, 1, 0, 1]], dtype=bool)
    expected = []
    for y, x, m in zip(recon, target, mask):  # N = n = 3: uniform OT = the best permutation
        real = x[m]
        expected.append(min(np.mean([np.sum((y[i] - real[j]) ** 2) for i, j in enumerate(perm)])
                            for perm in itertools.permutations(range(3))))
    got = sinkhorn_distance(torch.tensor(recon), torch.tensor(target), torch.tensor(mask), eps=0.01, n_iter=500)
    np.testing.assert_allclose(got.numpy(), expected, rtol=2e-2)
