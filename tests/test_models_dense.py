"""Properties of the dense, convolutional, recurrent and set models beyond the shared registry contract.

EFN infrared and collinear safety, exact RNN padding invariance (against each jet run alone), CNNs at
several image sizes, masked batch norm against ``BatchNorm1d`` on the real particles, and the parameter
counts of the course networks computed by hand.
"""

from __future__ import annotations

import pytest
import torch

from jetlab.errors import UsageError
from jetlab.models import InputDims, count_parameters, create
from jetlab.models.layers import MaskedBatchNorm

# ----------------------------------------------------------------------------------------------- helpers


def particle_batch(counts: list[int], p: int = 10, f: int = 13, seed: int = 0) -> dict[str, torch.Tensor]:
    """Hand-made particle batch: real slots first, zero padding, z summing to 1 over real particles."""
    g = torch.Generator().manual_seed(seed)
    b = len(counts)
    mask = torch.arange(p)[None, :] < torch.tensor(counts)[:, None]  # (B, P)
    m = mask.unsqueeze(-1).float()  # (B, P, 1)
    x = torch.randn(b, p, f, generator=g) * m  # (B, P, F)
    points = 0.4 * torch.randn(b, p, 2, generator=g) * m  # (B, P, 2)
    pt = torch.rand(b, p, generator=g) * mask  # (B, P)
    z = pt / pt.sum(1, keepdim=True).clamp(min=1e-12)  # (B, P)
    return {"x": x, "mask": mask, "points": points, "z": z, "p4": torch.zeros(b, p, 4)}


def append_particle(batch: dict[str, torch.Tensor], points: torch.Tensor, z: torch.Tensor) -> dict:
    """Insert one real particle per jet at slot 0 (order is irrelevant to a symmetric model)."""
    b = batch["z"].shape[0]
    return {
        "x": torch.cat([torch.zeros(b, 1, batch["x"].shape[-1]), batch["x"]], 1),
        "mask": torch.cat([torch.ones(b, 1, dtype=torch.bool), batch["mask"]], 1),
        "points": torch.cat([points[:, None, :], batch["points"]], 1),
        "z": torch.cat([z[:, None], batch["z"]], 1),
        "p4": torch.zeros(b, batch["p4"].shape[1] + 1, 4),
    }


def efn_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return create("efn", n_classes=5).eval()


# --------------------------------------------------------------------------------------------------- EFN


def test_efn_ignores_zero_energy_particle() -> None:
    model, batch = efn_model(), particle_batch([4, 7, 10])
    soft = append_particle(batch, points=torch.tensor([[0.3, -0.2], [-0.5, 0.1], [0.0, 0.7]]), z=torch.zeros(3))
    with torch.no_grad():
        torch.testing.assert_close(model(soft), model(batch), atol=1e-5, rtol=1e-5)
        # the check has power: the same particle with a non-zero pT fraction does change the output
        hard = append_particle(batch, points=soft["points"][:, 0], z=torch.full((3,), 1.0))
        assert (model(hard) - model(batch)).abs().max() > 10 * 1e-5


@pytest.mark.parametrize("fraction", [0.5, 0.1, 0.97])
def test_efn_collinear_split(fraction: float) -> None:
    model, batch = efn_model(), particle_batch([4, 7, 10], seed=1)
    j = torch.tensor([0, 3, 9])  # the particle split in each jet
    rows = torch.arange(3)
    split = {k: v.clone() for k, v in batch.items()}
    z_j = batch["z"][rows, j]  # (3,)
    split["z"][rows, j] = fraction * z_j
    split = append_particle(split, points=batch["points"][rows, j], z=(1 - fraction) * z_j)
    torch.testing.assert_close(split["z"].sum(1), batch["z"].sum(1))
    with torch.no_grad():
        torch.testing.assert_close(model(split), model(batch), atol=1e-5, rtol=1e-5)


