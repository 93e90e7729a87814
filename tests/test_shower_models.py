"""Shower generators: one contract over every model on ``voxels``, the run path (train → ``jetlab sample`` →
a CaloGAN file), the diffusion equations (forward closed form, DDIM vs ancestral), and ``ddpm_jets`` on jets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import jetlab.api as api
import jetlab.io as jio
from jetlab.cli import main
from jetlab.data.batches import BatchBuilder, RepresentationConfig
from jetlab.errors import UsageError
from jetlab.generate.showers import get_geometry, simulate
from jetlab.io.showers import Showers
from jetlab.models.generate.ddpm import Diffusion, beta_schedule
from jetlab.models.registry import count_parameters, create, get_spec, list_models
from jetlab.represent.voxels import from_normalized, to_normalized
from tests.conftest import make_separable_jets, write_dataset

SHOWER_MODELS = [s.name for s in list_models(task="generate") if s.representation == "voxels"]
SMALL: dict[str, dict[str, Any]] = {"ddpm": {"timesteps": 40}, "calo_flow_matching": {"steps": 4}}
FAST = {"epochs": 1, "batch_size": 64, "progress": False}


def showers(n: int = 48, seed: int = 0) -> Showers:
    """CaloGAN showers of e+ and photons, 2-60 GeV (log-uniform), from the GFlash simulator."""
    rng = np.random.default_rng(seed)
    energies = np.exp(rng.uniform(np.log(2.0), np.log(60.0), n))
    parts, labels = [], []
    for k, particle in enumerate(("e+", "gamma")):
        half = energies[k::2]
        out = simulate(get_geometry("calogan"), particle, half, rng)
        parts.append((np.concatenate([out[f"layer_{i}"].reshape(len(half), -1) for i in range(3)], 1), half))
        labels.append(np.full(len(half), k, np.int64))
    voxels = np.concatenate([p[0] for p in parts])
    incident = np.concatenate([p[1] for p in parts]).astype(np.float32)
    return Showers(voxels, incident, np.concatenate(labels), "calogan")


def setup(name: str, data: Showers) -> tuple[torch.nn.Module, dict[str, Any]]:
    torch.manual_seed(0)
    config = RepresentationConfig("voxels", **get_spec(name).recipe.get("representation", {}))
    builder = BatchBuilder(config).fit(data)
    return create(name, 3, builder.dims(), **SMALL.get(name, {})), builder(data)


def losses(model: torch.nn.Module, batch: dict[str, Any]) -> dict[str, tuple[torch.Tensor, list[torch.nn.Parameter]]]:
    if hasattr(model, "discriminator_loss"):
        return {"d": (model.discriminator_loss(batch)[0], list(model.discriminator.parameters())),
                "g": (model.generator_loss(batch)[0], list(model.generator.parameters()))}
    return {"loss": (model.training_loss(batch)[0], list(model.parameters()))}


@pytest.fixture(scope="module")
def data() -> Showers:
    return showers()


def test_registry_has_the_shower_models() -> None:
    assert {"calogan", "calo_vae", "calo_flow", "ddpm", "calo_flow_matching"} <= set(SHOWER_MODELS)
    assert get_spec("ddpm_jets").representation == get_spec("flow_matching").representation == "particles"


@pytest.mark.parametrize("name", SHOWER_MODELS)
def test_loss_finite_with_gradients_on_every_parameter(name: str, data: Showers) -> None:
    model, batch = setup(name, data)
    model.train()
    assert model.kind == "showers" and count_parameters(model) > 0 and get_spec(name).summary
    for key, (loss, params) in losses(model, batch).items():
        assert torch.isfinite(loss), key
        model.zero_grad()
        loss.backward()
        missing = [i for i, p in enumerate(params) if p.grad is None or not torch.isfinite(p.grad).all()]
        assert not missing, f"{name}/{key}: parameters without finite gradient: {missing}"


@pytest.mark.parametrize("name", SHOWER_MODELS)
def test_samples_are_showers_in_mev_deterministic_and_conditioned(name: str, data: Showers) -> None:
    model, batch = setup(name, data)
    model.train()
    losses(model, batch)  # the voxel statistics see the batch
    model.eval()
    labels, energy = torch.tensor([0, 1, 0, 1]), torch.tensor([3.0, 3.0, 50.0, 50.0])
    a = model.sample(4, labels, torch.Generator().manual_seed(2), energy=energy)
    b = model.sample(4, labels, torch.Generator().manual_seed(2), energy=energy)
    assert a["x"].shape == (4, 504) and torch.isfinite(a["x"]).all() and (a["x"] >= 0).all()
    assert torch.equal(a["x"], b["x"]) and torch.allclose(a["energy"], energy)
    assert (a["x"] <= 1000 * energy[:, None] * (1 + 1e-6)).all()  # no voxel holds more than E_inc
    low = model.sample(4, labels, torch.Generator().manual_seed(2), energy=torch.full((4,), 3.0))
    assert not torch.equal(low["x"][2:], a["x"][2:])  # the incident energy is a condition
    drawn = model.sample(6, torch.zeros(6, dtype=torch.long), torch.Generator().manual_seed(0))
    assert ((drawn["energy"] >= 2.0 - 1e-3) & (drawn["energy"] <= 60.0 + 1e-3)).all()  # the training range


@pytest.mark.parametrize("name", SHOWER_MODELS)
def test_builds_without_data(name: str) -> None:
    """`jetlab models` builds every entry at its defaults: CaloGAN's geometry when no data gave the sizes."""
    model = create(name, 3)
    assert model.n_voxels == 504 and model.layer_sizes == [288, 144, 72]


