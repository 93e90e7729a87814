"""Shower datasets through `jetlab info`, `jetlab plot` and `jetlab gen-metrics` (CaloChallenge table)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jetlab.cli import main


@pytest.fixture(scope="module")
def two_samples(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("showers")
    for name, seed in (("a", 1), ("b", 2)):
        assert main(["showers", "generate", "--geometry", "calogan", "--particle", "e+", "--n", "300",
                     "--seed", str(seed), "--out", str(root / name), "--no-progress"]) == 0
    return root / "a", root / "b"


def test_info_and_plot(two_samples: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, _ = two_samples
    assert main(["info", str(a), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["kind"] == "showers" and s["n_showers"] == 300 and s["showers_per_class"] == {"e+": 300}
    assert 0.15 < s["response_mean"] < 0.19  # Pb/LAr sampling fraction of the CaloGAN geometry, 0.172
    assert s["layer_fraction_mean"][1] > s["layer_fraction_mean"][0] > s["layer_fraction_mean"][2]
    assert main(["plot", str(a), "--out", str(tmp_path / "p")]) == 0
    assert {p.name for p in (tmp_path / "p").glob("*.png")} == {"average_shower.png", "response.png", "layers.png"}


def test_gen_metrics_sim_vs_sim_sits_on_its_floor(two_samples: tuple[Path, Path],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    a, b = two_samples
    assert main(["gen-metrics", str(a), str(b), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    for key in ("classifier_low", "classifier_high"):
        v = res[key]
        assert abs(v["value"] - 0.5) < 4 * v["unc"] + 0.05, (key, v)
    assert res["separation_power_max"]["all"]["value"] < 2.5 * res["separation_power_max"]["all"]["floor"]
    assert main(["gen-metrics", str(a), str(b)]) == 0
    assert "floor (sim vs sim)" in capsys.readouterr().out
