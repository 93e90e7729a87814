"""Run configuration: defaults <- the model's registry entry (its ``recipe``) <- the user's ``--config`` <- CLI flags.

A run's YAML has these sections::

    task: classify                             # a registered task (jetlab.tasks.registry)
    model: pfn
    scheme: {name: jetlab, classes: [g, q, w, z, t], descriptions: [...]}   # the dataset's label scheme
    hparams: {phi: [100, 100, 128]}            # passed to jetlab.models.create
    representation: {name: particles, max_particles: 64}
    data: {classes: "g,q,w,z,t", val_fraction: 0.2, test_fraction: 0.2, balance: weights, stream: memory}
    optim: {optimizer: adam, lr: 1.0e-3, scheduler: plateau}
    trainer: {epochs: 20, batch_size: 256, patience: 10, precision: 32-true, seed: 0}

Unknown keys are errors naming the key. Every run writes the resolved config to RUN/config.yaml: the
classes it used (all the dataset holds when none were asked for), the scheme they belong to, and whether
the data were held in memory or streamed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from jetlab.classes import JETLAB, ClassSelection, LabelScheme
from jetlab.data.batches import RepresentationConfig
from jetlab.data.module import DataConfig
from jetlab.errors import InputError, UsageError
from jetlab.models import get_spec
from jetlab.represent.registry import get_representation, standing_in
from jetlab.tasks.classify import LossConfig, OptimConfig
from jetlab.tasks.registry import get_task

__all__ = ["TrainerConfig", "RunConfig", "resolve_config", "load_yaml"]


@dataclass(frozen=True)
class TrainerConfig:
    epochs: int = 20
    batch_size: int = 256
    patience: int = 10  # early stopping on val_loss
    max_time: str | None = None  # "HH:MM:SS" or "DD:HH:MM:SS"
    max_cpu_seconds: float | None = None  # CPU time of this process (all its threads) per invocation
    precision: str = "32-true"  # e.g. 16-mixed, bf16-mixed
    accelerator: str = "auto"
    devices: int | str = "auto"
    strategy: str = "auto"  # ddp for multi-GPU / multi-node
    num_nodes: int = 1
    seed: int = 0
    gradient_clip: float | None = None
    progress: bool = True
    deterministic: bool = False

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.num_nodes < 1:
            raise UsageError("trainer: epochs, batch_size and num_nodes must be positive")
        if self.max_time is not None:
            object.__setattr__(self, "max_time", _duration(str(self.max_time)))
        if self.max_cpu_seconds is not None and not float(self.max_cpu_seconds) > 0:
            raise UsageError(f"trainer: max_cpu_seconds must be positive, got {self.max_cpu_seconds!r}")


def _duration(text: str) -> str:
    """'HH:MM:SS' or 'DD:HH:MM:SS' -> Lightning's 'DD:HH:MM:SS'."""
    parts = text.split(":")
    if len(parts) == 3:
        parts = ["00", *parts]
    if len(parts) != 4 or not all(p.isdigit() for p in parts) or int(parts[2]) > 59 or int(parts[3]) > 59:
        raise UsageError(f"--max-time: expected HH:MM:SS or DD:HH:MM:SS, got {text!r}")
    return ":".join(f"{int(p):02d}" for p in parts)


@dataclass(frozen=True)
class RunConfig:
    model: str
    hparams: dict[str, Any] = field(default_factory=dict)
    representation: RepresentationConfig = field(default_factory=lambda: RepresentationConfig("particles"))
    data: DataConfig = field(default_factory=lambda: DataConfig(path=""))
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    task: str = "classify"
    scheme: LabelScheme = JETLAB  # the label scheme of the training data

    @property
    def selection(self) -> ClassSelection | None:
        """The selected classes in the run's scheme; None until resolved from the data (``classes`` unset)."""
        return None if self.data.classes is None else self.scheme.selection(self.data.classes)

    def to_dict(self) -> dict[str, Any]:
        def plain(v: Any) -> Any:
            if isinstance(v, tuple):
                return [plain(x) for x in v]
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items()}
            return v

        return {"task": self.task, "model": self.model, "scheme": self.scheme.to_dict(), "hparams": plain(self.hparams),
                "representation": self.representation.to_dict(),
                **{k: plain(dataclasses.asdict(getattr(self, k))) for k in _SECTIONS if k != "representation"}}