def test_voxels_representation_round_trip_and_dims(data: Showers) -> None:
    builder = BatchBuilder(RepresentationConfig("voxels")).fit(data)
    batch = builder(data[:5])
    assert batch["x"].shape == (5, 504) and batch["layers"].shape == (5, 3)
    assert batch["label"].tolist() == data.labels[:5].tolist()
    np.testing.assert_allclose(batch["energy"].numpy(), np.log(data.incident[:5]), rtol=1e-6)
    np.testing.assert_allclose(batch["layers"].numpy(), data[:5].layer_energies() / (1000 * data.incident[:5, None]),
                               rtol=1e-5)
    back = from_normalized(batch["x"], torch.from_numpy(data.incident[:5]), "log", 1e-7).numpy()
    keep = data.voxels[:5] >= 2e-7 * 1000 * data.incident[:5, None]  # above the transform's resolution
    np.testing.assert_allclose(back[keep], data.voxels[:5][keep], rtol=1e-4)
    assert (back[~keep] == 0).all()
    u = np.array([[0.0, 0.3, 2.0]], np.float32)  # fractions: 0, 0.3 and an impossible 2 (clipped to 1)
    x = to_normalized(u * 1e4, np.array([10.0], np.float32), "fraction")
    np.testing.assert_allclose(from_normalized(x, np.array([10.0], np.float32), "fraction"), [[0, 3e3, 1e4]])
    extra = builder.dims().extra
    assert extra["voxels"] == 504 and extra["layer_shapes"] == [[3, 96], [12, 12], [12, 6]]
    assert extra["log_energy"][2] == pytest.approx(np.log(data.incident.min()), rel=1e-5)
    with pytest.raises(UsageError, match="voxel_transform"):
        RepresentationConfig("voxels", voxel_transform="sqrt")


def test_voxel_statistics_floor_rare_voxels_and_clip_to_the_seen_range() -> None:
    from jetlab.models.generate.shower_base import RunningMoments

    stats = RunningMoments(3, relative=0.5)
    x = torch.stack([torch.linspace(-3, 3, 101), torch.linspace(-1, 1, 101), torch.zeros(101)], dim=1)
    x[7, 2] = 4.0  # a feature hit once
    stats.update(x)
    mean, std = stats.stats()
    assert float(std[2]) == pytest.approx(0.5 * float((x.std(0, unbiased=False)).mean()), rel=1e-5)
    assert torch.equal(stats.clip(torch.tensor([[9.0, -9.0, 1.0]])), torch.tensor([[3.0, -1.0, 1.0]]))
    torch.testing.assert_close(stats.destandardize(stats.standardize(x)), x)


def test_calogan_layers_are_chained_and_energy_terms_act(data: Showers) -> None:
    model, batch = setup("calogan", data)
    g1 = model.generator.layers[1]
    z, h = torch.randn(3, model.generator.latent), torch.randn(3, 16)
    prev = (torch.rand(3, 288) * 1e-3).requires_grad_()
    g1(z, h, prev).sum().backward()
    assert prev.grad is not None and prev.grad.abs().sum() > 0  # layer 1 sees layer 0's image
    _, parts = model.generator_loss(batch)
    assert parts["incident"] >= 0 and parts["energy_sum"] >= 0
    with torch.no_grad():
        model.generator.layers[0].net[-1].bias.fill_(50.0)  # layer 0 alone deposits more than E_inc
    _, parts = model.generator_loss(batch)
    assert parts["incident"] > 0.1


def test_flow_matching_for_showers_reuses_the_jet_core() -> None:
    from jetlab.models.generate.flow_matching import FlowMatching

    model = create("calo_flow_matching", 3, steps=3)
    assert isinstance(model.core, FlowMatching)
    assert type(model.core).training_loss is FlowMatching.training_loss
    assert type(model.core).integrate is FlowMatching.integrate