def test_efn_reads_only_angles_and_z() -> None:
    model, batch = efn_model(), particle_batch([5, 2])
    other = dict(batch, x=torch.randn_like(batch["x"]), p4=torch.randn_like(batch["p4"]))
    with torch.no_grad():
        torch.testing.assert_close(model(other), model(batch), atol=0, rtol=0)


# --------------------------------------------------------------------------------------------------- RNN

RNN_CASES = [("gru", {}), ("lstm", {}), ("gru", {"bidirectional": True, "layers": 2}),
             ("lstm", {"bidirectional": True})]


@pytest.mark.parametrize(("name", "hp"), RNN_CASES)
def test_rnn_padded_batch_equals_each_jet_alone(name: str, hp: dict) -> None:
    torch.manual_seed(0)
    model = create(name, n_classes=5, **hp).eval()
    counts = [10, 3, 1, 7, 4]
    batch = particle_batch(counts, p=10, seed=2)
    garbage = dict(batch, x=torch.where(batch["mask"][..., None], batch["x"], torch.randn_like(batch["x"])))
    with torch.no_grad():
        together = model(batch)  # (B, 5)
        torch.testing.assert_close(model(garbage), together, atol=1e-5, rtol=1e-5)
        for i, n in enumerate(counts):
            alone = model({"x": batch["x"][i : i + 1, :n], "mask": torch.ones(1, n, dtype=torch.bool)})
            torch.testing.assert_close(alone, together[i : i + 1], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["gru", "lstm"])
def test_rnn_empty_jet_is_finite_and_order_matters(name: str) -> None:
    torch.manual_seed(0)
    model = create(name, n_classes=5).eval()
    batch = particle_batch([0, 6], p=6, seed=3)
    with torch.no_grad():
        out = model(batch)
        assert torch.isfinite(out).all()
        flipped = dict(batch, x=batch["x"].flip(1), mask=batch["mask"].flip(1))  # reversed order, padding first
        assert (model(flipped)[1] - out[1]).abs().max() > 1e-6  # sequence models see the order


# --------------------------------------------------------------------------------------------------- CNN


@pytest.mark.parametrize("name", ["cnn", "resnet"])
@pytest.mark.parametrize("bins", [16, 40, 100])
def test_cnn_image_sizes(name: str, bins: int) -> None:
    torch.manual_seed(0)
    model = create(name, n_classes=5, dims=InputDims(image_bins=bins))
    logits = model({"x": torch.rand(3, 1, bins, bins)})
    assert logits.shape == (3, 5) and torch.isfinite(logits).all()
    logits.sum().backward()


def test_cnn_rejects_images_pooled_to_nothing() -> None:
    with pytest.raises(UsageError, match="shrink"):
        create("cnn", dims=InputDims(image_bins=12))


# ------------------------------------------------------------------------------------------ masked norm


def test_masked_batch_norm_matches_batchnorm_on_real_particles() -> None:
    torch.manual_seed(0)
    batch = particle_batch([3, 10, 6], p=12, f=5, seed=4)
    ours, ref = MaskedBatchNorm(5), torch.nn.BatchNorm1d(5)
    with torch.no_grad():
        ours.weight.uniform_(0.5, 2.0)
        ours.bias.uniform_(-1.0, 1.0)
        ref.load_state_dict(ours.state_dict(), strict=False)
    real = batch["x"][batch["mask"]]  # (N_real, F)
    y = ours(batch["x"], batch["mask"])  # (B, P, F)
    torch.testing.assert_close(y[batch["mask"]], ref(real), atol=1e-5, rtol=1e-5)
    assert (y[~batch["mask"]] == 0).all()
    torch.testing.assert_close(ours.running_mean, ref.running_mean)
    torch.testing.assert_close(ours.running_var, ref.running_var)


