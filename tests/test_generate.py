"""End-to-end generation with Pythia 8 + FastJet on tiny samples (the slowest tests of the suite)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import jetlab.io as jio
from jetlab.classes import CLASSES
from jetlab.cli import main as cli_main
from jetlab.errors import InputError, UsageError
from jetlab.generate.config import MIN_PARTICLE_PT, GenerateConfig, parse_slice, plan_shards
from jetlab.generate.runner import generate, merge

N = 24  # jets per class


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jetlab.cli", *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "d"
    res = run_cli("generate", "--out", str(out), "--jets-per-class", str(N), "--seed", "7", "--workers", "2",
                  "--shard-size", "12", "--no-progress")
    assert res.returncode == 0, res.stderr
    return out


def test_counts_and_manifest(dataset: Path) -> None:
    jets = jio.open(dataset)
    assert len(jets) == 5 * N
    assert jets.counts() == {c: N for c in CLASSES}
    manifest = json.loads((dataset / "manifest.json").read_text())
    assert manifest["n_jets"] == 5 * N and len(manifest["shards"]) == 10
    assert {"pythia8mc", "fastjet"} <= set(manifest["versions"])


def test_rerun_is_a_noop(dataset: Path) -> None:
    before = {p.name: p.stat().st_mtime_ns for p in dataset.glob("*.h5")}
    res = run_cli("generate", "--out", str(dataset), "--jets-per-class", str(N), "--seed", "7", "--workers", "2",
                  "--shard-size", "12", "--no-progress")
    assert res.returncode == 0 and "0 shard(s) made, 10 already whole" in res.stdout
    assert before == {p.name: p.stat().st_mtime_ns for p in dataset.glob("*.h5")}


def test_physics(dataset: Path) -> None:
    jets = jio.open(dataset)
    pt = jets.jet[:, 0]
    assert (pt >= 950).all() and (pt <= 1050).all()
    assert (np.abs(jets.jet[:, 1]) < 2.5).all()
    for arr in (jets.constituents, jets.jet, jets.hlf):
        assert np.isfinite(arr).all()
    mass = jets.feature("j_mass_mmdt")
    med = {c: np.median(mass[jets.labels == i]) for i, c in enumerate(CLASSES)}
    assert 65 < med["w"] < 95 and 75 < med["z"] < 105 and 145 < med["t"] < 195, med
    mult = {c: jets.n_particles[jets.labels == i].mean() for i, c in enumerate(CLASSES)}
    assert mult["g"] > mult["q"], mult
    # constituents: pT-ordered, zero padding, consistent pt column
    p = jets.particle("pt")
    assert (np.diff(p, axis=1)[jets.mask[:, 1:]] <= 1e-3).all()
    assert (jets.constituents[~jets.mask] == 0).all()
    np.testing.assert_allclose(p, np.hypot(jets.particle("px"), jets.particle("py")), rtol=1e-5, atol=1e-4)
    # no constituent below the stated pT threshold; j_multiplicity counts exactly the kept particles
    assert (p[jets.mask] >= MIN_PARTICLE_PT * (1 - 1e-6)).all()
    np.testing.assert_array_equal(jets.feature("j_multiplicity")[full := jets.n_particles < jets.max_particles],
                                  jets.n_particles[full])
    # the jet four-vector is the sum of (all, here untruncated) constituents
    sum_pt = np.hypot(jets.particle("px").sum(1), jets.particle("py").sum(1))
    np.testing.assert_allclose(sum_pt[full], pt[full], rtol=1e-4)


def test_same_seed_same_arrays_other_seed_differs(dataset: Path, tmp_path: Path) -> None:
    cfg = dict(classes=("w",), jets_per_class=N, shard_size=12, workers=1, progress=False)
    generate(GenerateConfig(out=tmp_path / "a", seed=7, **cfg))
    generate(GenerateConfig(out=tmp_path / "b", seed=8, **cfg))
    ref = jio.open(dataset).select_classes(["w"])
    a, b = jio.open(tmp_path / "a"), jio.open(tmp_path / "b")
    np.testing.assert_array_equal(a.constituents, ref.constituents)  # workers 1 vs 2: identical
    np.testing.assert_array_equal(a.hlf, ref.hlf)
    assert not np.array_equal(a.jet, b.jet)


def test_slices_and_merge(tmp_path: Path) -> None:
    cfg = dict(classes=("z",), jets_per_class=10, shard_size=5, seed=3, progress=False)
    s0 = generate(GenerateConfig(out=tmp_path / "n0", slice=(0, 2), **cfg))
    s1 = generate(GenerateConfig(out=tmp_path / "n1", slice=(1, 2), **cfg))
    assert s0["missing"] == 1 and s1["missing"] == 1 and "manifest" not in s0
    with pytest.raises(InputError, match="no manifest|shards but no"):
        jio.open(tmp_path / "n0")
    with pytest.raises(InputError, match="missing"):
        merge([tmp_path / "n0"], tmp_path / "bad")
    merge([tmp_path / "n0", tmp_path / "n1"], tmp_path / "all")
    whole = generate(GenerateConfig(out=tmp_path / "one", **cfg))
    assert "manifest" in whole
    np.testing.assert_array_equal(jio.open(tmp_path / "all").constituents, jio.open(tmp_path / "one").constituents)


def test_detector_simple_changes_particles(tmp_path: Path) -> None:
    cfg = dict(classes=("w",), jets_per_class=6, shard_size=6, seed=1, progress=False)
    generate(GenerateConfig(out=tmp_path / "det", detector="simple", **cfg))
    jets = jio.open(tmp_path / "det")
    pdg = np.abs(jets.particle("pdgid")[jets.mask])
    assert {22, 130} & set(pdg.astype(int).tolist())  # calorimeter objects exist
    assert np.isfinite(jets.hlf).all() and len(jets) == 6


def test_plan_is_independent_of_workers() -> None:
    a = plan_shards(GenerateConfig(out=Path("x"), jets_per_class=25, shard_size=10, workers=1))
    b = plan_shards(GenerateConfig(out=Path("x"), jets_per_class=25, shard_size=10, workers=4))
    assert a == b and [t.n_jets for t in a[:3]] == [10, 10, 5]
    assert len({t.pythia_seed for t in a}) == len(a)


@pytest.mark.parametrize("text", ["1/1", "a/b", "3", "-1/2"])
def test_bad_slice(text: str) -> None:
    with pytest.raises(UsageError):
        parse_slice(text)


def test_refuses_other_settings(dataset: Path) -> None:
    res = run_cli("generate", "--out", str(dataset), "--jets-per-class", str(N), "--seed", "8", "--no-progress")
    assert res.returncode == 2 and "other settings" in res.stderr and res.stderr.count("\n") == 1


@pytest.mark.parametrize("workers", ["1", "2"])
def test_unexpected_worker_error_is_one_line(workers: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A bug inside a worker (here a ZeroDivisionError in the features) ends as one line naming the shard and
    its seeds, exit 2, no traceback, no file left (forked workers inherit the patch)."""
    import jetlab.generate.shards as shards

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("0.0 cannot be raised to a negative power")

    monkeypatch.setattr(shards, "features_from_p4", broken)
    out = tmp_path / "d"
    rc = cli_main(["generate", "--out", str(out), "--classes", "w", "--jets-per-class", "2", "--shard-size", "1",
                   "--seed", "3", "--workers", workers, "--no-progress"])
    err = capsys.readouterr().err
    seeds = {t.filename: t.pythia_seed for t in plan_shards(GenerateConfig(out=out, classes=("w",), jets_per_class=2,
                                                                          shard_size=1, seed=3))}
    assert rc == 2 and err.count("\n") == 1 and err.startswith("jetlab: error: shard w_000"), err
    name = err.split("shard ")[1].split(" ")[0]
    assert f"Pythia seed {seeds[name]}" in err and "ZeroDivisionError: 0.0 cannot be raised" in err
    assert "Traceback" not in err and not list(out.glob("*.h5")) and not list(out.glob("*.tmp"))
