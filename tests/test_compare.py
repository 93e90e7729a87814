"""Tagger plots (jetlab.report.roc) and the landscape report (jetlab.report.compare) on fake runs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from jetlab.metrics.classification import classification_metrics, roc_points
from jetlab.report.compare import landscape, landscape_table, sort_runs
from jetlab.report.roc import plot_confusion, plot_history, plot_roc, plot_roc_overlay, read_history
from tests.test_metrics import NAMES, fake_probs

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 5000, path
    assert not [q for q in path.parent.iterdir() if q.name.endswith(".tmp")]


def fake_run(name: str, sep: float, n: int = 2000, seed: int = 0, binary: bool = False, **extra: Any) -> dict:
    """A run dict as `jetlab compare` builds it, from fake probabilities."""
    probs, labels = fake_probs(n, 2 if binary else 5, sep, seed)
    names = ["g+q", "t"] if binary else NAMES
    metrics = classification_metrics(probs, labels, names, n_bootstrap=10)
    signal = [1] if binary else range(5)
    roc = {}
    for k in signal:
        fpr, tpr = roc_points(probs, labels, k, max_points=300)
        roc[names[k]] = {"fpr": fpr.tolist(), "tpr": tpr.tolist()}
    run = {"name": name, "model": name.split("-")[0], "family": "mlp", "representation": "hlf",
           "params": 12_345, "train_time_s": 60.0 * sep, "inference_jets_per_s": 1e5 / sep,
           "metrics": metrics, "roc": roc}  # fmt: skip
    run.update(extra)
    return run


@pytest.fixture(scope="module")
def runs() -> list[dict]:
    return [fake_run("mlp-a", 1.0, seed=1), fake_run("pnet-b", 3.0, seed=2), fake_run("cnn-c", 2.0, seed=3)]


# ------------------------------------------------------------------------------------------- plots
def test_plot_roc_writes_png(tmp_path: Path) -> None:
    probs, labels = fake_probs(3000, seed=1)
    m = classification_metrics(probs, labels, NAMES, n_bootstrap=0)
    curves = {c: (*roc_points(probs, labels, k)[::-1], m["auc"][c]) for k, c in enumerate(NAMES)}
    assert_png(plot_roc(curves, tmp_path / "roc.png", "one vs rest"))
    assert_png(plot_roc({"t vs g+q": ([0, 0.5, 1], [0, 0.0, 1], None)}, tmp_path / "one.png"))  # εB = 0 point
    with pytest.raises(ValueError):
        plot_roc({}, tmp_path / "none.png")


def test_plot_roc_overlay_and_confusion(tmp_path: Path, runs: list[dict]) -> None:
    overlay = {r["name"]: {c: (p["tpr"], p["fpr"], r["metrics"]["auc"][c])
                           for c, p in r["roc"].items()} for r in runs}  # fmt: skip
    assert_png(plot_roc_overlay(overlay, tmp_path / "overlay.png", "landscape"))
    assert_png(plot_confusion(runs[0]["metrics"]["confusion"]["counts"], NAMES, tmp_path / "cm.png", "mlp"))
    assert_png(plot_confusion(np.eye(2) * 0.5, ["g+q", "t"], tmp_path / "cm2.png"))   # fractions, no counts
    with pytest.raises(ValueError):
        plot_confusion(np.eye(3), NAMES, tmp_path / "bad.png")


def test_history_from_lightning_csv(tmp_path: Path) -> None:
    csv = tmp_path / "metrics.csv"
    csv.write_text("epoch,step,train_loss_step,train_loss_epoch,val_loss\n"
                   "0,10,1.2,,\n0,19,1.0,,\n0,19,,1.1,\n0,19,,,1.3\n"
                   "1,29,0.8,,\n1,39,0.7,,\n1,39,,0.75,\n1,39,,,0.9\n2,49,,0.6,\n2,49,,,0.95\n")  # fmt: skip
    hist = read_history(csv)
    assert hist == {"epoch": [0.0, 1.0, 2.0], "train_loss_epoch": [1.1, 0.75, 0.6], "val_loss": [1.3, 0.9, 0.95]}
    assert_png(plot_history(csv, tmp_path / "history.png", "mlp"))
    steps = read_history({"train_loss": [3.0, 1.0, 2.0], "epoch": [0, 0, 1]})       # averaged per epoch
    assert steps == {"epoch": [0.0, 1.0], "train_loss": [2.0, 2.0]}
    assert_png(plot_history({"train_loss": [0.5, -0.1], "val_loss": [0.4, None]}, tmp_path / "lin.png"))
    with pytest.raises(ValueError):
        plot_history({"accuracy": [0.5]}, tmp_path / "none.png")


# --------------------------------------------------------------------------------------- landscape
def test_landscape_writes_self_contained_html_and_sorted_markdown(tmp_path: Path, runs: list[dict]) -> None:
    out = landscape(runs, tmp_path / "cmp")
    assert set(out) == {"markdown", "html", "roc_overlay"}
    assert out["roc_overlay"].name == "roc_overlay.png"
    assert_png(out["roc_overlay"])
    page = out["html"].read_text()
    assert "data:image/png;base64," in page
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:|//)""", page)    # no external asset
    assert not re.search(r"<(link|script)\b|@import|url\(", page)
    assert page.count("<tr>") == 1 + len(runs)
    md = out["markdown"].read_text()
    rows = [line for line in md.splitlines() if re.match(r"\| \d+ \|", line)]
    assert [r.split(" | ")[1] for r in rows] == ["pnet-b", "cnn-c", "mlp-a"]         # by mean AUC
    aucs = [float(r.split(" | ")[7].strip("*").split(" ± ")[0]) for r in rows]
    assert aucs == sorted(aucs, reverse=True)
    assert rows[0].split(" | ")[7].startswith("**")                                 # best AUC bold
    assert rows[2].split(" | ")[-2].startswith("**")                                # fastest training: mlp
    assert "## Definitions" in md and "1/εB t @ εS=0.3" in md


