"""Predictors: what turns a batch dict into class probabilities, whatever runs the model.

``jetlab evaluate`` asks :func:`load_predictor` for the run's predictor and never needs to know
whether PyTorch, ONNX Runtime or a boosted-decision-tree library computes the scores::

    predictor = load_predictor(run, backend="torch")   # or "onnx"
    probs = predictor(batch)                            # (B, C) numpy float32, rows sum to 1

Backends register themselves in :data:`BACKENDS` (``name -> loader(run) -> Predictor``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from jetlab.errors import InputError, UsageError
from jetlab.models import count_parameters

__all__ = ["Predictor", "TorchPredictor", "OnnxPredictor", "load_predictor", "BACKENDS"]


class Predictor(Protocol):
    backend: str
    n_params: int
    hparams: dict[str, Any]  # the checkpoint's saved hyper-parameters (model, class_names, ...)

    def __call__(self, batch: dict[str, Any]) -> np.ndarray: ...


class TorchPredictor:
    """Eager PyTorch on CPU: softmax of the model's logits."""

    backend = "torch"

    def __init__(self, model: torch.nn.Module, hparams: dict[str, Any]) -> None:
        self.model, self.hparams = model.eval(), hparams
        self.n_params = count_parameters(model)

    @torch.no_grad()
    def __call__(self, batch: dict[str, Any]) -> np.ndarray:
        return torch.softmax(self.model(batch).float(), dim=1).numpy()  # (B, C)


class OnnxPredictor:
    """ONNX Runtime (CPU) on a run's exported model: ``batch dict -> probs (B, C)`` numpy float32.

    Example (after ``jetlab export RUN --onnx RUN/model.onnx``)::

        predictor = OnnxPredictor.from_run("runs/pfn")
        probs = predictor(batch)  # (B, C)
    """

    backend = "onnx"

    def __init__(self, onnx_path: str | Path, inputs: tuple[str, ...], hparams: dict[str, Any], n_params: int,
                 threads: int | None = None) -> None:
        from jetlab.deploy.graph import onnx_session

        self.session, self.inputs = onnx_session(onnx_path, threads), inputs
        self.hparams, self.n_params = hparams, n_params

    @classmethod
    def from_run(cls, run: str | Path, threads: int | None = None) -> OnnxPredictor:
        """The predictor of ``run``'s exported model, found through ``RUN/export.json``."""
        from jetlab.deploy.graph import EXPORT_RECORD

        run = Path(run)
        hint = f"run 'jetlab export {run} --onnx {run / 'model.onnx'}' first"
        if not (run / EXPORT_RECORD).is_file():
            raise UsageError(f"{run}: no exported ONNX model ({EXPORT_RECORD} missing); {hint}")
        record = json.loads((run / EXPORT_RECORD).read_text())
        onnx_file = run / record["onnx"]  # an absolute path stays absolute
        if not onnx_file.is_file():
            raise InputError(f"{onnx_file}: exported ONNX model missing; {hint}")
        own = load_predictor(run)  # the run in its own library: its hyper-parameters and parameter count
        return cls(onnx_file, tuple(record["inputs"]), own.hparams, own.n_params, threads)

    def __call__(self, batch: dict[str, Any]) -> np.ndarray:
        from jetlab.deploy.graph import feeds

        return self.session.run(["probs"], feeds(self.inputs, batch))[0]  # (B, C)


def _torch(run: Path) -> Predictor:
    from jetlab.tasks.runfiles import load_model

    model, hp = load_model(run)
    return TorchPredictor(model, hp)


def _onnx(run: Path) -> Predictor:
    return OnnxPredictor.from_run(run)


BACKENDS: dict[str, Callable[[Path], Predictor]] = {"torch": _torch, "onnx": _onnx}


def load_predictor(run: str | Path, backend: str = "torch") -> Predictor:
    """The predictor of ``run`` for ``backend`` (``torch`` | ``onnx``).

    Fitted models (``bdt``, ``efp_linear``, cuts: ``RUN/estimator.json``) run in their own library
    (LightGBM, numpy) with ``torch``, the default, and through their exported graph with ``onnx``.
    """
    if backend not in BACKENDS:
        raise UsageError(f"--backend: {backend!r} unknown (known: {', '.join(BACKENDS)})")
    run = Path(run)
    if (run / "estimator.json").is_file() and backend == "torch":
        from jetlab.tasks.estimator import EstimatorPredictor

        return EstimatorPredictor(run)
    return BACKENDS[backend](run)
