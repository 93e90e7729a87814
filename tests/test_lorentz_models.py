"""Lorentz-equivariant taggers (lorentznet, pelican): invariance under a random Lorentz transformation,
permutations and padding; sensitivity to a single particle; learning; the beam option; the Minkowski helpers.

Tolerances: invariance is checked in float64 with atol = rtol = 1e-9 on the logits (exact symmetry up to
rounding) and in float32 with atol = rtol = 1e-3 on 1 TeV jets (rounding of the momenta ~1e-7 relative,
amplified by the cancellation in <p_i, p_j> of near-collinear massless particles).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from jetlab.data.batches import BatchBuilder, RepresentationConfig
from jetlab.io.jets import Jets
from jetlab.models import create
from jetlab.models.minkowski import append_beams, beam_vectors, minkowski_dot, pair_dots, psi
from tests.conftest import make_jets, make_separable_jets, permute_particles

MODELS = ["lorentznet", "pelican"]
G = np.diag([1.0, -1.0, -1.0, -1.0])


def random_rotation(r: np.random.Generator, axis: np.ndarray | None = None) -> np.ndarray:
    """A random 3×3 rotation (det +1), about ``axis`` only when given (Rodrigues' formula)."""
    n = r.normal(size=3) if axis is None else np.asarray(axis, float)
    n /= np.linalg.norm(n)
    angle = r.uniform(-np.pi, np.pi)
    k = np.array([[0, -n[2], n[1]], [n[2], 0, -n[0]], [-n[1], n[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def boost(rapidity: float, direction: np.ndarray) -> np.ndarray:
    """The 4×4 pure boost of rapidity ζ along the unit vector n (acting on (E, px, py, pz))."""
    n = np.asarray(direction, float) / np.linalg.norm(direction)
    lam = np.eye(4)
    lam[0, 0] = np.cosh(rapidity)
    lam[0, 1:] = lam[1:, 0] = np.sinh(rapidity) * n
    lam[1:, 1:] += (np.cosh(rapidity) - 1) * np.outer(n, n)
    return lam


def random_lorentz(seed: int, z_only: bool = False) -> np.ndarray:
    """Λ = B(ζ, n) R: a random rotation then a boost with |ζ| ≤ 2 in a random direction (or along z)."""
    r = np.random.default_rng(seed)
    rot = np.eye(4)
    rot[1:, 1:] = random_rotation(r, axis=[0, 0, 1] if z_only else None)
    direction = np.array([0.0, 0.0, 1.0]) if z_only else r.normal(size=3)
    lam = boost(r.uniform(-2, 2) if z_only else r.uniform(1, 2), direction) @ rot
    np.testing.assert_allclose(lam.T @ G @ lam, G, atol=1e-12)  # a Lorentz transformation
    return lam


def make_batch(jets: Jets, max_particles: int = 32) -> dict:
    builder = BatchBuilder(RepresentationConfig("particles", max_particles=max_particles)).fit(jets)
    return builder(jets, jets.labels)


def transformed(batch: dict, lam: np.ndarray) -> dict:
    p4 = torch.einsum("ij,bpj->bpi", torch.as_tensor(lam, dtype=batch["p4"].dtype), batch["p4"])  # (B, P, 4)
    return batch | {"p4": p4 * batch["mask"].unsqueeze(-1)}


def as_double(batch: dict) -> dict:
    return {k: v.double() if torch.is_tensor(v) and v.is_floating_point() else v for k, v in batch.items()}


def tev_jets(n: int = 8, seed: int = 0) -> Jets:
    """Synthetic jets scaled to ~1 TeV (the pair products reach ~1e5 GeV²)."""
    jets = make_jets(n, max_particles=30, seed=seed)
    scale = 1000.0 / jets.jet[:, 0]  # (n,)
    cols = [jets.particle_names.index(c) for c in ("px", "py", "pz", "E", "pt")]
    jets.constituents[..., cols] *= scale[:, None, None].astype(np.float32)
    return jets


def build(name: str, dims_scalars: int = 6, seed: int = 0, **hp: Any) -> torch.nn.Module:
    from jetlab.models.registry import InputDims

    torch.manual_seed(seed)
    return create(name, n_classes=3, dims=InputDims(scalars=dims_scalars), **hp).eval()


@pytest.mark.parametrize("name", MODELS)
def test_lorentz_invariance_float64(name: str) -> None:
    batch = as_double(make_batch(tev_jets(seed=1)))
    model = build(name).double()
    with torch.no_grad():
        ref = model(batch)
        for seed in range(3):
            torch.testing.assert_close(model(transformed(batch, random_lorentz(seed))), ref, atol=1e-9, rtol=1e-9)


@pytest.mark.parametrize("name", MODELS)
def test_lorentz_invariance_float32_tev(name: str) -> None:
    batch = make_batch(tev_jets(seed=2))
    model = build(name)
    with torch.no_grad():
        ref = model(batch)
        out = model(transformed(batch, random_lorentz(7)))
    assert torch.isfinite(out).all()
    # float32 inputs of a boosted TeV jet carry rounding ~1e-7 E_i E_j in each Minkowski product of nearly
    # collinear particles (a few GeV² against ~50 GeV²): the exact property is the float64 test above.
    torch.testing.assert_close(out, ref, atol=5e-3, rtol=1e-2)


@pytest.mark.parametrize("name", MODELS)
def test_permutation_and_padding(name: str) -> None:
    jets = make_jets(10, seed=3)
    model = build(name).double()
    with torch.no_grad():
        ref = model(as_double(make_batch(jets)))
        shuffled = model(as_double(make_batch(permute_particles(jets, seed=4))))
        wide = model(as_double(make_batch(jets, max_particles=45)))
    torch.testing.assert_close(shuffled, ref, atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(wide, ref, atol=1e-9, rtol=1e-9)


@pytest.mark.parametrize("name", MODELS)
def test_padding_content_is_ignored_and_single_particle_jets(name: str) -> None:
    jets = make_jets(6, seed=5)
    jets.n_particles[:3] = 1  # jets with one real particle
    jets.constituents[~jets.mask] = 0.0
    batch = make_batch(jets)
    garbage = batch | {"p4": torch.where(batch["mask"].unsqueeze(-1), batch["p4"], torch.full_like(batch["p4"], 1e4)),
                       "scalars": torch.where(batch["mask"].unsqueeze(-1), batch["scalars"], 7.0)}
    model = build(name)
    with torch.no_grad():
        out = model(batch)
        assert torch.isfinite(out).all()
        torch.testing.assert_close(model(garbage), out, atol=0, rtol=0)


@pytest.mark.parametrize("name", MODELS)
def test_output_depends_on_each_particle(name: str) -> None:
    batch = as_double(make_batch(make_jets(6, seed=6)))
    model = build(name).double()
    changed = batch["p4"].clone()
    changed[:, 1] = torch.einsum("ij,bj->bi", torch.as_tensor(boost(0.5, [1.0, 0.0, 0.0])), changed[:, 1])
    with torch.no_grad():
        delta = (model(batch | {"p4": changed}) - model(batch)).abs().amax(dim=1)  # (B,)
    assert (delta > 1e-6).all(), delta


@pytest.mark.parametrize("name", MODELS)
def test_learns_separable_jets(name: str) -> None:
    jets = make_separable_jets(100, seed=0)
    jets = jets[(jets.labels == 0) | (jets.labels == 4)]  # few-particle narrow vs many-particle wide jets
    batch, y = make_batch(jets, max_particles=12), torch.as_tensor(jets.labels // 4)
    model = build(name).train()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(batch)[:, :2], y)
        loss.backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
        opt.step()
        losses.append(loss.item())
    assert min(losses[-5:]) < 0.7 * losses[0], losses


@pytest.mark.parametrize("name", MODELS)
def test_beams_break_symmetry_to_the_beam_axis(name: str) -> None:
    batch = as_double(make_batch(tev_jets(seed=8)))
    model = build(name, beams=True).double()
    with torch.no_grad():
        ref = model(batch)
        for seed in range(3):
            z_only = transformed(batch, random_lorentz(seed, z_only=True))
            torch.testing.assert_close(model(z_only), ref, atol=1e-9, rtol=1e-9)
        general = model(transformed(batch, random_lorentz(11)))
        wide = model(as_double(make_batch(tev_jets(seed=8), max_particles=40)))
    assert (general - ref).abs().max() > 1e-6  # no longer invariant under a general boost
    torch.testing.assert_close(wide, ref, atol=1e-9, rtol=1e-9)


def test_minkowski_helpers() -> None:
    p = torch.tensor([[5.0, 1.0, 2.0, 2.0], [3.0, 0.0, 0.0, 3.0], [0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    d = pair_dots(p[None])[0]
    torch.testing.assert_close(d, p @ torch.as_tensor(G) @ p.T)
    torch.testing.assert_close(torch.diagonal(d), torch.tensor([16.0, 0.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(minkowski_dot(p, p), torch.diagonal(d))
    expected = torch.tensor([-np.log(4), 0.0, np.log1p(1e6)], dtype=torch.float32)
    torch.testing.assert_close(psi(torch.tensor([-3.0, 0.0, 1e6])), expected)
    mask = torch.tensor([[True, True, False]])
    beams = beam_vectors(p[None], mask)[0]  # (2, 4)
    jet = p[:2].sum(0)
    mt = torch.sqrt(jet[0] ** 2 - jet[3] ** 2)
    torch.testing.assert_close(minkowski_dot(jet, beams), torch.stack([mt, mt]))  # <J, b±> = m_T(J)
    torch.testing.assert_close(minkowski_dot(beams[0], beams[1]), torch.tensor(2.0, dtype=torch.float64))
    p4, scalars, mask2 = append_beams(p[None], torch.zeros(1, 3, 2, dtype=torch.float64), mask)
    assert p4.shape == (1, 5, 4) and scalars[0, :, -1].tolist() == [0, 0, 0, 1, 1] and mask2[0].tolist() == [
        True, True, False, True, True]
