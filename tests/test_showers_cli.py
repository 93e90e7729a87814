"""``jetlab showers generate`` through :func:`jetlab.cli.main`: shards in the public layouts, manifest, resume,
determinism, ``open_source(dir)``, and one-line refusals that leave nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import jetlab.generate.showers.runner as runner
from jetlab.cli import main
from jetlab.io.readers import read_foreign, sniff
from jetlab.io.showers import Showers
from jetlab.io.source import open_source


def _run(*args: str) -> int:
    try:
        return main(["showers", "generate", "--no-progress", *args])
    except SystemExit as e:  # argparse's own refusals
        return int(e.code or 0)


def _files(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


CALOGAN = ("--geometry", "calogan", "--particle", "e+", "--energy", "2,20", "--n", "25", "--shard-size", "10")
CHALLENGE = ("--geometry", "challenge2", "--particle", "gamma", "--log-energy", "1,10", "--n", "12",
             "--shard-size", "5")


def test_calogan_run_writes_calogan_files_and_a_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cg"
    assert _run(*CALOGAN, "--seed", "3", "--out", str(out)) == 0
    assert "3 shard(s) made, 0 already whole" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["eplus_0000.h5", "eplus_0001.h5", "eplus_0002.h5",
                                                     "manifest.json"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "showers" and manifest["reader"] == "calogan" and manifest["n_showers"] == 25
    assert manifest["settings"]["energy"] == {"spectrum": "uniform", "low_gev": 2.0, "high_gev": 20.0}
    assert manifest["scheme"]["classes"] == ["e+", "gamma", "pi+", "pi0"] and "numpy" in manifest["versions"]
    assert [s["n_showers"] for s in manifest["shards"]] == [10, 10, 5]
    assert len({s["seed"] for s in manifest["shards"]}) == 3
    shard = read_foreign(out / "eplus_0002.h5")  # each shard is a CaloGAN file on its own
    assert sniff(out / "eplus_0002.h5") == "calogan" and len(shard) == 5 and (shard.labels == 0).all()
    assert ((shard.incident >= 2) & (shard.incident <= 20)).all() and shard.overflow.shape == (5, 3)

    src = open_source(out)
    assert len(src) == 25 and src.scheme.name == "particles" and [f.fmt for f in src.files] == ["calogan"] * 3
    s = src.load()
    assert isinstance(s, Showers) and len(s) == 25 and s.geometry == "calogan"
    np.testing.assert_array_equal(s.voxels[20:], shard.voxels)
    assert src.labels().tolist() == [0] * 25


def test_challenge2_run_writes_calochallenge_files_with_binning(tmp_path: Path) -> None:
    out = tmp_path / "c2"
    assert _run(*CHALLENGE, "--out", str(out)) == 0
    assert (out / "binning_dataset_2.xml").is_file() and sniff(out / "gamma_0002.h5") == "calochallenge"
    s = open_source(out).load()
    assert s.geometry == "challenge2" and s.voxels.shape == (12, 6480) and (s.labels == 1).all()
    assert ((s.incident >= 1) & (s.incident <= 10)).all() and (s.voxels >= 0).all() and s.voxels.sum() > 0


def test_resume_skips_whole_shards_and_remakes_a_missing_one(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r"
    assert _run(*CALOGAN, "--out", str(out)) == 0
    first, stamps = _files(out), {p.name: p.stat().st_mtime_ns for p in out.glob("*.h5")}
    (out / "eplus_0001.h5").unlink()
    capsys.readouterr()
    assert _run(*CALOGAN, "--out", str(out)) == 0
    assert "1 shard(s) made, 2 already whole" in capsys.readouterr().out
    assert _files(out) == first
    assert all((out / n).stat().st_mtime_ns == t for n, t in stamps.items() if n != "eplus_0001.h5")


def test_same_seed_same_bytes_whatever_the_workers(tmp_path: Path) -> None:
    assert _run(*CALOGAN, "--seed", "5", "--workers", "1", "--out", str(tmp_path / "a")) == 0
    assert _run(*CALOGAN, "--seed", "5", "--workers", "2", "--out", str(tmp_path / "b")) == 0
    assert _run(*CALOGAN, "--seed", "6", "--out", str(tmp_path / "c")) == 0
    a, b, c = (_files(tmp_path / k) for k in "abc")
    assert a == b
    assert all(a[n] != c[n] for n in a if n.endswith(".h5"))


def test_other_settings_or_other_data_in_out_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    assert _run(*CALOGAN, "--out", str(out)) == 0
    before = _files(out)
    capsys.readouterr()
    assert _run(*CALOGAN, "--seed", "9", "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds eplus_0000.h5, not showers of these settings" in err
    assert _files(out) == before
    (tmp_path / "file").write_text("x")
    assert _run(*CALOGAN, "--out", str(tmp_path / "file")) == 2
    assert "exists and is not a directory" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "match"), [
    (("--energy", "abc"), "--energy: expected LOW,HIGH in GeV"),
    (("--energy", "10,1"), "--energy: needs 0 < LOW < HIGH"),
    (("--energy", "0,10"), "--energy: needs 0 < LOW < HIGH"),
    (("--energy", "nan,10"), "--energy: needs 0 < LOW < HIGH"),
    (("--energy", "1,inf"), "--energy: needs 0 < LOW < HIGH"),
    (("--energy", "0.01,10"), "where the GFlash parametrization ends"),
    (("--log-energy", "1,1e6"), "--log-energy: HIGH 1e+06 GeV is above 10000 GeV"),
    (("--log-energy", "5"), "--log-energy: expected LOW,HIGH"),
    (("--energy", "1,10", "--log-energy", "1,10"), "not allowed with argument"),
    (("--n", "0"), "--n: must be a positive integer"),
    (("--n", "-3"), "--n: must be a positive integer"),
    (("--n", "ten"), "invalid int value"),
    (("--shard-size", "0"), "--shard-size: must be a positive integer"),
    (("--workers", "0"), "--workers: must be a positive integer"),
    (("--seed", "-1"), "--seed: must be in"),
    (("--particle", "pi+"), "--particle: unknown particle 'pi+'"),
    (("--particle", "mu-"), "--particle: unknown particle 'mu-'"),
    (("--geometry", "atlas"), "unknown shower geometry 'atlas'"),
])
def test_bad_arguments_one_line_exit_2_nothing_written(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       args: tuple[str, ...], match: str) -> None:
    out = tmp_path / "never"
    assert _run("--n", "5", *args, "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("jetlab") and match in err, err
    assert not out.exists()


def test_a_failed_run_leaves_whole_shards_only_and_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    out, real = tmp_path / "f", runner.write_layout
    calls = []

    def full_disk(path: Path, arrays: dict[str, np.ndarray], attrs: dict[str, str]) -> Path:
        calls.append(path)
        if len(calls) == 2:
            (Path(path).parent / f"{Path(path).name}.123.tmp").write_bytes(b"half")  # what a killed writer leaves
            raise OSError(28, "No space left on device", str(path))
        return real(path, arrays, attrs)

    monkeypatch.setattr(runner, "write_layout", full_disk)
    assert _run(*CALOGAN, "--out", str(out)) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert sorted(p.name for p in out.iterdir()) == ["eplus_0000.h5"]  # no manifest, no partial file
    monkeypatch.setattr(runner, "write_layout", real)
    assert _run(*CALOGAN, "--out", str(out)) == 0
    assert "2 shard(s) made, 1 already whole" in capsys.readouterr().out
    assert len(open_source(out)) == 25
