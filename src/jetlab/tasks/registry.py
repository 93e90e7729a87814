"""The task registry: what ``jetlab train`` and ``jetlab evaluate`` do for each kind of run.

A task registers its data module, its Lightning module, its evaluation and whether it stops early::

    register_task(TaskSpec("classify", data_module=JetDataModule, lightning_module=classifier_module,
                           evaluate="jetlab.tasks.evaluate:evaluate"))

``evaluate`` may be a function or a ``"module:function"`` reference, imported when a run is evaluated
(so registering a task imports no evaluation or plotting code). Built-in tasks (classify, anomaly,
generate) are imported on first use; a task from outside the package calls :func:`register_task`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jetlab.errors import UsageError

__all__ = ["TaskSpec", "register_task", "get_task", "list_tasks"]

_BUILTIN = {"classify": "jetlab.tasks.classify", "anomaly": "jetlab.tasks.anomaly",
            "generate": "jetlab.tasks.generate", "track": "jetlab.tasks.track"}


@dataclass(frozen=True)
class TaskSpec:
    """One task. ``data_module(data_config, selection, representation, batch_size, builder, scheme=, seed=)``
    is a :class:`~jetlab.data.module.JetDataModule` (sub)class; ``lightning_module(cfg, dm)`` builds the
    module trained by Lightning; ``evaluate(run, data, out, **options) -> dict`` writes metrics.json."""

    name: str
    data_module: Any
    lightning_module: Callable[[Any, Any], Any]
    evaluate: Callable[..., dict[str, Any]] | str | None = None
    early_stopping: bool = True  # on val_loss; off where the loss does not measure quality (GANs)
    samples: bool = False  # runs of this task can draw new data (`jetlab sample`)
    scheme: Any = None  # the task's own label scheme, when its data are not read as labelled jets or showers
    #                     (tracking events: one class, "hit"); None = the dataset's
    description: str = ""

    def evaluator(self) -> Callable[..., dict[str, Any]]:
        if self.evaluate is None:
            raise UsageError(f"task {self.name!r} has no evaluation")
        if callable(self.evaluate):
            return self.evaluate
        module, _, func = self.evaluate.partition(":")
        return getattr(importlib.import_module(module), func)


_TASKS: dict[str, TaskSpec] = {}


def register_task(spec: TaskSpec) -> TaskSpec:
    if spec.name in _TASKS and _TASKS[spec.name] != spec:
        raise ValueError(f"task {spec.name!r} registered twice")
    _TASKS[spec.name] = spec
    return spec


def get_task(name: str) -> TaskSpec:
    if name not in _TASKS and name in _BUILTIN:
        importlib.import_module(_BUILTIN[name])
    if name not in _TASKS:
        raise UsageError(f"--task: unknown task {name!r} (known: {', '.join(list_tasks())})")
    return _TASKS[name]


def list_tasks() -> list[str]:
    return list(dict.fromkeys([*_BUILTIN, *_TASKS]))
