"""Energy flow polynomials against a brute-force sum over particle assignments, and their symmetries."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from jetlab.physics.efp import efp_graphs, efps, graph_degree, n_vertices


def tiny_jets(n: int, p: int, seed: int) -> tuple[np.ndarray, ...]:
    r = np.random.default_rng(seed)
    pt = r.exponential(10.0, (n, p)) + 0.1
    y = r.normal(0.0, 0.4, (n, p))
    phi = r.normal(np.pi - 0.1, 0.4, (n, p))  # straddles the ±π boundary
    return pt, y, phi


def brute_force(pt: np.ndarray, y: np.ndarray, phi: np.ndarray, graph: tuple, beta: float) -> float:
    """EFP of one jet by the definition: Σ over all vertex -> particle assignments."""
    z = pt / pt.sum()
    dphi = np.abs(phi[:, None] - phi[None, :])
    dphi = np.minimum(dphi, 2 * np.pi - dphi)
    theta = np.sqrt((y[:, None] - y[None, :]) ** 2 + dphi**2) ** beta
    total = 0.0
    for idx in itertools.product(range(len(pt)), repeat=n_vertices(graph)):
        term = np.prod([z[i] for i in idx])
        for a, b in graph:
            term *= theta[idx[a], idx[b]]
        total += term
    return float(total)


@pytest.mark.parametrize(("d", "count"), [(1, 1), (2, 2), (3, 5), (4, 12), (5, 33)])
def test_connected_multigraph_counts(d: int, count: int) -> None:
    graphs = [g for g in efp_graphs(d) if graph_degree(g) == d]
    assert len(graphs) == count
    assert len(set(graphs)) == count
    for g in graphs:  # loop-free and every vertex touched
        assert all(a < b for a, b in g)
        assert {v for e in g for v in e} == set(range(n_vertices(g)))


def test_degree_two_graphs_by_hand() -> None:
    assert efp_graphs(2) == [((0, 1),), ((0, 1), (0, 1)), ((0, 1), (0, 2))]


@pytest.mark.parametrize("beta", [1.0, 0.5, 2.0])
def test_against_brute_force(beta: float) -> None:
    pt, y, phi = tiny_jets(3, 4, seed=1)
    mask = np.ones_like(pt, bool)
    mask[1, 3] = mask[2, 2:] = False  # jets of 4, 3 and 2 particles
    got = efps(pt, y, phi, mask, dmax=4, beta=beta)
    for j in range(3):
        keep = mask[j]
        want = [brute_force(pt[j, keep], y[j, keep], phi[j, keep], g, beta) for g in efp_graphs(4)]
        np.testing.assert_allclose(got[j], want, rtol=1e-10, atol=1e-14)


def test_degree_five_against_brute_force() -> None:
    pt, y, phi = tiny_jets(1, 3, seed=2)
    got = efps(pt, y, phi, dmax=5)[0]
    want = [brute_force(pt[0], y[0], phi[0], g, 1.0) for g in efp_graphs(5)]
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_degree_one_is_pair_sum_and_hand_value() -> None:
    pt, y, phi = tiny_jets(4, 4, seed=3)
    z = pt / pt.sum(1, keepdims=True)
    dphi = (phi[:, :, None] - phi[:, None, :] + np.pi) % (2 * np.pi) - np.pi
    theta = np.hypot(y[:, :, None] - y[:, None, :], dphi)
    np.testing.assert_allclose(efps(pt, y, phi, dmax=1)[:, 0], np.einsum("ni,nj,nij->n", z, z, theta))
    # two equal particles at ΔR = 0.3 across φ = ±π: Σ_ij z_i z_j θ_ij = 2 · ¼ · 0.3
    two = efps(np.array([[1.0, 1.0]]), np.zeros((1, 2)), np.array([[np.pi - 0.1, -np.pi + 0.2]]), dmax=1)
    np.testing.assert_allclose(two[0, 0], 0.15)


def test_irc_safety_and_padding() -> None:
    pt, y, phi = tiny_jets(5, 4, seed=4)
    ref = efps(pt, y, phi, dmax=4)
    # a zero-pT real particle anywhere, plus padding with garbage coordinates
    pt0 = np.concatenate([pt, np.zeros((5, 1)), np.full((5, 1), 99.0)], axis=1)
    y0 = np.concatenate([y, np.full((5, 1), 0.7), np.full((5, 1), -5.0)], axis=1)
    phi0 = np.concatenate([phi, np.full((5, 1), 1.0), np.full((5, 1), 3.0)], axis=1)
    mask0 = np.ones_like(pt0, bool)
    mask0[:, -1] = False
    np.testing.assert_allclose(efps(pt0, y0, phi0, mask0, dmax=4), ref, rtol=1e-12)
    # collinear split of particle 0 into fractions 0.3 / 0.7 at the same (y, φ)
    pts = np.concatenate([0.3 * pt[:, :1], 0.7 * pt[:, :1], pt[:, 1:]], axis=1)
    ys = np.concatenate([y[:, :1], y], axis=1)
    phis = np.concatenate([phi[:, :1], phi], axis=1)
    np.testing.assert_allclose(efps(pts, ys, phis, dmax=4), ref, rtol=1e-12)
    # particle order does not matter; the pT scale does not matter
    perm = [2, 0, 3, 1]
    np.testing.assert_allclose(efps(7.0 * pt[:, perm], y[:, perm], phi[:, perm], dmax=4), ref, rtol=1e-12)


def test_empty_jet_and_bad_input() -> None:
    out = efps(np.zeros((1, 3)), np.zeros((1, 3)), np.zeros((1, 3)), dmax=2)
    assert out.shape == (1, 3) and np.all(out == 0)
    with pytest.raises(ValueError, match="beta"):
        efps(np.ones((1, 2)), np.zeros((1, 2)), np.zeros((1, 2)), beta=0.0)
    with pytest.raises(ValueError, match="shape"):
        efps(np.ones((1, 2)), np.zeros((1, 3)), np.zeros((1, 2)))
