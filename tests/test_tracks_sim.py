"""Tracking events through ACTS: Pythia 8 tt̄ + pileup -> Fatras on the Generic detector -> TrackML -> CKF
(jetlab.generate.tracking simulates, jetlab.tasks.track_ckf reconstructs).

Two tt̄ events at pileup 2 (~2 000 hits each): one minimum-bias initialisation (~6 s) dominates.
"""

from __future__ import annotations

import glob
import tempfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("acts")

from jetlab.errors import FormatError, UsageError
from jetlab.generate.tracking import generic_detector, simulate_events
from jetlab.generate.tracking.simulation import decode_particle_id
from jetlab.io.trackml import check_event, read_event, write_event
from jetlab.metrics.trackml import match_tracks, select_particles, tracking_rates, trackml_score
from jetlab.tasks.track_ckf import reconstruct_ckf

GENERIC_VOLUMES = {7, 8, 9, 12, 13, 14, 16, 17, 18}
PARTS = ("hits", "particles", "truth")


def same_event(a: dict, b: dict) -> bool:
    return all(list(a[p]) == list(b[p]) and all(np.array_equal(a[p][k], b[p][k]) for k in a[p]) for p in PARTS)


@pytest.fixture(scope="module")
def events() -> list[dict]:
    return simulate_events(n_events=2, pileup=2, hard="ttbar", pt_min=0.1, seed=11)


@pytest.fixture(scope="module")
def tracks(events: list[dict]) -> list:
    return [reconstruct_ckf(ev) for ev in events]


def test_hits_on_the_generic_detector_with_truth(events: list[dict]) -> None:
    det = generic_detector()
    for ev in events:
        hits, truth, particles = ev["hits"], ev["truth"], ev["particles"]
        check_event(ev, f"event {ev['event_id']}")  # every hit has one truth row, every particle is known
        assert len(hits["hit_id"]) > 500
        assert set(np.unique(hits["volume_id"]).tolist()) <= GENERIC_VOLUMES
        assert (hits["layer_id"] % 2 == 0).all()  # sensitive layers of the Gen1 geometry are even
        det.rows(hits["volume_id"], hits["layer_id"], hits["module_id"], "test")  # all on real modules
        assert (truth["particle_id"] != 0).all()  # no noise simulated
        assert truth["weight"].sum() == pytest.approx(1.0)
        # measured vs true position: pixels within ~5 sigma (72 um), strips within their long pitch
        d = np.linalg.norm(np.stack([hits[c] - truth["t" + c] for c in "xyz"]), axis=0)
        pixel = np.isin(hits["volume_id"], [7, 8, 9])
        assert np.median(d[pixel]) < 0.03 and d[pixel].max() < 0.15 and d.max() < 60
        counted = np.unique(truth["particle_id"], return_counts=True)
        row = np.searchsorted(particles["particle_id"], counted[0])
        np.testing.assert_array_equal(particles["nhits"][row], counted[1])
        fields = decode_particle_id(particles["particle_id"])
        assert fields["vertexPrimary"].min() == 1  # the tt̄ interaction is vertex 1, pileup 2, 3, ...
    assert max(decode_particle_id(ev["particles"]["particle_id"])["vertexPrimary"].max() for ev in events) > 1


def test_deterministic_per_seed_and_independent_of_the_shard(events: list[dict], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    again = simulate_events(n_events=1, pileup=2, hard="ttbar", pt_min=0.1, seed=11, first_event=1)
    assert not list(tmp_path.iterdir())  # nothing written to the working directory
    assert again[0]["event_id"] == 1 and same_event(again[0], events[1])
    assert not same_event(events[0], events[1])
    assert not glob.glob(f"{tempfile.gettempdir()}/jetlab-acts-*")  # the Sequencer's directory is gone


def test_ckf_efficiency_fake_rate_and_score(events: list[dict], tracks: list) -> None:
    found = n = 0
    for ev, trk in zip(events, tracks):
        p = ev["particles"]
        match = match_tracks(ev["truth"], trk.hit_ids)
        primaries = select_particles(p, pt_min=1.0, abs_eta_max=2.5, min_hits=7, r_max=1.0)
        rates = tracking_rates(match, p["particle_id"], primaries, trk.pt > 1.0)
        found, n = found + rates["n_found"], n + rates["n_particles"]
        assert rates["fake_rate"] < 0.05 and rates["duplicate_rate"] < 0.05  # measured 0, 0
        assert 0.4 < trackml_score(ev["truth"], *trk.submission()) <= 1.0  # measured 0.51, 0.65 (pT > 0.5 seeds)
        assert trk.timing["total"] > 0 and trk.n_seeds >= len(trk)
    assert n > 20 and found / n > 0.9  # measured 1.0 (99 % on 6 events at pileup 10)


def test_reconstruction_from_files_equals_in_memory(events: list[dict], tracks: list, tmp_path: Path) -> None:
    ev = events[0]
    write_event(tmp_path, ev["event_id"], ev)
    back = reconstruct_ckf(read_event(tmp_path, ev["event_id"]))
    assert len(back) == len(tracks[0])
    assert all(np.array_equal(a, b) for a, b in zip(back.hit_ids, tracks[0].hit_ids))
    again = reconstruct_ckf(ev)
    np.testing.assert_array_equal(again.parameters, tracks[0].parameters)


def test_bad_arguments_and_hits() -> None:
    with pytest.raises(UsageError, match="hard"):
        simulate_events(n_events=1, hard="zz")
    with pytest.raises(UsageError, match="pileup"):
        simulate_events(n_events=1, hard="none", pileup=0)
    hits = {"hit_id": np.array([1]), "x": np.zeros(1), "y": np.zeros(1), "z": np.zeros(1),
            "volume_id": np.array([8]), "layer_id": np.array([3]), "module_id": np.array([1])}
    with pytest.raises(FormatError, match="does not have"):
        reconstruct_ckf({"hits": hits})
    hits["layer_id"] = np.array([2])  # a real module, but the point (0, 0, 0) is not on it
    with pytest.raises(FormatError, match="off the plane"):
        reconstruct_ckf({"hits": hits})
