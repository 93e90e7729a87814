"""Model-specific properties of the attention and graph models (beyond the registry contract)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jetlab.data.batches import BatchBuilder, RepresentationConfig
from jetlab.models import create
from jetlab.models.classify.particlenet import EdgeConvBlock, feature_knn, neighbour_mask
from tests.conftest import make_jets

DENSE = ["set_transformer", "part", "part_lite", "particlenet", "particlenet_lite", "interaction_net"]


def particles(n: int, seed: int, max_particles: int = 32) -> dict:
    jets = make_jets(n, seed=seed)
    cfg = RepresentationConfig("particles", max_particles=max_particles)
    return BatchBuilder(cfg).fit(jets)(jets, jets.labels)


def model(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    m = create(name, n_classes=5)
    opt = torch.optim.SGD(m.parameters(), lr=0.0)
    m.train()
    for seed in (11, 12):  # non-trivial BatchNorm running statistics
        b = particles(16, seed)
        opt.zero_grad()
        m(b).sum().backward()
    return m.eval()


def interleave_padding(batch: dict, width: int, seed: int) -> dict:
    """The same jets in ``width`` slots, their particles scattered among zero padding slots."""
    b, p = batch["mask"].shape
    slots = torch.from_numpy(np.random.default_rng(seed).permutation(width)[:p])  # (P,) new slot per old slot
    out = {"y": batch["y"]}
    for key in ("x", "mask", "points", "p4", "z"):
        t = batch[key]
        new = t.new_zeros((b, width, *t.shape[2:]))
        new[:, slots] = t
        out[key] = new
    return out


def test_part_attention_bias_sees_p4() -> None:
    """Same x, different four-momenta: ParT's output changes (only through the pair interaction bias)."""
    m, batch = model("part"), particles(8, seed=1)
    moved = dict(batch)
    scale = torch.exp(torch.randn(batch["mask"].shape, generator=torch.Generator().manual_seed(0)))  # (B, P)
    rot = batch["p4"].clone()
    rot[..., 3] = batch["p4"][..., 3] * scale  # rapidities, Δ and m² change; x untouched
    moved["p4"] = rot * batch["mask"][..., None]
    with torch.no_grad():
        assert (m(batch) - m(moved)).abs().max() > 1e-3
        garbage = dict(batch, p4=torch.where(batch["mask"][..., None], batch["p4"], 1e3))
        torch.testing.assert_close(m(batch), m(garbage))  # p4 of padded slots is ignored


def test_feature_knn_never_selects_padding() -> None:
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(6, 20, 5, generator=g)  # (B, P, C)
    counts = torch.tensor([20, 12, 5, 2, 1, 9])
    mask = torch.arange(20)[None, :] < counts[:, None]  # (B, P)
    mask = mask[:, torch.randperm(20, generator=g)]  # padding scattered between real slots
    feats[~mask] = feats[mask].mean(0)  # padding sits where it would be everyone's nearest
    idx = feature_knn(feats, mask, k=7)  # (B, P, 7)
    valid = neighbour_mask(mask, 7)  # (B, P, 7)
    assert mask.gather(1, idx.flatten(1)).view_as(idx)[mask].all(), "a real particle got a padded neighbour"
    for jet in range(6):
        real = mask[jet].nonzero().flatten().tolist()
        for i in real:
            d = ((feats[jet, real] - feats[jet, i]) ** 2).sum(-1)
            expect = {real[j] for j in d.argsort().tolist() if real[j] != i}
            got = set(idx[jet, i][valid[jet, i]].tolist())
            assert len(got) == min(7, len(real) - 1) and got <= expect
            assert got == set(sorted(expect, key=lambda j: float(d[real.index(j)]))[: len(got)])


def test_edgeconv_ignores_padded_values() -> None:
    """Padded slots never contribute: garbage there leaves the real outputs unchanged (train-mode BN too)."""
    torch.manual_seed(0)
    block = EdgeConvBlock(k=4, in_dim=3, dims=(8, 8))
    x = torch.randn(3, 10, 3)  # (B, P, C)
    mask = torch.rand(3, 10) < 0.6
    mask[:, 0] = True
    clean = torch.where(mask[..., None], x, 0.0)
    dirty = torch.where(mask[..., None], x, 1e3 * torch.randn(3, 10, 3))
    out_clean, out_dirty = block(clean, mask), block(dirty, mask)
    torch.testing.assert_close(out_clean, out_dirty)
    assert (out_clean[~mask] == 0).all()


