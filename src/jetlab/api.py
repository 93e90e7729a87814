"""The Python API behind each CLI command (the CLI only parses, calls these, and prints).

Usage::

    import jetlab.api as jl
    jl.generate("data", jets_per_class=200, seed=7, workers=2)
    jets = jl.open("data")
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from jetlab.io import open_jets as open  # noqa: A004 - jetlab.api.open(path)

__all__ = ["open", "generate", "merge", "info", "plot", "convert", "train", "evaluate", "quickstart"]

PathLike = str | os.PathLike[str]


def generate(out: PathLike, **settings: Any) -> dict[str, Any]:
    """Generate a labelled jet dataset into ``out``; keywords are :class:`GenerateConfig` fields."""
    from jetlab.generate.config import GenerateConfig
    from jetlab.generate.runner import generate as _generate

    return _generate(GenerateConfig(out=Path(out), **settings))


def merge(sources: list[PathLike], out: PathLike | None = None) -> Path:
    """Join ``--shard i/N`` slices into one dataset (or rebuild a manifest in place)."""
    from jetlab.generate.runner import merge as _merge

    return _merge(sources, out)


def train(model: str, data: PathLike, out: PathLike, *, task: str = "classify", classes: str | None = None,
          config: dict[str, Any] | None = None, resume: bool = False, **sections: Any) -> dict[str, Any]:
    """Train registered ``model`` for registered ``task`` on ``data`` into run directory ``out``.

    ``classes`` in the dataset's names (None: every class it holds); ``config`` a run config as from
    ``--config`` YAML; ``sections`` override config sections, e.g. ``trainer={"epochs": 3}``.
    """
    from jetlab.tasks.config import resolve_config
    from jetlab.tasks.train import train as _train

    overrides = {k: dict(v) for k, v in sections.items()}
    if classes is not None:
        overrides.setdefault("data", {})["classes"] = classes
    return _train(resolve_config(model, str(data), config, overrides, task=task), out, resume=resume)


def evaluate(run: PathLike, data: PathLike | None = None, out: PathLike | None = None, **options: Any
             ) -> dict[str, Any]:
    """Evaluate ``run`` with its task's evaluation (classify: metrics.json, predictions, ROC)."""
    from jetlab.tasks.registry import get_task
    from jetlab.tasks.runfiles import load_run

    return get_task(load_run(run).task).evaluator()(run, data, out, **options)


def info(path: PathLike) -> dict[str, Any]:
    """Summary of any supported dataset: format, jets per class, features, ranges."""
    from jetlab.io import Showers, open_data
    from jetlab.report.summary import summarize

    data = open_data(path)
    if isinstance(data, Showers):
        from jetlab.report.shower_summary import summarize_showers

        return summarize_showers(data)
    return summarize(data)


def plot(path: PathLike, out: PathLike) -> list[Path]:
    """HLF distributions, average jet images, multiplicity and groomed mass per class (PNGs)."""
    from jetlab.errors import UsageError
    from jetlab.report.plots import plot_dataset

    if Path(out).exists() and not Path(out).is_dir():
        raise UsageError(f"--out: {out} exists and is not a directory")
    from jetlab.io import Showers, open_data

    data = open_data(path)
    if isinstance(data, Showers):
        from jetlab.report.shower_summary import plot_shower_dataset

        return plot_shower_dataset(data, Path(out))
    return plot_dataset(data, Path(out))


def convert(path: PathLike, out: PathLike, to: str = "hls4ml", n_particles: int = 100) -> list[Path]:
    """Write a dataset in a foreign layout (for now ``hls4ml``, so the course notebooks run on it)."""
    from jetlab.errors import UsageError

    if to != "hls4ml":
        raise UsageError(f"--to: unknown target {to!r} (known: hls4ml)")
    from jetlab.export.hls4ml import to_hls4ml

    return to_hls4ml(open(path), Path(out), n_particles=n_particles)


QUICKSTART_MODELS = ("bdt", "mlp", "pfn", "particlenet_lite")


def quickstart(out: PathLike = "quickstart", jets_per_class: int = 1000, workers: int | None = None,
               seed: int = 0, models: tuple[str, ...] = QUICKSTART_MODELS, epochs: int = 30,
               max_time: str = "00:04:00") -> dict[str, Any]:
    """The default demo: generate a small dataset, plot it, fit a BDT and train three network families, compare.

    About 10 minutes on 2 CPU cores: ~1.5 min generation, then each model trains for at most
    ``epochs`` epochs or ``max_time``, is evaluated on the test split, and the landscape report
    (``report/landscape.html``) puts them side by side.
    """
    from jetlab.report.compare import landscape
    from jetlab.tasks.compare import collect_runs
    from jetlab.tasks.config import resolve_config
    from jetlab.tasks.evaluate import evaluate
    from jetlab.tasks.train import train

    out = Path(out)
    workers = workers or max(1, min(os.cpu_count() or 1, 8))
    data = out / "data"
    summary = generate(data, jets_per_class=jets_per_class, seed=seed, workers=workers,
                       shard_size=max(25, jets_per_class // 4))
    plots = plot(data, out / "plots")
    runs = []
    for name in models:
        run = out / "runs" / name
        if not (run / "metrics.json").is_file():
            if (run / "config.yaml").is_file():  # an interrupted earlier quickstart: start this model afresh
                import shutil

                shutil.rmtree(run)
            from jetlab.models import get_spec

            fitted = get_spec(name).engine == "fit"
            print(f"--- fitting {name}" if fitted else f"--- training {name} (at most {epochs} epochs or {max_time})",
                  flush=True)
            cfg = resolve_config(name, str(data), overrides={"trainer": {"epochs": epochs, "max_time": max_time,
                                                                         "seed": seed}})
            train(cfg, run)
            evaluate(run)
        runs.append(run)
    report = landscape(collect_runs(runs), out / "report")
    return {"dataset": str(data), "generate": summary, "plots": [str(p) for p in plots],
            "runs": [str(r) for r in runs], "report": {k: str(v) for k, v in report.items()}}