def test_landscape_is_deterministic(tmp_path: Path, runs: list[dict]) -> None:
    first = landscape(runs, tmp_path / "a")
    second = landscape(list(reversed(runs)), tmp_path / "b")
    for key in ("markdown", "html", "roc_overlay"):
        assert first[key].read_bytes() == second[key].read_bytes(), key


def test_landscape_mixes_binary_missing_and_infinite(tmp_path: Path) -> None:
    labels = np.repeat([0, 1], 50)
    perfect = classification_metrics(np.eye(2)[labels] * 0.8 + 0.1, labels, ["g+q", "t"], n_bootstrap=5)
    runs = [fake_run("bin-a", 2.0, binary=True, seed=4),
            {"name": "perfect", "metrics": perfect},                                # no ROC, no timing
            fake_run("multi-b", 1.5, seed=5, train_time_s=None)]  # fmt: skip
    out = landscape(runs, tmp_path)
    md = out["markdown"].read_text()
    perfect_row = next(line for line in md.splitlines() if "| perfect |" in line)
    assert "**> 50**" in perfect_row and "—" in perfect_row                      # inf = best; dashes
    table = landscape_table(sort_runs(runs))
    assert [c.header for c in table.columns][9:14] == ["AUC g", "AUC q", "AUC w", "AUC z", "AUC t"]
    assert "data:image/png;base64," in out["html"].read_text()
    with pytest.raises(ValueError):
        landscape([], tmp_path / "empty")


def test_landscape_names_each_models_inductive_bias(tmp_path: Path, runs: list[dict]) -> None:
    from jetlab.report.bias import inductive_bias

    families = {"mlp": "mlp", "pnet": "gnn", "cnn": "cnn"}
    runs = [dict(r, family=families[r["model"]]) for r in runs]
    runs = [dict(r, bias=(b := inductive_bias(r["model"], r["family"]))[0], bias_note=b[1]) for r in runs]
    md = landscape(runs, tmp_path / "cmp")["markdown"].read_text()
    section = md.split("## Inductive bias")[1].split("## Definitions")[0]
    assert "**permutation, graph locality**" in section and "**translation, locality**" in section
    assert section.index("translation") < section.index("graph locality")  # from weak to strong physics bias
    assert "| permutation, graph locality |" in md
