"""``jetlab export``: a trained run as an ONNX graph, checked against ONNX Runtime; ``jetlab convert``.

:func:`export_run` reads a run (its best checkpoint or fitted model, its representation and 64 test
jets), builds the graph with :mod:`jetlab.deploy`, requires ONNX Runtime to agree with the run's own
library to :data:`~jetlab.deploy.graph.TOLERANCE`, writes FILE atomically and records it in
``RUN/export.json``. :mod:`jetlab.export.hls4ml` writes datasets in the hls4ml layout.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from jetlab.deploy.graph import (
    EXPORT_RECORD,
    Exportable,
    _operator,
    export_model,
    feeds,
    max_abs_diff,
    onnx_session,
    require_agreement,
)
from jetlab.io.atomic import atomic_write, atomic_write_text

__all__ = ["export_run", "export_model", "onnx_session", "feeds", "Exportable", "EXPORT_RECORD", "_operator"]


def _check_batch(run: Path, n: int = 64) -> tuple[dict[str, Any], Any]:
    """``n`` test jets of the run's data as the run's batch dict, and the run's config."""
    from jetlab.data.module import DataConfig, JetDataModule
    from jetlab.tasks.runfiles import load_builder, load_run

    cfg = load_run(run)
    data = DataConfig(**{**cfg.data.__dict__, "max_jets": n})
    dm = JetDataModule(data, cfg.selection, cfg.representation, builder=load_builder(run / "representation.json"),
                       batch_size=n)
    dm.setup()
    return next(iter(dm.test_dataloader())), cfg


def export_run(run: str | Path, onnx_path: str | Path, opset: int | None = None) -> dict[str, Any]:
    """Export the best checkpoint (or the fitted model) of ``run`` to ``onnx_path``, checked on 64 test jets;
    record it in RUN/export.json.

    Returns the record: ``onnx`` (path), ``model``, ``inputs``, ``class_names``, ``representation``,
    ``exporter``, ``reference`` (torch, lightgbm or numpy), ``max_abs_diff`` and ``n_checked``.
    """
    from jetlab.tasks.runfiles import load_model

    run = Path(run)
    batch, cfg = _check_batch(run)
    rep = cfg.representation
    if (run / "estimator.json").is_file():
        res, hp = _export_fitted(run, batch, Path(onnx_path))
    else:
        model, hp = load_model(run)
        res = export_model(model, batch, onnx_path, name=hp["model"], graph_k=rep.get("k", 16), opset=opset)
    onnx_file = Path(onnx_path).resolve()
    where = onnx_file.relative_to(run.resolve()) if onnx_file.is_relative_to(run.resolve()) else onnx_file
    record = {**res, "onnx": str(where), "model": hp["model"], "class_names": list(hp.get("class_names", [])),
              "representation": rep.name, "mask": "bool, True = real particle", "output": "probs (B, C) softmax",
              "torch": torch.__version__}
    atomic_write_text(run / EXPORT_RECORD, json.dumps(record, indent=1))
    return {**record, "onnx": str(onnx_path)}


def _export_fitted(run: Path, batch: dict[str, Any], path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """A fitted run's model (bdt, efp_linear, a cut) as ONNX at ``path``, checked against its own library on
    ``batch``; written only if they agree to :data:`TOLERANCE`."""
    from jetlab.deploy.estimators import estimator_to_onnx
    from jetlab.tasks.estimator import EstimatorPredictor

    fitted = EstimatorPredictor(run)
    name, x = fitted.hparams["model"], batch["x"]
    data = estimator_to_onnx(fitted.model, x.shape[1], x.numpy().dtype)
    diff = max_abs_diff(onnx_session(data).run(["probs"], feeds(("x",), batch))[0], fitted(batch))  # of (B, C)
    trees = fitted.backend == "lightgbm"
    reference = "lightgbm" if trees else "numpy"
    require_agreement(diff, name, reference, len(x), path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, data)
    return {"inputs": ["x"], "exporter": "onnxmltools" if trees else "onnx.helper", "reference": reference,
            "max_abs_diff": diff, "n_checked": len(x)}, fitted.hparams