_SECTIONS = {"representation": RepresentationConfig, "data": DataConfig, "optim": OptimConfig,
             "trainer": TrainerConfig, "loss": LossConfig}


def load_yaml(path: str | Path) -> dict[str, Any]:
    try:
        content = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: no such config file") from None
    except (OSError, yaml.YAMLError) as e:
        raise InputError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise InputError(f"{path}: a config must be a mapping of sections")
    return content


def _merge(base: dict[str, Any], update: dict[str, Any], where: str) -> dict[str, Any]:
    out = dict(base)
    for key, value in update.items():
        if key not in ("task", "model", "scheme", "hparams", *_SECTIONS):
            raise UsageError(f"{where}: config key {key!r} does not exist (sections: task, model, scheme, hparams, "
                             f"{', '.join(_SECTIONS)})")
        if key in ("model", "task", "scheme"):
            out[key] = value
        elif not isinstance(value, dict):
            raise UsageError(f"{where}: section {key!r} must be a mapping")
        else:
            free = key in ("hparams", "representation")  # checked by the model / the representation entry
            if not free:
                fields = {f.name for f in dataclasses.fields(_SECTIONS[key])}
                bad = sorted(set(value) - fields)
                if bad:
                    raise UsageError(f"{where}: config key '{key}.{bad[0]}' does not exist (known: {sorted(fields)})")
            out[key] = {**out.get(key, {}), **value}
    return out


def resolve_config(model: str | None, data_path: str, user: dict[str, Any] | None = None,
                   overrides: dict[str, Any] | None = None, user_name: str = "--config",
                   task: str = "classify", scheme: LabelScheme | None = None) -> RunConfig:
    """Merge the layers and validate them into a :class:`RunConfig` for ``task``.

    ``scheme``: the label scheme of the classes (a saved run's); None reads it from ``data_path``, so
    ``--classes`` is checked against the dataset's own names before anything is trained.
    """
    task_spec = get_task(task)  # an unknown task is a one-line error listing the known ones
    scheme = scheme or task_spec.scheme
    layers = _merge({}, user or {}, user_name)
    name = model or layers.get("model")
    if not name:
        raise UsageError("--model is required (or a 'model:' entry in --config)")
    spec = get_spec(name)
    name = spec.name  # a deprecated alias (e.g. 'diffusion') resolves to the model's current name
    if spec.task != task:
        from jetlab.models import list_models

        fits = ", ".join(s.name for s in list_models(task=task))
        raise UsageError(f"--model: {name!r} is a model for {spec.task!r}, not {task!r} (use one of: {fits})")
    merged = _merge({"model": name, "representation": {"name": spec.representation}}, spec.recipe,
                    f"the registry entry of {name!r}")
    merged = _merge(merged, {k: v for k, v in layers.items() if k != "model"}, user_name)
    merged = _merge(merged, overrides or {}, "command line")
    merged["model"] = name
    merged.pop("task", None)
    merged.pop("scheme", None)
    checked = scheme is not None or Path(data_path).exists()  # a missing dataset fails when it is opened
    if scheme is None and checked:
        from jetlab.io.source import open_source

        scheme = open_source(data_path).scheme
    named = any("name" in (layer.get("representation") or {}) for layer in (layers, overrides or {}))
    if not named and scheme is not None:  # e.g. showers for an image model: calo_image (Representation.default_for)
        merged["representation"] = {**merged.get("representation", {}),
                                    "name": standing_in(spec.representation, scheme.name)}
    rep = merged.get("representation", {})
    asked = rep.get("name", spec.representation)
    if asked != spec.representation and spec.representation not in get_representation(asked).serves:
        raise UsageError(f"model {name!r} reads the {spec.representation!r} representation, "
                         f"the config asks for {asked!r}")
    merged.setdefault("data", {})["path"] = str(data_path)
    rep = dict(merged.get("representation", {}))
    cfg = RunConfig(model=name, hparams=dict(merged.get("hparams", {})), task=task, scheme=scheme or JETLAB,
                    representation=RepresentationConfig(rep.pop("name", spec.representation), **rep),
                    **{k: cls(**merged.get(k, {})) for k, cls in _SECTIONS.items() if k != "representation"})
    if checked:
        cfg.selection  # validates the class selection in the dataset's names, before anything runs  # noqa: B018
    return cfg
