"""The representation registry: how jets become model inputs, one registered entry per representation.

A :class:`Representation` declares its options (the keys of a run's ``representation:`` section, with
defaults), what it learns from training jets (``fit`` -> a JSON-able state saved in
``RUN/representation.json``), the per-jet tensors it builds (``columns``; first axis = jet), the input sizes
it gives models (``dims``) and the batch keys an exported ONNX graph takes (``onnx_inputs``). Adding one —
voxels of a calorimeter, hits of a tracker — is one file that subclasses it and calls
:func:`register_representation`::

    class Voxels(Representation):
        name, options, onnx_inputs = "voxels", {"log_energy": True}, ("x",)
        def columns(self, config, state, data):
            return {"x": torch.from_numpy(data.voxels)}
    register_representation(Voxels())

Every value of ``columns`` must depend on its own row only, so rows of cached columns are batches too.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from torch import Tensor

from jetlab.errors import UsageError

__all__ = ["Representation", "RepresentationConfig", "register_representation", "get_representation",
           "list_representations", "standing_in"]


class Representation:
    """Base of every representation; override :meth:`columns` and, where needed, the other hooks."""

    name: str = ""
    options: Mapping[str, Any] = {}
    particles: bool = False  # reads particle slots: data modules keep only ``max_particles`` of them
    onnx_inputs: tuple[str, ...] = ("x",)
    serves: tuple[str, ...] = ()  # representations whose batch keys this one also provides (a model registered
    #                               for one of them may be run on this one, e.g. detector maps for image models)
    default_for: tuple[str, ...] = ()  # label schemes of data for which it replaces what it serves when a run
    #                                    names no representation (showers, scheme "particles": calo_image for image
    #                                    models), so `jetlab train --model resnet --data SHOWERS` needs no config

    def check(self, config: RepresentationConfig) -> None:
        """Raise :class:`UsageError` for option values this representation cannot use."""

    def fit(self, config: RepresentationConfig, data: Any) -> dict[str, Any]:
        """What it learns from the training jets (e.g. a standardization); JSON-able."""
        return {}

    def columns(self, config: RepresentationConfig, state: Mapping[str, Any], data: Any) -> dict[str, Tensor]:
        raise NotImplementedError

    def assemble(self, config: RepresentationConfig, batch: dict[str, Any]) -> dict[str, Any]:
        """The batch from rows of :meth:`columns` (e.g. a graph built from stored neighbour slots)."""
        return batch

    def dims(self, config: RepresentationConfig, state: Mapping[str, Any]) -> dict[str, Any]:
        """Fields of :class:`~jetlab.represent.dims.InputDims` this representation sets."""
        return {}


_REGISTRY: dict[str, Representation] = {}


def register_representation(rep: Representation) -> Representation:
    if not rep.name:
        raise ValueError("a representation needs a name")
    if rep.name in _REGISTRY and type(_REGISTRY[rep.name]) is not type(rep):
        raise ValueError(f"representation {rep.name!r} registered twice")
    _REGISTRY[rep.name] = rep
    return rep


def _load_builtin() -> None:
    import jetlab.represent  # noqa: F401 - its modules register the built-in representations


def get_representation(name: str) -> Representation:
    _load_builtin()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=2)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UsageError(f"representation {name!r} unknown (known: {', '.join(_REGISTRY)}){hint}")
    return _REGISTRY[name]


def standing_in(model_representation: str, scheme: str) -> str:
    """The representation a model registered for ``model_representation`` reads on data of label scheme
    ``scheme`` when the run names none: one whose ``default_for`` holds the scheme and that serves it, else its own."""
    _load_builtin()
    return next((r.name for r in _REGISTRY.values()
                 if scheme in r.default_for and model_representation in r.serves), model_representation)


def list_representations() -> list[str]:
    _load_builtin()
    return list(_REGISTRY)


class RepresentationConfig:
    """A run's representation: its ``name`` and options (``config.image_bins``), defaults from the entry.

    Keys known only to other representations are accepted and dropped (older runs saved every key);
    keys no representation knows are a :class:`UsageError` naming them.

    Example:
        >>> RepresentationConfig("image", image_bins=20).image_bins
        20
    """

    __slots__ = ("name", "_options")

    def __init__(self, name: str = "particles", **options: Any) -> None:
        rep = get_representation(name)
        known = {k for r in _REGISTRY.values() for k in r.options}
        unknown = sorted(set(options) - known)
        if unknown:
            raise UsageError(f"representation: unknown option(s) {unknown} (known for {name!r}: "
                             f"{sorted(rep.options)})")
        values = {k: _frozen(options.get(k, v)) for k, v in rep.options.items()}
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "_options", values)
        rep.check(self)

    def __getattr__(self, key: str) -> Any:
        options = object.__getattribute__(self, "_options")
        if key in options:
            return options[key]
        raise AttributeError(f"representation {object.__getattribute__(self, 'name')!r} has no option {key!r}")

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError("RepresentationConfig is immutable")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RepresentationConfig) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(repr(self))

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self._options.items())
        return f"RepresentationConfig({self.name!r}{', ' if opts else ''}{opts})"

    def __reduce__(self) -> tuple[Any, ...]:  # picklable for loader worker processes
        return (_rebuild, (self.name, dict(self._options)))

    @property
    def options(self) -> dict[str, Any]:
        return dict(self._options)

    def replace(self, **changes: Any) -> RepresentationConfig:
        """A copy with ``changes`` (keys of other representations are dropped, as in the constructor)."""
        return RepresentationConfig(self.name, **{**self._options, **changes})

    def get(self, key: str, default: Any = None) -> Any:
        return self._options.get(key, default)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **{k: list(v) if isinstance(v, tuple) else v for k, v in self._options.items()}}


def _rebuild(name: str, options: dict[str, Any]) -> RepresentationConfig:
    return RepresentationConfig(name, **options)


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
