"""TrackML layout (jetlab.io.trackml) and track-finding metrics (jetlab.metrics.trackml), without ACTS."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from jetlab.errors import FormatError, InputError
from jetlab.io.trackml import (
    COLUMNS,
    event_path,
    hit_weights,
    list_events,
    read_event,
    write_event,
)
from jetlab.metrics.trackml import (
    assign_hits,
    binned_fraction,
    efficiency_vs,
    match_tracks,
    select_particles,
    tracking_rates,
    trackml_score,
)


def make_event(seed: int = 0, n_particles: int = 40, n_noise: int = 10) -> dict:
    """A synthetic event: particles with 1..15 hits each at growing |z|, a few noise hits, TrackML columns."""
    r = np.random.default_rng(seed)
    pid = np.arange(1, n_particles + 1) * 1000 + 7  # sparse, non-contiguous ids
    nh = r.integers(1, 16, n_particles)
    hit_pid = np.concatenate([np.repeat(pid, nh), np.zeros(n_noise, np.int64)])
    n = len(hit_pid)
    order = r.permutation(n)  # hits in no particular order
    hit_pid = hit_pid[order]
    tz = np.concatenate([np.concatenate([np.sort(r.uniform(10, 1000, k)) for k in nh]), r.uniform(10, 1000, n_noise)])
    tz = tz[order] * r.choice([-1, 1], n)
    hit_id = np.arange(1, n + 1)
    particles = {"particle_id": pid, "vx": r.normal(0, .01, n_particles), "vy": r.normal(0, .01, n_particles),
                 "vz": r.normal(0, 5, n_particles), "px": r.exponential(2, n_particles) + .05,
                 "py": r.normal(0, 1, n_particles), "pz": r.normal(0, 3, n_particles),
                 "q": r.choice([-1, 1], n_particles), "nhits": nh}
    xyz = r.normal(0, 300, (n, 3))
    truth = {"hit_id": hit_id, "particle_id": hit_pid, "tx": xyz[:, 0], "ty": xyz[:, 1], "tz": tz,
             "tpx": r.normal(size=n), "tpy": r.normal(size=n), "tpz": r.normal(size=n)}
    truth["weight"] = hit_weights(truth, particles)
    hits = {"hit_id": hit_id, "x": xyz[:, 0] + .01, "y": xyz[:, 1], "z": tz, "volume_id": r.integers(7, 18, n),
            "layer_id": 2 * r.integers(1, 8, n), "module_id": r.integers(1, 3000, n)}
    return {"hits": hits, "particles": particles, "truth": truth}


# -- weights ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weights_sum_to_one_and_vanish_where_defined(seed: int) -> None:
    ev = make_event(seed)
    t, p = ev["truth"], ev["particles"]
    w = t["weight"]
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    assert (w >= 0).all()
    assert (w[t["particle_id"] == 0] == 0).all()
    short = p["particle_id"][p["nhits"] < 4]
    assert (w[np.isin(t["particle_id"], short)] == 0).all()
    long_ = p["particle_id"][p["nhits"] >= 4]
    assert (w[np.isin(t["particle_id"], long_)] > 0).all()


def test_order_weight_hand_values_and_pt_weight() -> None:
    # 4 hits: the profile 10 8 6 5 3 3 3 5 6 at knots 0, 3/8, ..., 3 read at 0, 1, 2, 3 -> 10, 16/3, 3, 6
    truth = {"particle_id": np.array([5, 5, 5, 5, 6, 6, 6, 6]), "tz": np.array([4., 1., 2., 3., 1., 2., 3., 4.])}
    # particle 5 at pT = 4 GeV (w_pt 1), particle 6 at pT = 1.75 GeV (w_pt 0.2 + 0.8 * 1.25 / 2.5 = 0.6)
    parts = {"particle_id": np.array([5, 6]), "vz": np.zeros(2), "px": np.array([4., 1.75]), "py": np.zeros(2)}
    w = hit_weights(truth, parts)
    prof = np.array([10, 16 / 3, 3, 6]) / (19 + 16 / 3)
    expect = np.concatenate([prof[[3, 0, 1, 2]], 0.6 * prof]) / 1.6
    np.testing.assert_allclose(w, expect, rtol=1e-12)
    # pT below 0.05 GeV: weight 0; between 0.05 and 0.5: 0.2 (so equal weights for two such particles)
    parts["px"] = np.array([0.01, 0.3])
    w = hit_weights(truth, parts)
    assert (w[:4] == 0).all() and w[4:].sum() == pytest.approx(1.0)


def test_weights_more_than_20_hits() -> None:
    truth = {"particle_id": np.full(25, 3), "tz": np.arange(25.0)}
    w = hit_weights(truth, {"particle_id": np.array([3]), "vz": np.array([-1.0]), "px": np.array([5.0]),
                            "py": np.array([0.0])})
    assert (w[20:] == 0).all() and w[:20].sum() == pytest.approx(1.0)
    assert w[0] > w[1] > w[5] and w[19] > w[12]  # the first and the last hits weigh most


# -- score -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 3])
def test_score_perfect_is_one_random_near_zero(seed: int) -> None:
    t = make_event(seed, n_particles=200)["truth"]
    assert trackml_score(t, t["hit_id"], t["particle_id"]) == pytest.approx(1.0, abs=1e-12)
    shuffled = np.random.default_rng(seed).permutation(t["particle_id"])
    assert trackml_score(t, t["hit_id"], shuffled) < 0.05
    assert trackml_score(t, t["hit_id"][:0], t["particle_id"][:0]) == 0.0


def test_score_hand_computed_partial_case() -> None:
    # particle 1: hits 1-6, particle 2: hits 7-10, particle 3: hits 11-14, noise: hit 15
    pid = np.array([1] * 6 + [2] * 4 + [3] * 4 + [0])
    w = np.array([.05] * 6 + [.1] * 4 + [.075] * 4 + [0.0])  # sums to 1
    truth = {"hit_id": np.arange(1, 16), "particle_id": pid, "weight": w}
    track = np.array([
        10, 10, 10, 10, 11, 11,  # particle 1: 4 of 6 on track 10 (pure) -> good, 0.20; track 11 holds 2/6
        12, 12, 13, 13,          # particle 2 split 2 + 2: 2/4 is not > 1/2 -> neither good
        14, 14, 14, 11,          # particle 3: 3 hits on 14 -> good, 0.225; its 4th hit joins track 11
        11,                      # noise on track 11: track 11 = {p1, p1, p3, noise}, majority p1 with 2/4 -> bad
    ])
    assert trackml_score(truth, np.arange(1, 16), track) == pytest.approx(0.20 + 0.225, abs=1e-12)
    # leaving the unsure hits out changes nothing for the good tracks
    keep = np.isin(track, [10, 14])
    assert trackml_score(truth, np.arange(1, 16)[keep], track[keep]) == pytest.approx(0.425, abs=1e-12)


def test_score_rejects_bad_submissions() -> None:
    t = make_event()["truth"]
    with pytest.raises(ValueError, match="more than one track"):
        trackml_score(t, np.r_[t["hit_id"], 1], np.r_[t["particle_id"], 0])
    with pytest.raises(ValueError, match="not in the truth"):
        trackml_score(t, np.array([10 ** 9]), np.array([0]))


# -- matching and rates ----------------------------------------------------------------------------------


def test_assign_hits_resolves_shared_hits_to_the_longest_track() -> None:
    hid, tid = assign_hits([[1, 2, 3], [3, 4, 5, 6], [7], [6, 8]])
    assert dict(zip(hid.tolist(), tid.tolist())) == {1: 0, 2: 0, 3: 1, 4: 1, 5: 1, 6: 1, 7: 2, 8: 3}
    assert len(assign_hits([])[0]) == 0


def test_match_and_rates_hand_case() -> None:
    pid = np.array([1] * 5 + [2] * 5 + [3] * 4 + [0] * 2)
    truth = {"hit_id": np.arange(1, 17), "particle_id": pid}
    tracks = [
        [1, 2, 3, 4],        # p1, pure, 4/5 -> matched
        [1, 2, 3, 5],        # p1 again -> matched, a duplicate
        [6, 7, 8, 11, 12],   # p2 3/5 purity, 3/5 completeness -> matched
        [11, 12, 6, 15],     # p3 2/4 purity -> fake
        [15, 16, 9],         # noise majority -> fake
    ]
    m = match_tracks(truth, tracks)
    assert m.particle_id.tolist() == [1, 1, 2, 3, 0]
    assert m.matched.tolist() == [True, True, True, False, False]
    np.testing.assert_allclose(m.purity, [1, 1, .6, .5, 2 / 3])
    np.testing.assert_allclose(m.completeness, [.8, .8, .6, .5, 1])
    rates = tracking_rates(m, np.array([1, 2, 3]))
    assert rates["efficiency"] == pytest.approx(2 / 3)
    assert rates["fake_rate"] == pytest.approx(2 / 5)
    assert rates["duplicate_rate"] == pytest.approx(1 / 3)
    particles = {"particle_id": np.array([1, 2, 3]), "px": np.array([0.7, 3.0, 3.0]), "py": np.zeros(3),
                 "pz": np.zeros(3)}
    frac, n = efficiency_vs(m, particles, np.ones(3, bool), "pt", [0.5, 1.0, 5.0])
    np.testing.assert_allclose(frac, [1.0, 0.5])
    assert n.tolist() == [1, 2]
    # a 2-hit pure track of p1 holds 2/5 of its hits: matched by purity alone, not by the double criterion
    single = match_tracks(truth, [[1, 2]], double=False)
    assert single.matched.tolist() == [True] and not match_tracks(truth, [[1, 2]]).matched[0]


def test_binned_fraction_and_selection() -> None:
    frac, n = binned_fraction([0.5, 1.5, 1.7, 5.0, 99.0], [True, False, True, True, True], [0, 1, 2, 10])
    np.testing.assert_allclose(frac, [1.0, 0.5, 1.0])
    assert n.tolist() == [1, 2, 1]
    frac, n = binned_fraction([], [], [0, 1])
    assert np.isnan(frac[0]) and n[0] == 0
    p = {"px": np.array([2.0, 0.5, 2.0, 2.0]), "py": np.zeros(4), "pz": np.array([0.0, 0.0, 100.0, 0.0]),
         "nhits": np.array([8, 8, 8, 8]), "q": np.array([1, -1, 1, 0]), "vx": np.zeros(4), "vy": np.zeros(4)}
    assert select_particles(p).tolist() == [True, False, False, False]  # pT, |η| (4.6) and charge cuts


# -- reader and writer -----------------------------------------------------------------------------------


def test_round_trip(tmp_path: Path) -> None:
    ev = make_event(5)
    n = len(ev["hits"]["hit_id"])
    ev["cells"] = {"hit_id": ev["hits"]["hit_id"], "ch0": np.arange(n), "ch1": np.arange(n) * 2,
                   "value": np.full(n, 0.25)}
    ev["particles"]["particle_type"] = np.full(len(ev["particles"]["particle_id"]), 211.0)  # an extra column
    paths = write_event(tmp_path, 42, ev)
    assert sorted(p.name for p in paths) == [f"event000000042-{k}.csv" for k in ("cells", "hits", "particles",
                                                                                     "truth")]
    assert list_events(tmp_path) == [42]
    back = read_event(tmp_path, 42)
    for part, cols in ev.items():
        assert list(back[part]) == list(cols)
        for c, a in cols.items():
            if c in COLUMNS[part] and back[part][c].dtype.kind == "i":
                np.testing.assert_array_equal(back[part][c], a)
            else:
                np.testing.assert_allclose(back[part][c], a, rtol=1e-9, atol=1e-12)
    assert not list(tmp_path.glob("*.tmp"))


def test_reads_hand_written_public_layout(tmp_path: Path) -> None:
    (tmp_path / "event000001000-hits.csv").write_text(
        "hit_id,x,y,z,volume_id,layer_id,module_id\n"
        "1,-64.4099,-7.1637,-1502.5,7,2,1\n"
        "2,-55.3361,0.635342,-1502.5,7,2,1\n"
        "3,-83.8305,-1.14301,-1502.5,7,2,1\n")
    (tmp_path / "event000001000-particles.csv").write_text(
        "particle_id,vx,vy,vz,px,py,pz,q,nhits\n"
        "4503668346847232,-0.00928485,0.00986467,-5.77128,-0.0552689,0.323024,-0.203252,-1,8\n"
        "4503737066323968,-0.00928485,0.00986467,-5.77128,-0.948455,0.470779,2.01034,1,11\n")
    (tmp_path / "event000001000-truth.csv").write_text(
        "hit_id,particle_id,tx,ty,tz,tpx,tpy,tpz,weight\n"
        "1,0,-64.4116,-7.16412,-1502.5,250710,-149908,-956385,0\n"
        "2,4503737066323968,-55.3385,0.630805,-1502.5,-0.570605,0.0283904,-15.4922,9.86408e-06\n"
        "3,4503668346847232,-83.828,-1.14558,-1502.5,-0.0567158,0.0568386,-2.98227,8.41393e-06\n")
    ev = read_event(tmp_path, 1000)
    assert "cells" not in ev
    assert ev["particles"]["particle_id"].dtype == np.int64
    assert ev["particles"]["particle_id"][0] == 4503668346847232  # exact: not through float64
    assert ev["truth"]["weight"][1] == pytest.approx(9.86408e-06)
    assert ev["hits"]["volume_id"].tolist() == [7, 7, 7]


def _nan_second_x(s: str) -> str:
    lines = s.splitlines()
    fields = lines[2].split(",")
    fields[1] = "nan"
    lines[2] = ",".join(fields)
    return "\n".join(lines) + "\n"


BAD_CASES = {  # part to edit, the edit, the message expected
    "missing column": ("hits", lambda s: s.replace(",module_id", "").replace(",1\n", "\n"), "missing column"),
    "truncated row": ("truth", lambda s: s.rstrip("\n").rsplit(",", 2)[0] + "\n", "truncated"),
    "NaN coordinate": ("hits", _nan_second_x, "NaN"),
    "non-integer id": ("particles", lambda s: s.replace("\n1001,", "\n1001.5,"), "non-integer"),
    "hits without truth": ("truth", lambda s: "\n".join(s.splitlines()[:-1]) + "\n", "without truth"),
    "no particles": ("particles", lambda s: s.splitlines()[0] + "\n", "without particles"),
    "unknown particle": ("particles", lambda s: "\n".join(s.splitlines()[:2]) + "\n", "missing from the particles"),
    "empty file": ("hits", lambda s: "", "empty file"),
}


def _write_small(tmp_path: Path) -> None:
    hits = {"hit_id": np.array([1, 2, 3]), "x": np.array([1., 2, 3]), "y": np.zeros(3), "z": np.zeros(3),
            "volume_id": np.array([8, 8, 8]), "layer_id": np.array([2, 4, 6]), "module_id": np.array([1, 1, 1])}
    particles = {"particle_id": np.array([1001, 1002]), "vx": np.zeros(2), "vy": np.zeros(2), "vz": np.zeros(2),
                 "px": np.ones(2), "py": np.zeros(2), "pz": np.zeros(2), "q": np.array([1, -1]),
                 "nhits": np.array([2, 1])}
    truth = {"hit_id": np.array([1, 2, 3]), "particle_id": np.array([1001, 1001, 1002]), "tx": np.zeros(3),
             "ty": np.zeros(3), "tz": np.array([1., 2, 3]), "tpx": np.zeros(3), "tpy": np.zeros(3),
             "tpz": np.zeros(3), "weight": np.zeros(3)}
    write_event(tmp_path, 7, {"hits": hits, "particles": particles, "truth": truth})


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_one_line_error_naming_the_file(tmp_path: Path, case: str) -> None:
    _write_small(tmp_path)
    part, edit, message = BAD_CASES[case]
    path = event_path(tmp_path, 7, part)
    path.write_text(edit(path.read_text()))
    with pytest.raises(FormatError, match=message) as info:
        read_event(tmp_path, 7)
    text = str(info.value)
    assert "\n" not in text and "event000000007-" in text


def test_missing_file_and_directory(tmp_path: Path) -> None:
    _write_small(tmp_path)
    event_path(tmp_path, 7, "truth").unlink()
    with pytest.raises(InputError, match="event000000007-truth.csv: no such file"):
        read_event(tmp_path, 7)
    with pytest.raises(InputError, match="not a directory"):
        list_events(tmp_path / "nope")