# ------------------------------------------------------------------------------------------ the run path
@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("showers") / "data"
    assert main(["showers", "generate", "--geometry", "calogan", "--particle", "e+", "--log-energy", "2,50",
                 "--n", "240", "--seed", "3", "--out", str(out), "--no-progress"]) == 0
    return out


@pytest.mark.parametrize("name", SHOWER_MODELS)
def test_train_then_jetlab_sample_writes_a_calogan_file(name: str, dataset: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    res = api.train(name, dataset, tmp_path / "run", task="generate", trainer=FAST, hparams=SMALL.get(name, {}))
    assert res["epochs"] >= 0 and res["global_steps"] >= 1
    out = tmp_path / "fake.h5"
    assert main(["sample", str(tmp_path / "run"), "--n", "30", "--out", str(out), "--seed", "4"]) == 0
    assert str(out) in capsys.readouterr().out
    fake = jio.open(out)
    assert isinstance(fake, Showers) and fake.geometry == "calogan" and len(fake) == 30
    assert [fake.layer(i).shape[1:] for i in range(3)] == [(3, 96), (12, 12), (12, 6)]
    assert (fake.voxels >= 0).all() and np.isfinite(fake.voxels).all()
    real = jio.open(dataset)
    assert fake.incident.min() >= real.incident.min() and fake.incident.max() <= real.incident.max()
    assert set(fake.counts()) == {"e+"}


def test_a_cpu_time_budget_stops_training(dataset: Path, tmp_path: Path) -> None:
    res = api.train("calo_vae", dataset, tmp_path / "run", task="generate",
                    trainer={**FAST, "epochs": 500, "patience": 1000, "max_cpu_seconds": 0.5})
    assert 1 <= res["global_steps"] and res["epochs"] < 500  # stopped by the budget, not the epochs
    with pytest.raises(UsageError, match="max_cpu_seconds"):
        api.train("calo_vae", dataset, tmp_path / "bad", task="generate", trainer={**FAST, "max_cpu_seconds": 0})


def test_sample_showers_at_given_energies(dataset: Path, tmp_path: Path) -> None:
    from jetlab.tasks.sample_showers import sample_showers

    api.train("calo_vae", dataset, tmp_path / "run", task="generate", trainer=FAST)
    res = sample_showers(tmp_path / "run", 5, tmp_path / "e.h5", energies=[1.0, 2.0, 5.0, 10.0, 100.0])
    fake = jio.open(res["out"])
    np.testing.assert_allclose(fake.incident, [1.0, 2.0, 5.0, 10.0, 100.0])
    assert res["showers_per_s"] > 0
    with pytest.raises(UsageError, match="positive"):
        sample_showers(tmp_path / "run", 2, tmp_path / "bad.h5", energies=[1.0, -1.0])
    assert not (tmp_path / "bad.h5").exists()
    # --energies DATA: the first N incident energies of a shower dataset (like-for-like with a reference)
    assert main(["sample", str(tmp_path / "run"), "--n", "7", "--out", str(tmp_path / "like.h5"),
                 "--energies", str(dataset)]) == 0
    np.testing.assert_allclose(jio.open(tmp_path / "like.h5").incident, jio.open(dataset).incident[:7])
    assert main(["sample", str(tmp_path / "run"), "--n", "3", "--out", str(tmp_path / "e50.h5"),
                 "--energies", "50"]) == 0
    np.testing.assert_allclose(jio.open(tmp_path / "e50.h5").incident, 50.0)
    assert main(["sample", str(tmp_path / "run"), "--n", "999", "--out", str(tmp_path / "many.h5"),
                 "--energies", str(dataset)]) == 2
    assert not (tmp_path / "many.h5").exists()


def test_generated_voxels_below_the_training_hit_floor_are_empty(dataset: Path) -> None:
    from jetlab.represent.voxels import hit_floor

    real = jio.open(dataset)
    floor = hit_floor(real)
    u = real.voxels / (1000.0 * real.incident[:, None])
    assert np.quantile(u[u > 0], 0.001) < floor < np.quantile(u[u > 0], 0.05)  # the 1 % quantile of the hits
    x = to_normalized(np.array([[0.0, 0.5, 2.0]], np.float32) * floor * 1e4, np.array([10.0], np.float32))
    back = from_normalized(x, np.array([10.0], np.float32), "log", 1e-7, floor)
    assert back[0, 0] == 0 and back[0, 1] == 0 and back[0, 2] > 0  # below the floor: empty; above: kept


# ------------------------------------------------------------------------------------------ diffusion
class _Toy(torch.nn.Module):
    """A fixed random noise network ε(x, t) of a (B, D) input."""

    def __init__(self, d: int) -> None:
        super().__init__()
        torch.manual_seed(5)
        self.lin = torch.nn.Linear(d + 1, d)
        self.calls = 0

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return torch.tanh(self.lin(torch.cat([x, t.unsqueeze(-1)], dim=1)))


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_forward_chain_matches_its_closed_form(schedule: str) -> None:
    """Iterating q(x_t|x_{t-1}) = N(√(1−β_t) x_{t−1}, β_t I) gives q(x_t|x_0) = N(√ᾱ_t x_0, (1−ᾱ_t) I)."""
    d = Diffusion(_Toy(3), timesteps=60, schedule=schedule)
    g = torch.Generator().manual_seed(0)
    x0 = torch.tensor([-2.0, 0.0, 3.0], dtype=torch.float64).expand(100_000, 3)
    x = x0.clone()
    for t in range(1, 61):
        x = d.q_step(x, t, torch.randn(x.shape, generator=g, dtype=torch.float64))
        if t in (1, 10, 60):
            bar = float(d.alpha_bar[t - 1])
            err = 5 * np.sqrt((1 - bar) / len(x))  # 5 σ of the sample mean
            torch.testing.assert_close(x.mean(0), np.sqrt(bar) * x0[0], atol=err + 1e-12, rtol=0)
            torch.testing.assert_close(x.var(0), torch.full((3,), 1 - bar, dtype=torch.float64),
                                       atol=5 * (1 - bar) * np.sqrt(2 / len(x)) + 1e-12, rtol=0)
            closed = d.q_sample(x0, torch.full((len(x),), t), torch.randn(x.shape, generator=g, dtype=torch.float64))
            torch.testing.assert_close(closed.mean(0), x.mean(0), atol=2 * err + 1e-12, rtol=0)


def test_beta_schedules() -> None:
    linear = beta_schedule("linear", 1000)
    assert float(linear[0]) == pytest.approx(1e-4) and float(linear[-1]) == pytest.approx(0.02)
    cosine = beta_schedule("cosine", 200)
    bar = torch.cumprod(1 - cosine, 0)
    assert (cosine > 0).all() and (cosine <= 0.999).all() and (bar.diff() < 0).all() and float(bar[-1]) < 1e-3
    with pytest.raises(UsageError, match="schedule"):
        beta_schedule("quadratic", 10)


def test_ddim_with_eta_one_and_every_step_is_the_ancestral_sampler() -> None:
    net = _Toy(4)
    d = Diffusion(net, timesteps=25, schedule="linear", beta_end=0.2)
    x_t = torch.randn(6, 4, generator=torch.Generator().manual_seed(1))
    ancestral = d.sample(x_t, sampler="ddpm", generator=torch.Generator().manual_seed(7))
    assert net.calls == 25
    ddim = d.sample(x_t, sampler="ddim", steps=25, eta=1.0, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(ddim, ancestral, atol=1e-4, rtol=1e-4)


def test_deterministic_ddim_depends_on_the_initial_noise_only() -> None:
    net = _Toy(4)
    d = Diffusion(net, timesteps=100, schedule="cosine")
    x_t = torch.randn(5, 4, generator=torch.Generator().manual_seed(1))
    a = d.sample(x_t, sampler="ddim", steps=10, eta=0.0, generator=torch.Generator().manual_seed(1))
    assert net.calls == 10
    b = d.sample(x_t, sampler="ddim", steps=10, eta=0.0, generator=torch.Generator().manual_seed(99))
    assert torch.equal(a, b)
    c = d.sample(x_t, sampler="ddim", steps=10, eta=1.0, generator=torch.Generator().manual_seed(99))
    assert not torch.allclose(a, c)
    with pytest.raises(UsageError, match="sample_steps"):
        d.sample(x_t, sampler="ddim", steps=101)


def test_diffusion_keeps_padding_at_zero() -> None:
    from jetlab.models.generate.ddpm import CloudDDPM

    model = CloudDDPM(5, 3, 30, timesteps=10)
    mask = torch.arange(30) < torch.tensor([[3], [12]])  # (2, 30)
    out = model.diffusion.sample(torch.randn(2, 30, 3), torch.tensor([0, 1]), mask, mask=mask.unsqueeze(-1))
    assert (out[~mask] == 0).all() and (out[mask] != 0).all()


def test_ddpm_jets_trains_and_samples_jets(tmp_path: Path) -> None:
    from jetlab.tasks.sample import sample

    data = write_dataset(tmp_path / "jets", make_separable_jets(120, seed=2))
    res = api.train("ddpm_jets", data, tmp_path / "run", task="generate", trainer=FAST, hparams={"timesteps": 20})
    assert res["global_steps"] >= 1 and np.isfinite(res["best_val_loss"])
    jets = jio.open(sample(tmp_path / "run", 10, tmp_path / "jets.h5", seed=1)["out"])
    assert len(jets) == 10 and jets.max_particles == 30 and (jets.n_particles >= 1).all()
