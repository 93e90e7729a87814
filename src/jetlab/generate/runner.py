"""``jetlab generate`` and ``jetlab merge``: workers, progress, resume, manifest.

Each shard is written whole or not at all (:mod:`jetlab.io.atomic`); workers of a killed run
stop at their next batch of events. A rerun with the same arguments finds its whole shards and
skips them; a rerun into a directory made with other physics settings is refused. With
``--shard i/N`` only shards whose plan position p has p % N == i are made, so N nodes of a
batch array fill one directory (or N directories that ``jetlab merge`` joins).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from tqdm import tqdm

from jetlab.classes import JETLAB
from jetlab.errors import InputError, JetlabError, UsageError
from jetlab.generate.config import GenerateConfig, ShardTask, plan_shards
from jetlab.generate.outdir import prepare_out
from jetlab.generate.shards import make_shard, shard_meta
from jetlab.io.atomic import atomic_write, remove_stale
from jetlab.io.format import SCHEMA_VERSION, sha256, shard_info, write_manifest

__all__ = ["generate", "merge", "build_manifest"]


def _versions() -> dict[str, str]:
    out = {}
    for pkg in ("jetlab", "pythia8mc", "fastjet", "numpy", "awkward", "h5py"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def _prepare_out(cfg: GenerateConfig) -> None:
    out = prepare_out(cfg.out)
    for f in sorted(out.glob("*.h5")):
        settings = shard_info(f).get("settings")
        if settings != cfg.physics():
            raise UsageError(f"--out: {out} holds jets made with other settings ({f.name}); use a new directory")


def _is_whole(cfg: GenerateConfig, task: ShardTask) -> bool:
    path = Path(cfg.out) / task.filename
    if not path.is_file():
        return False
    try:
        info = shard_info(path)
    except InputError:
        path.unlink()  # unreadable: regenerate
        return False
    return info.get("n_jets") == task.n_jets and info.get("pythia_seed") == task.pythia_seed


_PROGRESS: Any = None  # in a worker process: the queue to the main process, and its pid
_PARENT = 0


def _init_worker(progress: Any, parent: int) -> None:
    global _PROGRESS, _PARENT
    _PROGRESS, _PARENT = progress, parent


def _orphaned() -> None:
    if os.getppid() != _PARENT:  # the main process was killed (kill -9): stop quietly, write nothing more
        os._exit(1)


def _worker(cfg: GenerateConfig, task: ShardTask) -> str:
    def report(jets: int, events: int) -> None:
        _orphaned()
        _PROGRESS.put((jets, events))

    path = str(make_shard(cfg, task, report))
    _orphaned()
    return path


def _run(cfg: GenerateConfig, todo: list[ShardTask], total: int, done: int) -> None:
    bar = tqdm(total=total, initial=done, unit="jet", desc="generate", disable=not cfg.progress, smoothing=0.05,
               dynamic_ncols=True)
    events = [0]

    def update(jets: int, ev: int) -> None:
        events[0] += ev
        bar.update(jets)
        bar.set_postfix(events=events[0], refresh=False)

    with bar:
        if not todo:
            return
        if cfg.workers == 1 or len(todo) == 1:
            for task in todo:
                make_shard(cfg, task, update)
            return
        # fork: workers inherit the imported libraries (pythia8mc, fastjet, numba kernels) at no cost.
        # No Manager process: it would outlive a killed main process.
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        progress = ctx.Queue()
        with ctx.Pool(min(cfg.workers, len(todo)), _init_worker, (progress, os.getpid())) as pool:
            pending = [pool.apply_async(_worker, (cfg, t)) for t in todo]
            while pending:
                try:
                    update(*progress.get(timeout=0.2))
                except queue.Empty:
                    pass
                for r in [r for r in pending if r.ready()]:
                    r.get()  # re-raises a worker's error
                    pending.remove(r)


def generate(cfg: GenerateConfig) -> dict[str, Any]:
    """Make (or complete) the dataset of ``cfg``; returns a summary with the manifest when whole."""
    _prepare_out(cfg)
    plan = plan_shards(cfg)
    mine = [t for p, t in enumerate(plan) if p % cfg.slice[1] == cfg.slice[0]]
    todo = [t for t in mine if not _is_whole(cfg, t)]
    total = sum(t.n_jets for t in mine)
    try:
        _run(cfg, todo, total, total - sum(t.n_jets for t in todo))
    except BaseException:
        remove_stale(cfg.out)  # a worker stopped by the pool's shutdown may leave its *.tmp
        raise
    missing = [t.filename for t in plan if not (Path(cfg.out) / t.filename).is_file()]
    summary = {"out": str(cfg.out), "shards_made": len(todo), "shards_skipped": len(mine) - len(todo),
               "missing": len(missing)}
    if not missing:
        summary["manifest"] = str(build_manifest(cfg.out, cfg, plan))
    return summary


def build_manifest(out: str | os.PathLike[str], cfg: GenerateConfig, plan: Sequence[ShardTask]) -> Path:
    """Write ``manifest.json`` listing every shard of ``plan`` with its count and checksum."""
    shards = []
    for t in plan:
        path = Path(out) / t.filename
        shards.append({"file": t.filename, "class": t.cls, "index": t.index, "n_jets": t.n_jets,
                       "sha256": sha256(path)})
    manifest = {
        "format": "jetlab",
        "schema": SCHEMA_VERSION,
        "classes": list(cfg.classes),
        "scheme": JETLAB.to_dict(),
        "jets_per_class": cfg.jets_per_class,
        "settings": cfg.physics(),
        "versions": _versions(),
        "n_jets": sum(s["n_jets"] for s in shards),
        "shards": shards,
    }
    return write_manifest(out, manifest)


def merge(sources: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str] | None = None) -> Path:
    """Join the shards of one plan, spread over ``sources`` (``--shard`` slices), into ``out``.

    With one source and no ``out`` the manifest is rebuilt in place. Fails, naming what is
    missing, unless every shard of the plan is present with the same settings.
    """
    srcs = [Path(s) for s in sources]
    for s in srcs:
        if not s.is_dir():
            raise InputError(f"{s}: not a directory")
    dest = Path(out) if out is not None else srcs[0]
    files = {f.name: f for s in srcs for f in sorted(s.glob("*.h5"))}
    if not files:
        raise InputError(f"{', '.join(map(str, srcs))}: no jetlab shards found")
    infos = {name: shard_info(f) for name, f in files.items()}
    settings = {str(i["settings"]) for i in infos.values()}
    if len(settings) != 1:
        raise InputError("shards were made with different settings; they cannot be merged")
    first = next(iter(infos.values()))
    plans = {str(i.get("plan")) for i in infos.values()}
    if len(plans) != 1 or "plan" not in first:
        raise InputError("shards belong to different generation plans; they cannot be merged")
    s = first["settings"]
    cfg = GenerateConfig(out=dest, classes=tuple(first["plan"]["classes"]),
                         jets_per_class=first["plan"]["jets_per_class"], seed=s["seed"],
                         max_particles=s["max_particles"], pt_range=tuple(s["pt_range"]),
                         pthat_range=tuple(s["pthat_range"]), eta_max=s["eta_max"], radius=s["radius"],
                         sqrt_s=s["sqrt_s"], detector=s["detector"], shard_size=s["shard_size"],
                         min_particle_pt=s.get("min_particle_pt", 0.0),
                         batch_events=s["batch_events"])
    plan = plan_shards(cfg)
    missing = [t.filename for t in plan if t.filename not in files]
    if missing:
        raise InputError(f"{len(missing)} shard(s) missing, e.g. {missing[0]}: wait for all --shard slices")
    dest.mkdir(parents=True, exist_ok=True)
    for t in plan:
        src = files[t.filename]
        if src.parent.resolve() != dest.resolve():
            atomic_write(dest / t.filename, src.read_bytes())
        if shard_meta(cfg, t)["pythia_seed"] != infos[t.filename]["pythia_seed"]:
            raise JetlabError(f"{src}: shard does not belong to this plan")
    return build_manifest(dest, cfg, plan)
