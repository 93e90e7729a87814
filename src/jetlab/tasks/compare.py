"""Collect evaluated runs for the landscape report (``jetlab compare``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jetlab.errors import InputError
from jetlab.models import get_spec
from jetlab.report.bias import inductive_bias

__all__ = ["collect_runs"]


def collect_runs(runs: list[str | Path]) -> list[dict[str, Any]]:
    """One dict per run from its ``metrics.json`` (written by ``jetlab evaluate``) and registry entry."""
    out = []
    for run in map(Path, runs):
        path = run / "metrics.json"
        if not path.is_file():
            raise InputError(f"{run}: no metrics.json; run 'jetlab evaluate {run}' first")
        try:
            res = json.loads(path.read_text())
        except ValueError:
            raise InputError(f"{path}: not valid JSON") from None
        spec = get_spec(res["model"])
        bias, why = inductive_bias(spec.name, spec.family)
        out.append({"name": run.name, "model": res["model"], "family": spec.family, "bias": bias, "bias_note": why,
                    "representation": spec.representation, "params": res.get("params"),
                    "train_time_s": res.get("train_time_s"), "inference_jets_per_s": res.get("inference_jets_per_s"),
                    "metrics": res["metrics"], "roc": res["roc"]})
    classes = {tuple(r["metrics"].get("class_names", [])) for r in out}
    if len(classes) > 1:
        raise InputError("runs use different class lists; compare runs of the same task")
    return out
