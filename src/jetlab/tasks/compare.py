"""Collect evaluated runs for the landscape report (``jetlab compare``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jetlab.errors import InputError
from jetlab.io.atomic import atomic_write_text
from jetlab.models import get_spec
from jetlab.report.bias import inductive_bias

__all__ = ["collect_runs", "metrics_path", "record_evaluation", "EVALUATIONS"]


EVALUATIONS = "evaluations.json"  # RUN/evaluations.json: where `jetlab evaluate RUN --out DIR` wrote metrics


def metrics_path(run: Path) -> Path:
    """The ``metrics.json`` of ``run``: in RUN itself, or where its latest ``evaluate --out`` put it
    (recorded in RUN/evaluations.json); ``run`` may also be an evaluation directory itself."""
    if (run / "metrics.json").is_file():
        return run / "metrics.json"
    try:
        latest = Path(json.loads((run / EVALUATIONS).read_text())["latest"])
    except (OSError, ValueError, KeyError, TypeError):
        latest = None
    if latest is not None and (latest / "metrics.json").is_file():
        return latest / "metrics.json"
    where = f" (its last evaluation, {latest}, is gone)" if latest is not None else ""
    raise InputError(f"{run}: no metrics.json{where}; run 'jetlab evaluate {run}' first")


def record_evaluation(run: Path, out: Path) -> None:
    """Note in RUN/evaluations.json that ``out`` holds the latest evaluation of ``run``."""
    if out.resolve() == run.resolve():
        return
    path = run / EVALUATIONS
    try:
        seen = json.loads(path.read_text()).get("all", [])
    except (OSError, ValueError, AttributeError):
        seen = []
    where = str(out.resolve())
    atomic_write_text(path, json.dumps({"latest": where, "all": [*[p for p in seen if p != where], where]}, indent=1))


def _representation(run: Path, default: str) -> str:
    """The representation the run used (its ``representation.json``), else the model's registered one."""
    try:
        return str(json.loads((run / "representation.json").read_text())["config"]["name"])
    except (OSError, ValueError, KeyError, TypeError):
        return default


def collect_runs(runs: Sequence[str | Path]) -> list[dict[str, Any]]:
    """One dict per run from its ``metrics.json`` (written by ``jetlab evaluate``) and registry entry."""
    out = []
    for run in map(Path, runs):
        path = metrics_path(run)
        try:
            res = json.loads(path.read_text())
        except ValueError:
            raise InputError(f"{path}: not valid JSON") from None
        spec = get_spec(res["model"])
        bias, why = inductive_bias(spec.name, spec.family)
        out.append({"name": run.name, "model": res["model"], "family": spec.family, "bias": bias, "bias_note": why,
                    "representation": _representation(run, spec.representation), "params": res.get("params"),
                    "train_time_s": res.get("train_time_s"), "inference_jets_per_s": res.get("inference_jets_per_s"),
                    "metrics": res["metrics"], "roc": res["roc"]})
    classes = {tuple(r["metrics"].get("class_names", [])) for r in out}
    if len(classes) > 1:
        raise InputError("runs use different class lists; compare runs of the same task")
    return out
