"""``--detector simple``: the resolutions and cell sizes its docstring quotes, fitted on many particles.

Each particle is alone in its event (no cell merging) except where merging is the point. Expected:
tracks σ(pT)/pT = 0.5 % ⊕ 1e-4·pT, ECAL σ(E)/E = 3 %/√E ⊕ 0.5 % with 0.0174 cells, HCAL
100 %/√E ⊕ 5 % with 0.087 cells. With N particles per point the fitted σ carries a relative
statistical error of 1/√(2N) (0.5 % at N = 20,000); the tolerances are 5 of those.
"""

from __future__ import annotations

import numpy as np
import pytest

from jetlab.generate.detector import SimpleDetector
from jetlab.generate.events import EventBatch, Truth
from jetlab.physics.kinematics import p4_from_pt_eta_phi_m, pt_eta_phi_m

N = 20_000
STAT = 5 / np.sqrt(2 * N)  # 5 standard errors of a fitted σ, relative


def _truth() -> Truth:
    z = np.zeros(0)
    return Truth(z.astype(int), z, z, z, z, np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0, 3), bool))


def batch(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, pdgid: float, charge: float, mass: float = 0.0,
          per_event: int = 1) -> EventBatch:
    """``per_event`` consecutive particles share an event."""
    p4 = np.stack(p4_from_pt_eta_phi_m(pt, eta, phi, np.full(len(pt), mass)), axis=1)
    n_events = len(pt) // per_event
    return EventBatch(n_events, np.full(n_events, per_event), p4, np.full(len(pt), charge), np.full(len(pt), pdgid),
                      _truth())


def _fit(energies: list[float], sigmas: list[float], basis: list) -> np.ndarray:
    """Least squares of σ² = Σ c_k² f_k(E): returns the c_k."""
    a = np.array([[f(e) for f in basis] for e in energies])
    return np.sqrt(np.linalg.lstsq(a, np.square(sigmas), rcond=None)[0])


def test_track_resolution() -> None:
    rng = np.random.default_rng(0)
    det = SimpleDetector()
    points = [5.0, 30.0, 100.0, 300.0, 1000.0]
    sigmas = []
    for pt in points:
        b = batch(np.full(N, pt), rng.uniform(-2, 2, N), rng.uniform(-np.pi, np.pi, N), 211.0, 1.0, mass=0.1396)
        out = det(b, rng)
        assert len(out.p4) == N and (out.charge == 1).all()  # every track kept (pT >> 0.4 GeV), one per event
        ratio = np.hypot(out.p4[:, 0], out.p4[:, 1]) / pt
        expected = np.hypot(0.005, 1e-4 * pt)
        assert abs(ratio.mean() - 1) < 5 * expected / np.sqrt(N)  # unbiased
        assert ratio.std() == pytest.approx(expected, rel=STAT), pt
        # direction unchanged, mass kept
        _, eta, phi, m = pt_eta_phi_m(*out.p4.T)
        np.testing.assert_allclose(eta, pt_eta_phi_m(*b.p4.T)[1], atol=1e-9)
        np.testing.assert_allclose(m, 0.1396, rtol=1e-4)
        sigmas.append(ratio.std())
    a, slope = _fit(points, sigmas, [lambda e: 1.0, lambda e: e * e])
    assert a == pytest.approx(0.005, rel=3 * STAT) and slope == pytest.approx(1e-4, rel=3 * STAT)


def test_track_threshold() -> None:
    rng = np.random.default_rng(1)
    b = batch(np.array([0.39, 0.41, 5.0]), np.zeros(3), np.zeros(3), 211.0, 1.0, per_event=3)
    kept = SimpleDetector(track_a=0.0, track_b=0.0)(b, rng)  # no smearing: only the threshold acts
    np.testing.assert_allclose(np.sort(np.hypot(kept.p4[:, 0], kept.p4[:, 1])), [0.41, 5.0])


