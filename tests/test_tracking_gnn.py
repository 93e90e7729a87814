"""ML tracking on jetlab's own events: hit graphs, the interaction-network edge classifier, LSTM following.

One module-scoped sample of 20 tt̄ events at pileup 0 through ACTS Fatras (~2 000 hits each, ~6 s)
serves every test; the trackers train a few epochs through ``jetlab.api.train(..., task="track")``.
Track building is checked on hand-made graphs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from jetlab.errors import InputError
from jetlab.represent.hitgraph import (
    ModuleMap,
    build_edges,
    construction_quality,
    coordinates,
    edge_labels,
    true_edges,
)
from jetlab.tasks.track_build import connected_components, walkthrough

N_EVENTS = 20  # ids 0..19: the split by event id gives 13 train, 4 val, 3 test events


@pytest.fixture(scope="module")
def events() -> list[dict]:
    pytest.importorskip("acts")
    from jetlab.generate.tracking import simulate_events

    return simulate_events(n_events=N_EVENTS, pileup=0, hard="ttbar", pt_min=0.1, seed=21)


@pytest.fixture(scope="module")
def data_dir(events: list[dict], tmp_path_factory: pytest.TempPathFactory) -> Path:
    from jetlab.io.trackml import write_event

    out = tmp_path_factory.mktemp("trackml")
    for ev in events:
        write_event(out, ev["event_id"], ev)
    return out


# ------------------------------------------------------------------------------------------ graphs
def test_true_edges_join_consecutive_hits_of_one_particle(events: list[dict]) -> None:
    ev = events[0]
    a, b = true_edges(ev)
    c, pid = coordinates(ev["hits"]), ev["truth"]["particle_id"]
    assert len(a) > 500 and (pid[a] == pid[b]).all() and (c.rho[a] <= c.rho[b]).all()
    assert edge_labels(ev, np.stack([b, a])).all()  # truth ignores the orientation


def test_module_map_keeps_true_edges_on_held_out_events(events: list[dict]) -> None:
    train, held_out = events[:14], events[14:]
    mmap = ModuleMap.fit(train)
    geometric = construction_quality(held_out, mmap, "geometric", pt_min=1.0)
    assert geometric["efficiency"] >= 0.98, geometric
    assert geometric["purity"] > 0.3, geometric
    strict = construction_quality(held_out, mmap, "module_map", pt_min=1.0)  # module pairs seen in training
    assert strict["purity"] >= geometric["purity"] and strict["edges_per_event"] < geometric["edges_per_event"]
    again = ModuleMap.from_dict(json.loads(json.dumps(mmap.to_dict())))  # RUN/representation.json round trip
    np.testing.assert_array_equal(build_edges(held_out[0]["hits"], again), build_edges(held_out[0]["hits"], mmap))
    assert set(again.first_layers.tolist()) >= {802}  # the innermost pixel barrel layer seeds most tracks


# ------------------------------------------------------------------------------------------ track building
def _graph() -> tuple[np.ndarray, np.ndarray]:
    """Two crossing tracks 0-1-2-3-4 and 5-6-7-8-9 (with weak cross edges 1→7, 6→2), and a branching
    track 10-11-12-13 with a branch 11→14→15 scoring above the cut but below 11→12."""
    edges = [(0, 1, .9), (1, 2, .95), (2, 3, .9), (3, 4, .9),
             (5, 6, .9), (6, 7, .9), (7, 8, .95), (8, 9, .9), (1, 7, .2), (6, 2, .3),
             (10, 11, .9), (11, 12, .95), (12, 13, .9), (11, 14, .7), (14, 15, .8)]
    e = np.array(edges)
    return e[:, :2].T.astype(np.int64), e[:, 2]


def test_connected_components_and_walkthrough_on_a_hand_made_graph() -> None:
    edges, scores = _graph()
    hit_id = np.arange(16) + 100
    cc = connected_components(16, edges, scores, hit_id, cut=0.5, min_hits=3)
    assert [t.tolist() for t in cc] == [[100, 101, 102, 103, 104], [105, 106, 107, 108, 109],
                                        [110, 111, 112, 113, 114, 115]]  # the branch merges into one
    walk = walkthrough(16, edges, scores, hit_id, cut=0.5, min_hits=3)
    assert [t.tolist() for t in walk] == [[100, 101, 102, 103, 104], [105, 106, 107, 108, 109],
                                          [110, 111, 112, 113]]  # the weaker branch (2 hits) is left out
    short = walkthrough(16, edges, scores, hit_id, cut=0.5, min_hits=2)
    assert [114, 115] in [t.tolist() for t in short]
    bridged = walkthrough(16, edges, np.where(scores == .95, .4, scores), hit_id, cut=0.5, min_hits=3,
                          bridge_cut=0.35)  # 1→2 and 7→8 now weak: bridged, not split
    assert [t.tolist() for t in bridged][:2] == [[100, 101, 102, 103, 104], [105, 106, 107, 108, 109]]


def test_walkthrough_takes_overlap_hits_back() -> None:
    # a -> a' -> b and a -> b (an overlapping module on a's layer): the walk takes a -> b, a' is absorbed
    edges = np.array([[0, 0, 1, 2], [1, 2, 2, 3]])
    tracks = walkthrough(4, edges, np.array([.8, .9, .8, .9]), np.arange(4), cut=0.5, min_hits=3)
    assert [t.tolist() for t in tracks] == [[0, 1, 2, 3]]


# ------------------------------------------------------------------------------------------ trackers
def _train_and_evaluate(model: str, data: Path, out: Path, epochs: int, **hparams: object) -> dict:
    import jetlab.api as jl

    summary = jl.train(model, data, out, task="track", trainer={"epochs": epochs, "progress": False, "patience": 50},
                       hparams=hparams)
    assert summary["task"] == "track" and summary["classes"] == ["hit"] and summary["n_test"] > 0
    result = jl.evaluate(out)
    assert json.loads((out / "metrics.json").read_text())["model"] == model
    assert (out / "submission.csv").read_text().startswith("event_id,hit_id,track_id\n")
    return result


def test_interaction_network_classifies_edges_and_builds_tracks(data_dir: Path, tmp_path: Path) -> None:
    res = _train_and_evaluate("interaction_net_tracking", data_dir, tmp_path / "gnn", epochs=10, hidden=32, steps=4)
    m = res["metrics"]
    assert res["edges"]["auc"] > 0.9, res["edges"]
    assert res["graph"]["efficiency"] > 0.95
    assert m["trackml_score_selected"] > 0.4 and m["efficiency"] > 0.6 and m["fake_rate"] < 0.4, m
    assert res["time_per_event_s"]["total"] < 5


def test_lstm_follows_tracks(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from jetlab.cli import main

    res = _train_and_evaluate("lstm_tracker", data_dir, tmp_path / "lstm", epochs=6)
    assert res["next_hit"]["within_k_sigma"] > 0.8, res["next_hit"]
    assert res["metrics"]["efficiency"] > 0.5 and res["metrics"]["fake_rate"] < 0.5, res["metrics"]
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "lstm")]) == 0  # a track run counts events, not jets
    printed = json.loads(capsys.readouterr().out)
    assert printed["n_events"] == res["n_events"] > 0 and "n_jets" not in printed, printed
    assert printed["efficiency"] == res["metrics"]["efficiency"]


def test_empty_directory_is_a_one_line_error(tmp_path: Path) -> None:
    from jetlab.data.module import DataConfig
    from jetlab.represent.registry import RepresentationConfig
    from jetlab.tasks.track import TrackDataModule

    dm = TrackDataModule(DataConfig(path=str(tmp_path)), None, RepresentationConfig("hitgraph"))
    with pytest.raises(InputError, match="no TrackML events"):
        dm.setup()
