"""Predictors: what turns a batch dict into class probabilities, whatever runs the model.

``jetlab evaluate`` asks :func:`load_predictor` for the run's predictor and never needs to know
whether PyTorch, ONNX Runtime or a boosted-decision-tree library computes the scores::

    predictor = load_predictor(run, backend="torch")   # or "onnx"
    probs = predictor(batch)                            # (B, C) numpy float32, rows sum to 1

Backends register themselves in :data:`BACKENDS` (``name -> loader(run) -> Predictor``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from jetlab.errors import UsageError
from jetlab.models import count_parameters

__all__ = ["Predictor", "TorchPredictor", "load_predictor", "BACKENDS"]


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


def _torch(run: Path) -> Predictor:
    from jetlab.tasks.evaluate import load_model

    model, hp = load_model(run)
    return TorchPredictor(model, hp)


def _onnx(run: Path) -> Predictor:
    from jetlab.export import OnnxPredictor

    return OnnxPredictor.from_run(run)


BACKENDS: dict[str, Callable[[Path], Predictor]] = {"torch": _torch, "onnx": _onnx}


def load_predictor(run: str | Path, backend: str = "torch") -> Predictor:
    """The predictor of ``run`` for ``backend`` (``torch`` | ``onnx``).

    Fitted models (``bdt``, ``efp_linear``, cuts: ``RUN/estimator.json``) always run in their own
    library (LightGBM, numpy); ``backend`` chooses how the PyTorch models run.
    """
    if backend not in BACKENDS:
        raise UsageError(f"--backend: {backend!r} unknown (known: {', '.join(BACKENDS)})")
    run = Path(run)
    if (run / "estimator.json").is_file():
        if backend != "torch":
            raise UsageError(f"--backend {backend}: {run} holds a fitted (non-PyTorch) model; evaluate it without "
                             "--backend")
        from jetlab.tasks.estimator import EstimatorPredictor

        return EstimatorPredictor(run)
    return BACKENDS[backend](run)
