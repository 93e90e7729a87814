"""Particle identification on calorimeter showers: shower shapes on toy cells, layer images, train/evaluate/compare."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from jetlab.cli import main
from jetlab.errors import UsageError
from jetlab.io.showers import Showers
from jetlab.physics.shower_shapes import shower_shapes
from jetlab.represent.calo_image import shower_image, to_grid
from jetlab.represent.shower_shapes import FEATURES, shower_features


def _toy() -> dict[str, np.ndarray]:
    strips = np.zeros((1, 3, 96))
    strips[0, 1, [40, 41, 42, 44]] = [1.0, 5.0, 1.0, 3.0]          # maxima 5 (strip 41) and 3 (strip 44)
    middle = np.zeros((1, 12, 12))
    middle[0, [5, 4, 6, 5, 8], [5, 5, 5, 8, 5]] = [10.0, 2.0, 2.0, 2.0, 4.0]
    back = np.full((1, 12, 6), 0.5 / 72)
    return shower_shapes(strips, middle, back, np.array([100.0]))


def test_shower_shapes_match_hand_computed_values() -> None:
    v = {k: float(a[0]) for k, a in _toy().items()}
    total = 10.0 + 20.0 + 0.5
    assert v["f_strip"] == pytest.approx(10 / total) and v["f_back"] == pytest.approx(0.5 / total)
    assert v["response"] == pytest.approx(total / 100)
    assert v["r_eta"] == pytest.approx(16 / 20)             # E(3×7) = 10 + 2 + 2 + 2 (col +3), E(7×7) adds row +3
    assert v["r_phi"] == pytest.approx(14 / 16)
    assert v["w_eta2"] == pytest.approx(math.sqrt(4 / 14))  # rows -1, 0, +1 of 2, 10, 2
    assert v["e_ratio"] == pytest.approx((5 - 3) / (5 + 3))
    assert v["delta_e"] == pytest.approx(3.0)               # strips 42, 43 between the maxima: min 0
    assert v["w_s3"] == pytest.approx(math.sqrt(2 / 7))
    assert v["w_stot"] == pytest.approx(math.sqrt((1 + 1 + 3 * 9) / 10))
    assert v["f_side"] == pytest.approx((10 - 7) / 7)


def test_single_strip_maximum_has_no_second_maximum() -> None:
    strips = np.zeros((2, 1, 20))
    strips[0, 0, 5] = 4.0
    strips[1, 0, [5, 6]] = [4.0, 4.0]                      # a plateau is one maximum (s_i >= s_{i+1})
    v = shower_shapes(strips, np.zeros((2, 12, 12)), np.zeros((2, 12, 6)), np.ones(2))
    assert v["e_ratio"].tolist() == [1.0, 1.0] and v["delta_e"].tolist() == [0.0, 0.0]


def test_layers_go_on_the_grid_with_strips_folded_into_channels() -> None:
    strips = np.zeros((1, 3, 96))
    strips[0, 1, 13] = 8.0                                  # x cell 1 -> rows 4..7; strip 13 -> column 1, channel 5
    x = to_grid(strips, 12)
    assert x.shape == (1, 8, 12, 12) and x.sum() == pytest.approx(8.0)
    assert np.allclose(x[0, 5, 4:8, 1], 2.0) and x[0, 5].sum() == pytest.approx(8.0)
    assert to_grid(strips, 12, fold=False).shape == (1, 1, 12, 12)
    with pytest.raises(UsageError, match="calo_grid 5"):
        to_grid(strips, 5)
    s = Showers(np.random.default_rng(0).random((3, 504)).astype(np.float32), np.full(3, 20.0, np.float32),
                np.zeros(3, np.int64), "calogan")
    assert np.allclose(shower_image(s).sum(axis=(1, 2, 3)), 1.0)
    assert shower_features(s).shape == (3, len(FEATURES))


def test_train_evaluate_compare_on_showers(tmp_path: Path) -> None:
    data = tmp_path / "showers"
    assert main(["showers", "generate", "--particle", "gamma,pi0", "--n", "160", "--energy", "10,60",
                 "--impact-mm", "40", "--out", str(data), "--no-progress"]) == 0
    runs = []
    for model, extra in (("shower_bdt", []), ("resnet", ["--epochs", "1", "--batch-size", "64"])):
        run = tmp_path / model
        assert main(["train", "--model", model, "--data", str(data), "--classes", "gamma:pi0", "--out", str(run),
                     "--no-progress", *extra]) == 0
        assert main(["evaluate", str(run)]) == 0
        runs.append(str(run))
    config = (tmp_path / "resnet" / "config.yaml").read_text()
    assert "name: calo_image" in config                     # showers: the image model reads the layer images
    metrics = json.loads((tmp_path / "shower_bdt" / "metrics.json").read_text())["metrics"]
    assert metrics["signal"] == "gamma" and 0.9 in metrics["signal_effs"] and len(metrics["vs_energy"]) == 5
    assert metrics["auc"]["gamma"] > 0.7                    # π⁰s of 10-60 GeV: two photons 7-40 mm apart
    assert main(["compare", *runs, "--out", str(tmp_path / "cmp")]) == 0
    table = (tmp_path / "cmp" / "landscape.md").read_text()
    assert "εS=0.9" in table and "calo_image" in table and "shower_shapes" in table  # what the runs read
