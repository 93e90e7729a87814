"""Data-quality monitoring: injected faults, baselines' false-alarm rates, χ², a convolutional AE, bad input."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from jetlab.errors import FormatError
from jetlab.generate.dqm import DQMConfig, generate_dqm, make_maps, make_reference
from jetlab.io.maps import FAULT_KINDS
from jetlab.io.readers.dqm import read_dqm
from jetlab.io.source import open_source
from jetlab.metrics.dqm import auc, check_reference, chi2_scores, efficiency_at_rate, false_alarms_at, ks_scores


def _cfg(tmp_path: Path, **kw: Any) -> DQMConfig:
    return DQMConfig(tmp_path / "dqm", **{"n_maps": 80, "events_per_map": 200, "n_reference": 60, "seed": 3,
                                          "shard_size": 40, "progress": False, **kw})


def test_faults_are_where_injected_and_generation_resumes(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, strengths=(1.0,))
    res = generate_dqm(cfg)
    maps = open_source(cfg.out).load()
    assert res["shards_made"] == 2 and len(maps) == 80 and 0 < maps.labels.sum() < 80
    assert np.array_equal(maps.labels == 1, maps.channel_faults.any(axis=(1, 2)))  # per-map = any per-channel
    assert np.array_equal(maps.labels == 1, maps.fault_kind > 0)
    dead, hot = maps.fault_kind == FAULT_KINDS.index("dead"), maps.fault_kind == FAULT_KINDS.index("hot")
    assert dead.any() and hot.any()
    occ = maps.maps[:, 0]
    assert (occ[dead][maps.channel_faults[dead]] == 0).all()  # a dead channel (s = 1) reads nothing
    ref = np.broadcast_to(maps.reference[0], occ[hot].shape)
    assert (occ[hot][maps.channel_faults[hot]] > ref[maps.channel_faults[hot]]).all()  # a hot channel fires more
    again = generate_dqm(cfg)  # resumed: whole shards skipped, identical maps
    assert again["shards_skipped"] == 2 and np.array_equal(open_source(cfg.out).load().maps, maps.maps)


def test_no_faults_no_more_alarms_than_stated_rate(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, fault_fraction=0.0)
    ref, std = make_reference(cfg)
    calib, test = make_maps(cfg, 200, 1, ref, std), make_maps(cfg, 300, 2, ref, std)
    assert test.labels.sum() == 0
    rate = 0.05
    for score in (lambda m: chi2_scores(m)["chi2_ndf"], lambda m: chi2_scores(m)["max_pull"], ks_scores):
        threshold = np.quantile(score(calib), 1 - rate)
        alarms = float((score(test) > threshold).mean())
        assert alarms <= rate + 3 * math.sqrt(rate * (1 - rate) / len(test))
    assert not efficiency_at_rate(np.zeros(300), np.zeros(300, int), 1e-3)["measurable"]  # 1e-3 needs 1000 good


def test_chi2_finds_a_strong_dead_region(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, kinds=("dead",), strengths=(1.0,))
    ref, std = make_reference(cfg)
    maps = make_maps(cfg, 200, 5, ref, std)
    assert auc(chi2_scores(maps)["max_pull"], maps.labels) > 0.95


def test_cae_trains_on_good_maps_and_localizes(tmp_path: Path) -> None:
    import jetlab.api as api
    from jetlab.tasks.dqm_eval import evaluate_dqm

    cfg = _cfg(tmp_path, n_maps=300, shard_size=300, kinds=("hot",), strengths=(1.0,))
    generate_dqm(cfg)
    run = tmp_path / "run"
    api.train("cae", cfg.out, run, task="anomaly", classes="good", hparams={"channels": [8, 16], "latent": 8},
              representation={"name": "detector_map", "map_channels": [0, 1]}, trainer={"epochs": 8, "batch_size": 32})
    res = evaluate_dqm(run, plots=False)
    ae = res["methods"]["autoencoder"]
    assert ae["auc"] > 0.95 and ae["localization"]["efficiency"] > 0.9
    assert res["methods"]["autoencoder_mse"]["auc"] > 0.9  # the plain reconstruction error as well
    assert (run / "dqm" / "metrics.json").is_file() and not ae["efficiency"]["0.001"]["measurable"]


def test_false_alarms_at_equal_efficiency_by_hand() -> None:
    scores = np.array([0.1, 0.2, 0.3, 0.9, 0.4, 0.5, 0.6, 0.7])  # 4 good, then 4 faulty
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    assert false_alarms_at(scores, labels, 1.0) == 0.25   # threshold 0.4 (the lowest faulty): 0.9 alarms
    assert false_alarms_at(scores, labels, 0.5) == 0.25   # threshold 0.5
    assert false_alarms_at(np.r_[scores[:3], 0.0, scores[4:]], labels, 1.0) == 0.0
    assert false_alarms_at(scores[:4], labels[:4], 0.5) is None


def test_residual_pulls_use_the_good_maps_spread() -> None:
    from jetlab.tasks.dqm_eval import residual_pulls

    rng = np.random.default_rng(0)
    spread = np.array([1.0, 10.0])[None, :, None, None] * np.ones((1, 2, 3, 3))  # channel 1 ten times wider
    good = rng.normal(size=(4000, 2, 3, 3)) * spread
    test = np.zeros((2, 2, 3, 3))
    test[0, 1, 1, 1] = 10.0  # one σ in the wide channel
    test[1, 0, 2, 2] = 5.0   # five σ in the narrow one
    out = residual_pulls(test, good)
    assert out["channel"].shape == (2, 3, 3)
    np.testing.assert_allclose(out["score"], [1.0, 25.0], rtol=0.05)  # Σ_c z² at the worst channel
    assert out["channel"][1].argmax() == 8 and out["channel"][0].argmax() == 4


def test_bad_inputs_are_one_line_errors(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, n_maps=4, shard_size=4)
    generate_dqm(cfg)
    shard = cfg.out / "calorimeter_0000.h5"
    maps = read_dqm(shard)
    with pytest.raises(FormatError, match="another geometry"):
        check_reference(maps, np.ones((1, 16, 16)), np.ones((1, 16, 16)), "tracker_ref.npz")
    for value, what in ((np.nan, "NaN"), (-1.0, "negative")):
        with h5py.File(shard, "r+") as f:
            data = f["maps"][:]
            data[0, 0, 3, 3] = value
            f["maps"][...] = data
        with pytest.raises(FormatError, match=what) as err:
            read_dqm(shard)
        assert str(shard) in str(err.value) and "\n" not in str(err.value)
    with h5py.File(shard, "r+") as f:
        del f["maps"]
        f["maps"] = np.zeros((4, 2, 12, 10), np.float32)
    with pytest.raises(FormatError, match="do not match the reference"):
        read_dqm(shard)
