"""The CLI as a user meets it: one-line errors with exit status 2, nothing half-written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from jetlab.errors import FormatError
from jetlab.io.format import write_shard
from tests.conftest import make_jets
from tests.foreign import write_hls4ml, write_jetnet, write_qg, write_toptag


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jetlab.cli", *args], capture_output=True, text=True, timeout=300)


def assert_one_line_error(res: subprocess.CompletedProcess[str], *words: str) -> None:
    assert res.returncode == 2, (res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    for w in words:
        assert w in lines[0], lines[0]


@pytest.fixture
def shard(tmp_path: Path) -> Path:
    path = tmp_path / "g_0000.h5"
    write_shard(path, make_jets(20), {"class": "g", "index": 0})
    return path


def test_help_and_version() -> None:
    assert cli("--help").returncode == 0
    for cmd in ("generate", "info", "plot", "convert", "merge", "quickstart", "models", "train", "evaluate",
                "compare", "anomaly"):
        assert cli(cmd, "--help").returncode == 0
    assert "jetlab" in cli("--version").stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["generate", "--out", "X", "--jets-per-class", "-5"], ["--jets-per-class"]),
        (["generate", "--out", "X", "--jets-per-class", "0"], ["--jets-per-class"]),
        (["generate", "--out", "X", "--classes", "g,h"], ["--classes", "'h'"]),
        (["generate", "--out", "X", "--classes", ","], ["--classes", "empty"]),
        (["generate", "--out", "X", "--pt-range", "1050,950"], ["--pt-range"]),
        (["generate", "--out", "X", "--workers", "two"], ["--workers"]),
        (["generate", "--out", "X", "--shard", "4/2"], ["--shard"]),
        (["generate", "--out", "X", "--detector", "delphes"], ["--detector"]),
        (["info"], ["path"]),
        (["frobnicate"], ["frobnicate"]),
    ],
)
def test_bad_flags(args: list[str], words: list[str], tmp_path: Path) -> None:
    args = [str(tmp_path / a) if a == "X" else a for a in args]
    assert_one_line_error(cli(*args), *words)
    assert not (tmp_path / "X").exists()


def test_info_every_format(tmp_path: Path, shard: Path) -> None:
    paths = {"jetlab-shard": shard}
    write_hls4ml(paths.setdefault("hls4ml", tmp_path / "jetImage_0.h5"))
    write_toptag(paths.setdefault("toptag", tmp_path / "test.h5"))
    write_qg(paths.setdefault("qg", tmp_path / "QG_jets.npz"))
    write_jetnet(paths.setdefault("jetnet", tmp_path / "t.hdf5"))
    for fmt, path in paths.items():
        res = cli("info", str(path), "--json")
        assert res.returncode == 0, res.stderr
        summary = json.loads(res.stdout)
        assert summary["n_jets"] > 0 and summary["format"] in (fmt, "jetlab"), (fmt, summary["format"])
        text = cli("info", str(path))
        assert text.returncode == 0 and "class" in text.stdout


def test_bad_files(tmp_path: Path, shard: Path) -> None:
    empty = tmp_path / "empty.h5"
    empty.touch()
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not a jet file at all" * 10)
    truncated = tmp_path / "trunc.h5"
    truncated.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    missing_key = tmp_path / "nokey.h5"
    with h5py.File(shard) as src, h5py.File(missing_key, "w") as dst:
        for k in ("constituents", "n_particles", "jet", "labels"):
            src.copy(k, dst)
        dst.attrs.update(src.attrs)
    nan = tmp_path / "nan.h5"
    j = make_jets(10)
    j.constituents[3, 0, 0] = np.nan
    with pytest.raises(FormatError, match="NaN or inf values in 1 jets"):
        j.validate()
    write_hls4ml(nan)
    with h5py.File(nan, "a") as f:
        data = f["jetConstituentList"][:]
        data[2, 0, 0] = np.inf
        f["jetConstituentList"][...] = data
    zero = tmp_path / "zero.h5"
    write_hls4ml(zero)
    with h5py.File(zero, "a") as f:
        data = f["jetConstituentList"][:]
        data[1] = 0.0
        f["jetConstituentList"][...] = data
    shape = tmp_path / "shape.h5"
    write_hls4ml(shape)
    with h5py.File(shape, "a") as f:
        jets = f["jets"][:, :58]
        del f["jets"]
        f["jets"] = jets
    cases = {
        tmp_path / "nope.h5": "no such file",
        empty: "empty",
        garbage: str(garbage.name),
        truncated: str(truncated.name),
        missing_key: "hlf",
        nan: "inf",
        zero: "zero constituents",
        shape: str(shape.name),
        tmp_path: "no manifest.json",
        tmp_path / "emptydir": "no jetlab dataset",
    }
    (tmp_path / "emptydir").mkdir()
    for path, word in cases.items():
        assert_one_line_error(cli("info", str(path)), word)


def test_control_characters_in_a_path_stay_on_one_line(tmp_path: Path) -> None:
    assert_one_line_error(cli("info", str(tmp_path / "no\nsuch\x1e.h5")), "no\\nsuch\\x1e.h5", "no such file")


def test_manifest_pointing_at_missing_shard(tmp_path: Path, shard: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps(
        {"format": "jetlab", "schema": 1, "shards": [{"file": "g_0000.h5", "n_jets": 20}, {"file": "q_0000.h5"}]}))
    assert_one_line_error(cli("info", str(tmp_path)), "q_0000.h5", "missing")


def test_plot_and_convert(tmp_path: Path, shard: Path) -> None:
    res = cli("plot", str(shard), "--out", str(tmp_path / "plots"))
    assert res.returncode == 0, res.stderr
    pngs = sorted(p.name for p in (tmp_path / "plots").glob("*.png"))
    assert {"hlf.png", "images.png", "multiplicity.png", "mass.png"} <= set(pngs)
    assert not list((tmp_path / "plots").glob("*.tmp"))
    res = cli("convert", str(shard), "--to", "hls4ml", "--out", str(tmp_path / "h"), "--n-particles", "30")
    assert res.returncode == 0, res.stderr
    (converted,) = (tmp_path / "h").glob("*.h5")
    info = json.loads(cli("info", str(converted), "--json").stdout)
    assert info["format"] == "hls4ml" and info["n_jets"] == 20


def test_plot_into_a_file_path_fails_cleanly(tmp_path: Path, shard: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = cli("plot", str(shard), "--out", str(blocker))
    assert_one_line_error(res, "--out", "not a directory")
    assert blocker.read_text() == "x"
