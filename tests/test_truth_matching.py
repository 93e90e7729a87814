"""Truth matching on hand-built events: a jet is labelled only when its truth object and every decay
quark lie within R of its axis; otherwise it is dropped, never mislabelled."""

from __future__ import annotations

import numpy as np
import pytest

from jetlab.generate.clustering import cluster_and_match
from jetlab.generate.events import EventBatch, Truth
from jetlab.physics.kinematics import p4_from_pt_eta_phi_m

R, PT_RANGE, ETA_MAX = 0.8, (950.0, 1050.0), 2.5


def jet_particles(eta: float, phi: float, pt: float = 1000.0, n: int = 10) -> np.ndarray:
    """``n`` massless particles within 0.1 of (eta, phi) summing to about ``pt``."""
    offsets = np.linspace(-0.1, 0.1, n)
    return np.stack(p4_from_pt_eta_phi_m(np.full(n, pt / n), eta + offsets, phi - offsets, np.zeros(n)), axis=1)


def event_batch(jets: list[list[np.ndarray]], truth: list[dict]) -> EventBatch:
    """One event per entry of ``jets`` (a list of particle arrays); truth dicts carry event, pdgid, eta,
    phi and up to 3 decay-quark (eta, phi) pairs."""
    per_event = [np.concatenate(j) for j in jets]
    p4 = np.concatenate(per_event)
    quarks = [t.get("quarks", []) for t in truth]
    qmask = np.array([[k < len(q) for k in range(3)] for q in quarks], bool).reshape(-1, 3)
    qeta = np.array([[q[k][0] if k < len(q) else 0.0 for k in range(3)] for q in quarks]).reshape(-1, 3)
    qphi = np.array([[q[k][1] if k < len(q) else 0.0 for k in range(3)] for q in quarks]).reshape(-1, 3)
    t = Truth(np.array([d["event"] for d in truth], int), np.array([d["pdgid"] for d in truth], float),
              np.array([d.get("pt", 1000.0) for d in truth]), np.array([d["eta"] for d in truth], float),
              np.array([d["phi"] for d in truth], float), qeta, qphi, qmask)
    return EventBatch(len(jets), np.array([len(e) for e in per_event]), p4, np.zeros(len(p4)), np.full(len(p4), 211.0),
                      t)


def test_w_jet_with_both_quarks_inside_is_kept() -> None:
    b = event_batch([[jet_particles(0.5, 1.0)]],
                    [{"event": 0, "pdgid": 24, "eta": 0.5, "phi": 1.0, "pt": 990.0,
                      "quarks": [(0.3, 1.1), (0.7, 0.8)]}])
    m = cluster_and_match(b, "w", R, PT_RANGE, ETA_MAX)
    assert len(m.counts) == 1 and m.counts[0] == 10 and m.truth_pt[0] == 990.0
    assert m.jet[0, 0] == pytest.approx(1000.0, rel=1e-2)


@pytest.mark.parametrize("quark", [(0.5 + 0.85, 1.0), (0.5, 1.0 - 0.81), (0.5 + 0.6, 1.0 + 0.6)])
def test_w_jet_with_a_decay_quark_outside_r_is_dropped(quark: tuple[float, float]) -> None:
    """ΔR(quark, jet axis) = 0.85, 0.81 and 0.85 > R = 0.8: dropped, not labelled W."""
    b = event_batch([[jet_particles(0.5, 1.0)]],
                    [{"event": 0, "pdgid": -24, "eta": 0.5, "phi": 1.0, "quarks": [(0.45, 1.05), quark]}])
    assert len(cluster_and_match(b, "w", R, PT_RANGE, ETA_MAX).counts) == 0


def test_top_jet_needs_all_three_quarks() -> None:
    inside = [(0.4, 1.0), (0.6, 1.1), (0.5, 0.8)]
    truth = {"event": 0, "pdgid": 6, "eta": 0.5, "phi": 1.0}
    ok = event_batch([[jet_particles(0.5, 1.0)]], [{**truth, "quarks": inside}])
    assert len(cluster_and_match(ok, "t", R, PT_RANGE, ETA_MAX).counts) == 1
    bad = event_batch([[jet_particles(0.5, 1.0)]], [{**truth, "quarks": [*inside[:2], (1.5, 1.0)]}])
    assert len(cluster_and_match(bad, "t", R, PT_RANGE, ETA_MAX).counts) == 0


def test_jet_far_from_its_truth_object_is_dropped() -> None:
    b = event_batch([[jet_particles(0.5, 1.0)]], [{"event": 0, "pdgid": 21, "eta": 0.5, "phi": 1.0 + 0.9}])
    assert len(cluster_and_match(b, "g", R, PT_RANGE, ETA_MAX).counts) == 0


def test_truth_object_of_another_class_or_event_never_labels() -> None:
    """A Z does not make a W jet, a quark parton not a gluon jet, and a W of event 1 not a jet of event 0."""
    jets = [[jet_particles(0.5, 1.0)], [jet_particles(-1.0, -2.0)]]
    z = event_batch(jets, [{"event": 0, "pdgid": 23, "eta": 0.5, "phi": 1.0, "quarks": [(0.5, 1.0)]}])
    assert len(cluster_and_match(z, "w", R, PT_RANGE, ETA_MAX).counts) == 0
    quark = event_batch(jets, [{"event": 0, "pdgid": 2, "eta": 0.5, "phi": 1.0}])
    assert len(cluster_and_match(quark, "g", R, PT_RANGE, ETA_MAX).counts) == 0
    assert len(cluster_and_match(quark, "q", R, PT_RANGE, ETA_MAX).counts) == 1
    other = event_batch(jets, [{"event": 1, "pdgid": 24, "eta": 0.5, "phi": 1.0, "quarks": [(0.5, 1.0)]}])
    assert len(cluster_and_match(other, "w", R, PT_RANGE, ETA_MAX).counts) == 0


def test_one_truth_object_labels_at_most_the_closest_jet() -> None:
    """Two jets 1.0 apart, a gluon 0.45 from one and 0.55 from the other: only the closer is kept."""
    b = event_batch([[jet_particles(0.0, 0.0), jet_particles(1.0, 0.0)]],
                    [{"event": 0, "pdgid": 21, "eta": 0.45, "phi": 0.0}])
    m = cluster_and_match(b, "g", R, PT_RANGE, ETA_MAX)
    assert len(m.counts) == 1 and m.jet[0, 1] == pytest.approx(0.0, abs=0.02)


@pytest.mark.parametrize(("pt", "eta", "kept"), [(1000.0, 0.5, 1), (900.0, 0.5, 0), (1100.0, 0.5, 0),
                                                 (1000.0, 2.6, 0)])
def test_kinematic_window(pt: float, eta: float, kept: int) -> None:
    b = event_batch([[jet_particles(eta, 1.0, pt=pt)]], [{"event": 0, "pdgid": 21, "eta": eta, "phi": 1.0}])
    assert len(cluster_and_match(b, "g", R, PT_RANGE, ETA_MAX).counts) == kept