@pytest.mark.parametrize("name", ["deepsets", "pointnet"])
def test_padding_invariant_in_training_mode(name: str) -> None:
    """Batch statistics come from real particles only, so padding width does not matter while training."""
    torch.manual_seed(0)
    model = create(name, n_classes=5, dropout=0.0).train()
    narrow = particle_batch([3, 8, 5], p=8, seed=5)
    wide = {k: torch.cat([v, torch.zeros(v.shape[0], 6, *v.shape[2:], dtype=v.dtype)], 1) for k, v in narrow.items()}
    torch.testing.assert_close(model(wide), model(narrow), atol=1e-5, rtol=1e-5)


# ------------------------------------------------------------------------------------------ course sizes

# The course networks (shared/course-networks.md) as YAML-ready hparams, with trainable parameter counts
# worked out by hand (Keras reports the same trainable counts; its BatchNorm also lists 2·C non-trainable
# moving statistics, which PyTorch keeps as buffers):
#   MLP, 16 HLF:      16·40+40 = 680; 40·20+20 = 820; 20·10+10 = 210; 10·5+5 = 55; 5·5+5 = 30     → 1795
#   CNN, 100×100:     conv 1·5·5·5+5 = 130; BN 2·5 = 10; conv 5·3·3·3+3 = 138; BN 2·3 = 6;
#                     100 →pool5→ 20 →pool3→ 6, flatten 3·6·6 = 108; dense 108·5+5 = 545; out 5·5+5 = 30 → 859
#                     (Keras: 875 total, 16 non-trainable)
#   GRU, 16 features: 3·(16·40 + 40·40) + 2·3·40 = 6960 (= Keras GRU with reset_after=True, the TF2
#                     default); head 40·20+20 = 820; 20·10+10 = 210; 10·5+5 = 55; out 5·5+5 = 30 → 8075
#   DeepSets, 7 feat: BN 2·7 = 14; φ 7·32+32 = 256, 2·(32·32+32) = 2112; ρ 32·16+16 = 528;
#                     out 16·5+5 = 85                                                               → 2995
#                     (Keras: 3009 total, 14 non-trainable)
COURSE = {
    "mlp": (InputDims(hlf=16), 1795,
            {"hidden": [40, 20, 10, 5], "dropout": [0.25, 0.25, 0.25, 0.0], "activation": "relu"}),
    "cnn": (InputDims(image_bins=100), 859,
            {"channels": [5, 3], "kernels": [5, 3], "pools": [5, 3], "dropout": 0.25, "dense": [5],
             "activation": "relu"}),
    "gru": (InputDims(particle_features=16), 8075,
            {"hidden": 40, "layers": 1, "bidirectional": False, "dropout": 0.25, "head": [20, 10, 5],
             "head_dropout": [0.25, 0.25, 0.0], "activation": "relu"}),
    "deepsets": (InputDims(particle_features=7), 2995,
                 {"phi": [32, 32, 32], "rho": [16], "pool": "mean", "norm": "batch", "activation": "relu",
                  "dropout": 0.0}),
}  # fmt: skip


@pytest.mark.parametrize("name", list(COURSE))
def test_course_parameter_counts(name: str) -> None:
    dims, expected, hparams = COURSE[name]
    model = create(name, n_classes=5, dims=dims, **hparams)
    assert count_parameters(model) == expected
    assert count_parameters(create(name, n_classes=5, dims=dims)) == expected, "defaults are the course network"


def test_course_cnn_runs_on_100_bins() -> None:
    dims, _, hparams = COURSE["cnn"]
    model = create("cnn", n_classes=5, dims=dims, **hparams).eval()
    assert model({"x": torch.rand(2, 1, 100, 100)}).shape == (2, 5)


# ----------------------------------------------------------------------------------------------- hparams


def test_bad_hparams_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="dropout"):
        create("mlp", dropout=[0.1, 0.2])
    with pytest.raises(UsageError, match="activation"):
        create("deepsets", activation="swishy")
    with pytest.raises(UsageError, match="pool"):
        create("deepsets", pool="median")
    with pytest.raises(UsageError, match="norm"):
        create("pfn", norm="group")
