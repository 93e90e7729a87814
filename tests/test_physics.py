"""Substructure observables against brute-force numpy references and FastJet contrib."""

from __future__ import annotations

import itertools

import awkward as ak
import fastjet
import numpy as np
import pytest
import vector

from jetlab.physics.ecf import correlator_sums, ecf_observables
from jetlab.physics.features import features_from_p4
from jetlab.physics.grooming import groom_jets
from jetlab.physics.kinematics import delta_phi, delta_r, p4_from_pt_eta_phi_m, pt_eta_phi_m, rapidity
from jetlab.physics.nsubjettiness import nsubjettiness
from jetlab.schema import HLF_NAMES


def random_jets(n_jets: int, n_max: int, seed: int, massive: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Padded (N, P, 4) px, py, pz, E of collimated particles, some straddling phi = +-pi."""
    r = np.random.default_rng(seed)
    counts = r.integers(3, n_max + 1, n_jets)
    pt = r.exponential(30.0, (n_jets, n_max)) + 0.5
    eta = r.normal(0, 0.3, (n_jets, n_max)) + r.uniform(-2, 2, (n_jets, 1))
    phi = r.normal(np.pi - 0.1, 0.3, (n_jets, n_max))  # crosses the +-pi boundary
    m = r.uniform(0, 0.5, (n_jets, n_max)) if massive else np.zeros((n_jets, n_max))
    p4 = np.stack(p4_from_pt_eta_phi_m(pt, eta, phi, m), axis=-1)
    p4[np.arange(n_max)[None, :] >= counts[:, None]] = 0.0
    order = np.argsort(-np.hypot(p4[..., 0], p4[..., 1]), axis=1)
    return np.take_along_axis(p4, order[..., None], axis=1), counts


def brute_ecf(p4: np.ndarray) -> dict[str, float]:
    """Direct sums over pairs and triplets of one jet (no tricks)."""
    pt = np.hypot(p4[:, 0], p4[:, 1])
    y, phi = rapidity(*p4.T), np.arctan2(p4[:, 1], p4[:, 0])

    def dr(i: int, j: int) -> float:
        return float(np.hypot(y[i] - y[j], delta_phi(phi[i], phi[j])))

    e1 = pt.sum()
    pairs = list(itertools.combinations(range(len(pt)), 2))
    e2 = {b: sum(pt[i] * pt[j] * dr(i, j) ** b for i, j in pairs) for b in (0, 1, 2)}
    e3, g1, g2 = {1: 0.0, 2: 0.0}, {1: 0.0, 2: 0.0}, {1: 0.0, 2: 0.0}
    for i, j, k in itertools.combinations(range(len(pt)), 3):
        w = pt[i] * pt[j] * pt[k]
        a = sorted([dr(i, j), dr(i, k), dr(j, k)])
        for b in (1, 2):
            e3[b] += w * (a[0] * a[1] * a[2]) ** b
            g1[b] += w * a[0] ** b
            g2[b] += w * (a[0] * a[1]) ** b
    out = {f"c1_b{b}": e2[b] / e1**2 for b in (0, 1, 2)}
    for b in (1, 2):
        out[f"c2_b{b}"] = e3[b] * e1 / e2[b] ** 2
        out[f"d2_b{b}"] = e3[b] * e1**3 / e2[b] ** 3
        out[f"d2_a1_b{b}"] = (e3[1] / e1**3) / (e2[b] / e1**2) ** (3 / b)
        out[f"m2_b{b}"] = (g1[b] / e1**3) / (e2[b] / e1**2)
        out[f"n2_b{b}"] = (g2[b] / e1**3) / (e2[b] / e1**2) ** 2
    return out


def test_delta_phi_wraps() -> None:
    assert delta_phi(np.pi - 0.1, -np.pi + 0.1) == pytest.approx(-0.2)
    assert delta_phi(-np.pi + 0.1, np.pi - 0.1) == pytest.approx(0.2)
    assert delta_r(0.0, 3.1, 0.0, -3.1) == pytest.approx(2 * np.pi - 6.2)


def test_kinematics_match_vector() -> None:
    r = np.random.default_rng(0)
    px, py, pz = r.normal(0, 50, (3, 100))
    e = np.sqrt(px**2 + py**2 + pz**2 + r.uniform(0, 10, 100) ** 2)
    v = vector.array({"px": px, "py": py, "pz": pz, "E": e})
    pt, eta, phi, m = pt_eta_phi_m(px, py, pz, e)
    np.testing.assert_allclose(pt, v.pt)
    np.testing.assert_allclose(eta, v.eta, rtol=1e-10)
    np.testing.assert_allclose(phi, v.phi)
    np.testing.assert_allclose(m, v.mass, rtol=1e-7)
    back = p4_from_pt_eta_phi_m(pt, eta, phi, m)
    np.testing.assert_allclose(np.stack(back), np.stack([px, py, pz, e]), rtol=1e-7, atol=1e-9)


def test_pt_zero_is_finite() -> None:
    pt, eta, phi, m = pt_eta_phi_m(np.zeros(2), np.zeros(2), np.array([5.0, -5.0]), np.array([5.0, 5.0]))
    assert np.isfinite(eta).all() and eta[0] > 0 > eta[1]


def test_ecf_matches_brute_force() -> None:
    p4, counts = random_jets(6, 9, seed=1)
    pt = np.hypot(p4[..., 0], p4[..., 1])
    obs = ecf_observables(correlator_sums(pt, rapidity(*np.moveaxis(p4, -1, 0)), np.arctan2(p4[..., 1], p4[..., 0]),
                                          counts), pt.sum(1))
    for b in range(len(counts)):
        ref = brute_ecf(p4[b, : counts[b]])
        for name, value in ref.items():
            assert obs[name][b] == pytest.approx(value, rel=1e-9), name


def _awkward(p4: np.ndarray, counts: np.ndarray) -> ak.Array:
    flat = p4[np.arange(p4.shape[1])[None, :] < counts[:, None]]
    return ak.unflatten(ak.zip({"px": flat[:, 0], "py": flat[:, 1], "pz": flat[:, 2], "E": flat[:, 3]},
                               with_name="Momentum4D"), counts)


def test_ecf_matches_fastjet_contrib() -> None:
    vector.register_awkward()
    p4, counts = random_jets(5, 25, seed=2)
    cs = fastjet.ClusterSequence(_awkward(p4, counts), fastjet.JetDefinition(fastjet.cambridge_algorithm, 10.0))
    pt = np.hypot(p4[..., 0], p4[..., 1])
    obs = ecf_observables(correlator_sums(pt, rapidity(*np.moveaxis(p4, -1, 0)), np.arctan2(p4[..., 1], p4[..., 0]),
                                          counts), pt.sum(1))
    for func, beta in (("c2", 1), ("d2", 2), ("n2", 1), ("m2", 2), ("c1", 0)):
        ref = np.asarray(cs.exclusive_jets_energy_correlator(njets=1, func=func, beta=beta))
        np.testing.assert_allclose(obs[f"{func}_b{beta}"], ref, rtol=1e-9)


@pytest.mark.parametrize(("name", "beta"), [("mmdt", 0.0), ("sdb2", 2.0), ("sdm1", -1.0)])
def test_soft_drop_matches_fastjet_contrib(name: str, beta: float) -> None:
    vector.register_awkward()
    p4, counts = random_jets(8, 30, seed=3)
    cs = fastjet.ClusterSequence(_awkward(p4, counts), fastjet.JetDefinition(fastjet.cambridge_algorithm, 10.0))
    ref = cs.exclusive_jets_softdrop_grooming(njets=1, beta=beta, symmetry_cut=0.1, R0=0.8)
    ours = groom_jets(p4, counts)
    np.testing.assert_allclose(np.maximum(ours.mass[name], 0), np.maximum(ak.to_numpy(ref.msoftdrop), 0),
                               rtol=1e-6, atol=1e-4)
    if name == "mmdt":
        np.testing.assert_array_equal(ours.mmdt_mask.sum(1), ak.to_numpy(ak.num(ref.constituents)))


def test_tau1_brute_force_and_small_jets() -> None:
    p4, counts = random_jets(5, 12, seed=4)
    taus = nsubjettiness(p4, counts)
    for b in range(5):
        q = p4[b, : counts[b]]
        jet = q.sum(0)
        pt = np.hypot(q[:, 0], q[:, 1])
        y, phi = rapidity(*q.T), np.arctan2(q[:, 1], q[:, 0])
        dr = np.hypot(y - rapidity(*jet), delta_phi(phi, np.arctan2(jet[1], jet[0])))
        for beta in (1.0, 2.0):
            assert taus[(1, beta)][b] == pytest.approx((pt * dr**beta).sum() / (pt.sum() * 0.8**beta), rel=1e-9)
        assert taus[(3, 1.0)][b] <= taus[(2, 1.0)][b] + 1e-12 <= taus[(1, 1.0)][b] + 2e-12
    two = nsubjettiness(p4[:1], np.array([2]))
    assert two[(2, 1.0)][0] == 0.0 and two[(3, 1.0)][0] == 0.0


def test_feature_vector_is_finite_and_consistent() -> None:
    p4, counts = random_jets(6, 40, seed=5)
    f = features_from_p4(p4, counts)
    assert f.shape == (6, len(HLF_NAMES)) and np.isfinite(f).all()
    col = {n: f[:, i] for i, n in enumerate(HLF_NAMES)}
    np.testing.assert_array_equal(col["j_multiplicity"], counts)
    assert (col["j_mass_mmdt"] <= col["j_mass"] + 1e-3).all()
    pt = np.hypot(p4[..., 0], p4[..., 1])
    z = pt / pt.sum(1, keepdims=True)
    zlogz = np.where(z > 0, z * np.log(np.where(z > 0, z, 1)), 0).sum(1)
    np.testing.assert_allclose(col["j_zlogz"], zlogz, rtol=1e-5)
    np.testing.assert_allclose(col["j_tau21_b1"], col["j_tau2_b1"] / col["j_tau1_b1"], rtol=1e-5)


def test_rapidity_is_fastjets_for_float32_tachyons() -> None:
    """float32 storage leaves m² < 0 for light particles; FastJet then treats them as massless."""
    r = np.random.default_rng(6)
    p4 = np.stack(p4_from_pt_eta_phi_m(r.exponential(20, 500) + 0.1, r.normal(0, 2, 500), r.uniform(-3, 3, 500),
                                       np.zeros(500)), axis=-1).astype(np.float32).astype(np.float64)
    m2 = p4[:, 3] ** 2 - (p4[:, :3] ** 2).sum(1)
    assert (m2 < 0).sum() > 50  # the case exists
    ref = np.array([fastjet.PseudoJet(*v).rap() for v in p4.tolist()])
    np.testing.assert_allclose(rapidity(*p4.T), ref, rtol=0, atol=1e-12)
    beam = np.array([[0.0, 0.0, 7.0, 7.0], [0.0, 0.0, -2.0, 2.0]])
    np.testing.assert_array_equal(rapidity(*beam.T), [fastjet.PseudoJet(*v).rap() for v in beam.tolist()])


@pytest.mark.parametrize(("name", "beta"), [("mmdt", 0.0), ("sdb2", 2.0), ("sdm1", -1.0)])
def test_soft_drop_collinear_pair_matches_contrib(name: str, beta: float) -> None:
    """Two particles at identical (y, φ), as the simple detector's ECAL and HCAL cell centres can be:
    ΔR = 0 in soft drop β = -1 once raised ZeroDivisionError; contrib's pow(0, -1/2) = inf fails the cut."""
    vector.register_awkward()
    p4, counts = random_jets(6, 12, seed=7)
    for b in range(len(counts)):  # particle 1 becomes collinear with particle 0 (same direction, lower pT)
        p4[b, 1] = 0.25 * p4[b, 0]  # a power of 2: y and φ identical to the last bit
    # and a jet of exactly two collinear particles, where the walk ends on a single particle
    p4[0, 2:] = 0.0
    counts[0] = 2
    cs = fastjet.ClusterSequence(_awkward(p4, counts), fastjet.JetDefinition(fastjet.cambridge_algorithm, 10.0))
    ref = cs.exclusive_jets_softdrop_grooming(njets=1, beta=beta, symmetry_cut=0.1, R0=0.8)
    ours = groom_jets(p4, counts)
    np.testing.assert_allclose(ours.mass[name], np.maximum(ak.to_numpy(ref.msoftdrop), 0), rtol=1e-6, atol=1e-4)
    if name == "mmdt":
        np.testing.assert_array_equal(ours.mmdt_mask.sum(1), ak.to_numpy(ak.num(ref.constituents)))
