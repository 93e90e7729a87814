"""Label schemes through the CLI: JetClass's ten classes train and evaluate, Top Tagging reports qcd and top,
a run evaluated on a dataset of another scheme is one line naming both."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from jetlab.classes import JETCLASS, JETLAB, LabelScheme
from jetlab.cli import main
from tests.foreign import write_toptag
from tests.foreign_root import write_jetclass

FAST = ["--epochs", "1", "--batch-size", "64", "--no-progress"]


@pytest.fixture(scope="module")
def jetclass_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("jetclass")
    for k in range(2):
        write_jetclass(d / f"JetClass_Pythia_train_100M_part{k}.root", n=150, p=24, seed=k)
    return d


def _one_line(capsys: pytest.CaptureFixture[str], argv: list[str], *words: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    for w in words:
        assert w in err, err
    return err


def test_jetclass_trains_and_evaluates_ten_classes(jetclass_dir: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main(["train", "--model", "pfn", "--data", str(jetclass_dir), "--out", str(run), *FAST]) == 0
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["scheme"]["name"] == "jetclass" and saved["data"]["classes"] == ",".join(JETCLASS.classes)
    assert main(["evaluate", str(run)]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert list(metrics["metrics"]["auc"]) == list(JETCLASS.classes)
    assert metrics["scheme"]["classes"] == list(JETCLASS.classes) and metrics["n_jets"] > 0
    assert (run / "roc.png").is_file() and (run / "confusion.png").is_file()
    capsys.readouterr()
    toptag = write_toptag_file(tmp_path)
    _one_line(capsys, ["evaluate", str(run), "--data", str(toptag)], "toptag", "jetclass", "QCD, Hbb")


def write_toptag_file(tmp_path: Path) -> Path:
    path = tmp_path / "train.h5"
    write_toptag(path, n=80, m=30)
    return path


def test_toptag_reports_qcd_and_top(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_toptag_file(tmp_path)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "scheme 'toptag': qcd, top" in out and "\nqcd " in out and "\ntop " in out
    run = tmp_path / "run"
    assert main(["train", "--model", "deepsets", "--data", str(path),
                 "--classes", "TOP:qcd", "--out", str(run), *FAST]) == 0
    assert json.loads((run / "train.json").read_text())["classes"] == ["qcd", "top"]
    capsys.readouterr()
    _one_line(capsys, ["train", "--model", "deepsets", "--data", str(path), "--classes", "t:q",
                       "--out", str(tmp_path / "x"), *FAST], "--classes", "unknown class 't'", "qcd, top")


def test_jetclass_streams_by_file_chunks(jetclass_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "stream.yaml"
    config.write_text(yaml.safe_dump({"data": {"stream": "stream", "chunk_size": 64, "shuffle_buffer": 128}}))
    run = tmp_path / "run"
    assert main(["train", "--model", "pfn", "--data", str(jetclass_dir), "--config", str(config),
                 "--classes", "Hbb,QCD", "--out", str(run), *FAST]) == 0
    summary = json.loads((run / "train.json").read_text())
    assert summary["data"] == "stream" and summary["classes"] == ["QCD", "Hbb"]
    assert main(["evaluate", str(run)]) == 0
    assert json.loads((run / "metrics.json").read_text())["n_jets"] == summary["n_test"]


def test_old_runs_without_a_scheme_are_generated_jets() -> None:
    assert LabelScheme.from_dict(JETLAB.to_dict()) is JETLAB
    assert JETLAB.selection("t:g,q").names == ["g+q", "t"]