@pytest.mark.parametrize(("pdgid", "stochastic", "constant", "energies"),
                         [(22.0, 0.03, 0.005, [5.0, 20.0, 100.0, 500.0]),
                          (130.0, 1.00, 0.05, [30.0, 100.0, 400.0, 2000.0])])
def test_calorimeter_resolution(pdgid: float, stochastic: float, constant: float, energies: list[float]) -> None:
    rng = np.random.default_rng(2)
    det = SimpleDetector()
    sigmas = []
    for e in energies:
        eta = rng.uniform(-1.5, 1.5, N)
        out = det(batch(np.full(N, e) / np.cosh(eta), eta, rng.uniform(-np.pi, np.pi, N), pdgid, 0.0), rng)
        assert len(out.p4) == N and (out.pdgid == pdgid).all()
        ratio = out.p4[:, 3] / e
        expected = np.hypot(stochastic / np.sqrt(e), constant)
        assert abs(ratio.mean() - 1) < 5 * expected / np.sqrt(N)
        assert ratio.std() == pytest.approx(expected, rel=STAT), e
        np.testing.assert_allclose(pt_eta_phi_m(*out.p4.T)[3], 0.0, atol=1e-6 * e)  # massless deposits
        sigmas.append(ratio.std())
    s, c = _fit(energies, sigmas, [lambda x: 1.0 / x, lambda x: 1.0])
    assert s == pytest.approx(stochastic, rel=3 * STAT) and c == pytest.approx(constant, rel=3 * STAT)


@pytest.mark.parametrize(("pdgid", "cell"), [(22.0, 0.0174), (130.0, 0.087)])
def test_cell_size_and_merging(pdgid: float, cell: float) -> None:
    """Deposits land at cell centres on a grid of the quoted pitch; two particles in one cell merge."""
    rng = np.random.default_rng(3)
    det = SimpleDetector()
    eta, phi = rng.uniform(-1, 1, N), rng.uniform(-3, 3, N)
    out = det(batch(np.full(N, 50.0), eta, phi, pdgid, 0.0), rng)
    _, oeta, ophi, _ = pt_eta_phi_m(*out.p4.T)
    assert np.abs(oeta - eta).max() <= cell / 2 + 1e-9 and np.abs(ophi - phi).max() <= cell / 2 + 1e-9
    assert np.abs(oeta - eta).max() > 0.45 * cell  # and not a finer grid
    grid_eta = (oeta / cell - 0.5) % 1.0
    np.testing.assert_allclose(np.minimum(grid_eta, 1 - grid_eta), 0.0, atol=1e-6)
    # two particles 0.4 cells apart inside one cell merge into one deposit of their summed energy,
    # two particles 1.2 cells apart in eta never do
    centre = (np.floor(0.3 / cell) + 0.5) * cell
    pair = batch(np.array([40.0, 60.0, 40.0, 60.0]), np.array([centre - 0.2 * cell, centre + 0.2 * cell,
                                                               centre - 0.6 * cell, centre + 0.6 * cell]),
                 np.full(4, 0.5 * cell - np.pi), pdgid, 0.0, per_event=2)
    merged = SimpleDetector(ecal=det.ecal.__class__(0.0, 0.0, det.ecal.cell, det.ecal.threshold, 22),
                            hcal=det.hcal.__class__(0.0, 0.0, det.hcal.cell, det.hcal.threshold, 130))(pair, rng)
    assert merged.counts.tolist() == [1, 2]
    np.testing.assert_allclose(merged.p4[0, 3], pair.p4[:2, 3].sum(), rtol=1e-12)


def test_calorimeter_thresholds() -> None:
    rng = np.random.default_rng(4)
    det = SimpleDetector(ecal=SimpleDetector().ecal.__class__(0.0, 0.0, 0.0174, 0.5, 22))
    b = batch(np.array([0.45, 0.55]), np.zeros(2), np.array([0.0, 1.0]), 22.0, 0.0, per_event=2)
    np.testing.assert_allclose(det(b, rng).p4[:, 3], [0.55])
