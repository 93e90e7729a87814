"""ParT pair features (jetlab.physics.pairs) against scikit-hep `vector` on random and awkward inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import vector

from jetlab.physics.kinematics import p4_from_pt_eta_phi_m
from jetlab.physics.pairs import pair_features, pair_features_at, rapidity, wrap_phi


def random_p4(b: int, p: int, seed: int, phi_centre: float = 0.0) -> np.ndarray:
    """(B, P, 4) E, px, py, pz of massive particles around one axis per jet (float64)."""
    r = np.random.default_rng(seed)
    pt = r.exponential(30.0, (b, p)) + 0.5
    eta = r.normal(0, 0.4, (b, p)) + r.uniform(-2, 2, (b, 1))
    phi = phi_centre + r.normal(0, 0.4, (b, p))
    m = r.uniform(0, 1.0, (b, p))
    px, py, pz, e = p4_from_pt_eta_phi_m(pt, eta, phi, m)
    return np.stack([e, px, py, pz], axis=-1)


def reference(p4: np.ndarray) -> np.ndarray:
    """(B, 4, P, P) ln Δ, ln kT, ln z, ln m² from `vector` (pairs broadcast explicitly)."""
    v = vector.array({"E": p4[..., 0], "px": p4[..., 1], "py": p4[..., 2], "pz": p4[..., 3]})
    a, b = v[:, :, None], v[:, None, :]
    delta = a.deltaRapidityPhi(b)
    ptmin = np.minimum(a.pt, b.pt)
    z = ptmin / (a.pt + b.pt)
    m2 = (a + b).mass2
    with np.errstate(divide="ignore"):  # Δ = 0 on the diagonal, which the tests skip
        return np.log(np.stack([delta, ptmin * delta, z, m2], axis=1))


def off_diagonal(x: np.ndarray) -> np.ndarray:
    eye = np.eye(x.shape[-1], dtype=bool)
    return x[..., ~eye]


@pytest.mark.parametrize("phi_centre", [0.0, math.pi, -math.pi + 0.05])
def test_pair_features_match_vector(phi_centre: float) -> None:
    p4 = random_p4(4, 9, seed=1, phi_centre=phi_centre)
    mask = torch.ones(4, 9, dtype=torch.bool)
    got = pair_features(torch.from_numpy(p4), mask).numpy()
    np.testing.assert_allclose(off_diagonal(got), off_diagonal(reference(p4)), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("phi_centre", [0.0, math.pi])
def test_pairs_at_indices_match_vector(phi_centre: float) -> None:
    """The packed form ParT uses: rows (jet·P + slot) of the flattened (B·P, 4), drawn across jets."""
    p4 = random_p4(3, 7, seed=4, phi_centre=phi_centre)
    jet, a, b = np.random.default_rng(5).integers(0, [3, 7, 7], size=(40, 3)).T
    keep = a != b
    jet, a, b = jet[keep], a[keep], b[keep]
    got = pair_features_at(torch.from_numpy(p4.reshape(-1, 4)), torch.from_numpy(jet * 7 + a),
                           torch.from_numpy(jet * 7 + b)).numpy()  # (M, 4)
    np.testing.assert_allclose(got, reference(p4)[jet, :, a, b], rtol=1e-9, atol=1e-9)


def test_float32_close_to_float64() -> None:
    p4 = random_p4(3, 12, seed=2)
    mask = torch.ones(3, 12, dtype=torch.bool)
    got = pair_features(torch.from_numpy(p4).float(), mask)
    assert got.dtype == torch.float32
    np.testing.assert_allclose(off_diagonal(got.numpy()), off_diagonal(reference(p4)), atol=2e-3, rtol=1e-4)


def test_wraps_across_phi_pi() -> None:
    """Two particles at φ = π - 0.01 and -π + 0.01 are 0.02 apart, not 2π - 0.02."""
    pt, eta, phi, m = np.array([[50.0, 20.0]]), np.array([[0.3, 0.3]]), np.array([[math.pi - 0.01, -math.pi + 0.01]]), 0
    px, py, pz, e = p4_from_pt_eta_phi_m(pt, eta, phi, np.zeros_like(pt) + m)
    p4 = torch.from_numpy(np.stack([e, px, py, pz], axis=-1))
    f = pair_features(p4, torch.ones(1, 2, dtype=torch.bool))
    assert f[0, 0, 0, 1].item() == pytest.approx(math.log(0.02), rel=1e-6)
    assert f[0, 1, 0, 1].item() == pytest.approx(math.log(20.0 * 0.02), rel=1e-6)
    assert float(wrap_phi(torch.tensor(-math.pi))) == pytest.approx(-math.pi)


def test_padding_is_zero_and_finite() -> None:
    p4 = torch.from_numpy(random_p4(2, 6, seed=3))
    mask = torch.tensor([[True] * 4 + [False] * 2, [True] * 6])
    p4[~mask] = 0.0
    f = pair_features(p4, mask)
    assert torch.isfinite(f).all()
    assert (f[0, :, 4:, :] == 0).all() and (f[0, :, :, 4:] == 0).all()
    torch.testing.assert_close(f, f.transpose(-1, -2))
    torch.testing.assert_close(f[0, :, :4, :4], pair_features(p4[:1, :4], mask[:1, :4])[0])


def test_eps_guards_collinear_and_massless() -> None:
    """Identical massless particles: Δ = kT = m² = 0 are clamped to eps, z = ½; gradients stay finite."""
    p4 = torch.tensor([[[10.0, 6.0, 8.0, 0.0], [10.0, 6.0, 8.0, 0.0]]], requires_grad=True)
    f = pair_features(p4, torch.ones(1, 2, dtype=torch.bool), eps=1e-8)
    np.testing.assert_allclose(f[0, :, 0, 1].detach().numpy(), [math.log(1e-8)] * 2 + [math.log(0.5), math.log(1e-8)],
                               rtol=1e-5)
    f.sum().backward()
    assert torch.isfinite(p4.grad).all()


def test_rapidity_matches_vector() -> None:
    p4 = random_p4(2, 5, seed=4)
    v = vector.array({"E": p4[..., 0], "px": p4[..., 1], "py": p4[..., 2], "pz": p4[..., 3]})
    np.testing.assert_allclose(rapidity(torch.from_numpy(p4)).numpy(), v.rapidity, rtol=1e-10, atol=1e-12)