@pytest.mark.parametrize("name", ["part", "part_lite", "particlenet", "particlenet_lite"])
def test_eval_output_independent_of_batch(name: str) -> None:
    m, batch = model(name), particles(9, seed=3)
    with torch.no_grad():
        full = m(batch)
        for j in (0, 4, 8):
            alone = m({k: v[j:j + 1] for k, v in batch.items()})
            torch.testing.assert_close(alone, full[j:j + 1], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", DENSE)
def test_padding_length_and_position_do_not_matter(name: str) -> None:
    """Very different padding (32 vs 200 slots, padding scattered among the particles) gives the same logits."""
    m, batch = model(name), particles(10, seed=4)
    with torch.no_grad():
        ref = m(batch)
        torch.testing.assert_close(m(particles(10, seed=4, max_particles=200)), ref, atol=2e-5, rtol=2e-5)
        torch.testing.assert_close(m(interleave_padding(batch, 200, seed=5)), ref, atol=2e-5, rtol=2e-5)


def test_part_weaver_extras_add_the_documented_parameters() -> None:
    """Each weaver-core option adds exactly its documented parameters, in every particle and class block."""
    from jetlab.models import count_parameters
    from jetlab.models.classify.part import WEAVER_EXTRAS

    d, h, ffn, blocks, pair = 64, 4, 4, 4 + 1, (32, 32)  # registry defaults of "part"
    added = {"scale_attn": blocks * 2 * d, "scale_fc": blocks * 2 * ffn * d, "scale_heads": blocks * h,
             "scale_resids": blocks * d, "pair_bias": sum(pair), "pair_out_norm": 2 * h}
    base = count_parameters(create("part"))
    for option in WEAVER_EXTRAS:
        assert count_parameters(create("part", **{option: True})) - base == added[option], option
    assert count_parameters(create("part", **dict.fromkeys(WEAVER_EXTRAS, True))) - base == sum(added.values())


def test_part_weaver_scalings_start_as_identity_and_then_act() -> None:
    """scale_heads / scale_resids start at 1 (same logits as without); changed, they change the logits.
    scale_attn / scale_fc / pair_out_norm insert norms, so the same shared weights give other logits."""
    base, batch = model("part"), particles(8, seed=2)
    weights = base.state_dict()
    with torch.no_grad():
        ref = base(batch)
        scaled = create("part", n_classes=5, scale_heads=True, scale_resids=True).eval()
        assert sorted(set(scaled.state_dict()) - set(weights)) == sorted(
            f"{kind}.{i}.{p}" for kind, n in (("blocks", 4), ("cls_blocks", 1)) for i in range(n)
            for p in ("head_scale", "resid_scale"))
        scaled.load_state_dict(weights, strict=False)
        torch.testing.assert_close(scaled(batch), ref)
        scaled.blocks[0].head_scale[1] = 3.0
        assert (scaled(batch) - ref).abs().max() > 1e-3
        scaled.blocks[0].head_scale[1] = 1.0
        scaled.blocks[2].resid_scale[5] = 0.0
        assert (scaled(batch) - ref).abs().max() > 1e-3
        for option in ("scale_attn", "scale_fc", "pair_out_norm"):
            other = create("part", n_classes=5, **{option: True}).eval()
            shared = {k.replace(".ff.2.", ".ff.3.") if option == "scale_fc" else k: v for k, v in weights.items()}
            missing, unexpected = other.load_state_dict(shared, strict=False)  # the fc norm sits at ff.2
            assert missing and not unexpected, option
            assert all(".attn_norm." in k or ".ff.2." in k or "pair_embed.net.3." in k for k in missing), option
            if option == "pair_out_norm":
                other.pair_embed.net[3].running_mean.fill_(0.5)  # a fresh eval-mode BatchNorm is ~ the identity
            assert (other(batch) - ref).abs().max() > 1e-4, option


def test_part_with_weaver_extras_still_ignores_padding() -> None:
    """All weaver-core options on: padding length and position still do not change the logits."""
    from jetlab.models.classify.part import WEAVER_EXTRAS

    torch.manual_seed(0)
    m = create("part", n_classes=5, **dict.fromkeys(WEAVER_EXTRAS, True))
    m.train()
    m(particles(16, seed=11)).sum().backward()  # BatchNorm running statistics off their start values
    m.eval()
    batch = particles(10, seed=4)
    with torch.no_grad():
        ref = m(batch)
        torch.testing.assert_close(m(particles(10, seed=4, max_particles=200)), ref, atol=2e-5, rtol=2e-5)
        torch.testing.assert_close(m(interleave_padding(batch, 200, seed=5)), ref, atol=2e-5, rtol=2e-5)
