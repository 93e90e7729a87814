"""The model registry: every architecture by name, with its defaults as data.

Adding a model is a decorated builder of a few lines::

    @register_model("pfn", family="deepsets", representation="particles", symmetric=True,
                    paper="arXiv:1810.05165", phi=(100, 100, 128), f=(100, 100))
    def pfn(n_classes: int, dims: InputDims, **hp) -> nn.Module:
        return ParticleFlowNetwork(dims.particle_features, n_classes, **hp)

Every model maps a batch dict (see :mod:`jetlab.data.batches`) to logits ``(B, n_classes)``.

A renamed model keeps its old name for a while as an alias (``register_alias``): the old name resolves
to the new spec (so old runs load), prints a one-line note on stderr when first used, and is listed
under the model's ``aliases``, never as a second model.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import pkgutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from torch import nn

from jetlab.errors import UsageError
from jetlab.represent.dims import InputDims

__all__ = ["InputDims", "ModelSpec", "register_model", "register_alias", "create", "get_spec", "list_models",
           "count_parameters"]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str
    representation: str  # "hlf" | "image" | "particles" | "graph"
    builder: Callable[..., nn.Module]
    defaults: dict[str, Any] = field(default_factory=dict)
    symmetric: bool = False  # permutation-invariant over particles
    paper: str = ""
    task: str = "classify"
    engine: str = "torch"  # "torch": an nn.Module trained by Lightning; "fit": an Estimator fitted in one call
    params: int | None = None  # parameter count at the defaults and InputDims(), stated for builders whose
    #                            library takes seconds to import (PyG), so `jetlab models` need not import it;
    #                            tests/test_quiet.py checks it against a build
    aliases: tuple[str, ...] = ()  # deprecated old names that still resolve to this model
    recipe: dict[str, Any] = field(default_factory=dict)  # the rest of a good default run: representation
    #                                                        options, optim, trainer (config sections)

    @property
    def summary(self) -> str:
        doc = inspect.getdoc(self.builder) or ""
        return doc.splitlines()[0] if doc else ""


_REGISTRY: dict[str, ModelSpec] = {}
_ALIASES: dict[str, tuple[str, str]] = {}  # old name -> (current name, until when it works)
_NOTED: set[str] = set()


Builder = Callable[..., nn.Module]


def register_model(name: str, *, family: str, representation: str, symmetric: bool = False, paper: str = "",
                   task: str = "classify", engine: str = "torch", params: int | None = None,
                   recipe: dict[str, Any] | None = None, **defaults: Any) -> Callable[[Builder], Builder]:
    """Register ``builder(n_classes, dims, **hparams) -> nn.Module`` (or an Estimator, ``engine="fit"``).

    ``defaults`` are the hyper-parameters (the one place they are set); ``recipe`` the config sections of a
    good default run (``{"representation": {...}, "optim": {...}, "trainer": {...}}``).
    """

    def wrap(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} registered twice")
        _REGISTRY[name] = ModelSpec(name, family, representation, builder, dict(defaults), symmetric, paper, task,
                                    engine, params=params, recipe=dict(recipe or {}))
        return builder

    return wrap


def register_alias(old: str, new: str, until: str) -> None:
    """Let ``old`` resolve to the registered model ``new`` (deprecated, works ``until``), with a note when used."""
    if old in _REGISTRY or old in _ALIASES:
        raise ValueError(f"model name {old!r} already taken")
    _ALIASES[old] = (new, until)
    _REGISTRY[new] = replace(_REGISTRY[new], aliases=(*_REGISTRY[new].aliases, old))


def _resolve(name: str) -> str:
    """The current name of ``name``: itself, or the model an alias points to (noting the rename once)."""
    if name not in _ALIASES:
        return name
    new, until = _ALIASES[name]
    if name not in _NOTED:
        _NOTED.add(name)
        print(f"jetlab: note: model {name!r} is now called {new!r}; the old name works until {until}",
              file=sys.stderr)
    return new


TASK_PACKAGES = ("classify", "anomaly", "generate", "track")  # models/<task>/: one module per family, discovered
_loaded = False


def _load_all() -> None:
    """Import every module of the task packages under ``jetlab/models`` once (each registers its models)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    root = Path(__file__).parent
    for package in TASK_PACKAGES:
        for info in sorted(pkgutil.iter_modules([str(root / package)]), key=lambda m: m.name):
            if not info.name.startswith("_"):
                importlib.import_module(f"jetlab.models.{package}.{info.name}")


def get_spec(name: str) -> ModelSpec:
    _load_all()
    name = _resolve(name)
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else " (see 'jetlab models')"
        raise UsageError(f"--model: unknown model {name!r}{hint}")
    return _REGISTRY[name]


def list_models(task: str | None = None, engine: str | None = None) -> list[ModelSpec]:
    """Registered models, optionally only those of one ``task`` and one ``engine`` (``torch`` | ``fit``)."""
    _load_all()
    return [s for s in _REGISTRY.values()
            if (task is None or s.task == task) and (engine is None or s.engine == engine)]


def create(name: str, n_classes: int = 5, dims: InputDims | None = None, **hparams: Any) -> nn.Module:
    """Build model ``name`` with its registered defaults updated by ``hparams``.

    Unknown hyper-parameter names raise :class:`UsageError` naming the key and the known ones.
    """
    spec = get_spec(name)
    name = spec.name
    unknown = sorted(set(hparams) - set(spec.defaults))
    if unknown:
        raise UsageError(f"model {name!r}: unknown hyper-parameter(s) {unknown} (known: {sorted(spec.defaults)})")
    if n_classes < 2:
        raise UsageError(f"model {name!r}: needs at least 2 classes, got {n_classes}")
    return spec.builder(n_classes, dims or InputDims(), **(spec.defaults | hparams))


def with_defaults(spec: ModelSpec, **defaults: Any) -> ModelSpec:
    return replace(spec, defaults=spec.defaults | defaults)


def count_parameters(module: Any) -> int:
    """Trainable parameters of an nn.Module; an Estimator reports its own ``n_params`` (leaves, weights)."""
    if not isinstance(module, nn.Module):
        return int(module.n_params)
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
