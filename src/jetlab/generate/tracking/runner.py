"""``jetlab tracks generate``: tracking events into a TrackML directory, in blocks, by workers, resumable.

The events ``0 .. N-1`` are cut into blocks of ``shard_size`` consecutive ids; a worker process takes a
block and simulates its missing events in one Sequencer run
(:func:`~jetlab.generate.tracking.simulation.simulate_events`), writing each event as soon as it is
made. An event depends on (settings, seed, event id) only, so the files do not depend on the number
of workers or on the block size, and a rerun writes the same bytes.

Files (flat, :mod:`~jetlab.generate.tracking.dataset`): each event's ``hits``, ``particles`` and, last,
``truth`` CSV, each written whole (temporary name, then rename): an event is complete when its three
files exist. ``manifest.json`` is written first with the settings (``"complete": false``), so that a
rerun into the directory with other settings is refused, and rewritten at the end with every event's
counts and checksums. ``detectors.csv`` describes the Generic detector's modules.

A rerun (after a kill, or with a larger ``--events``) skips the complete events.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from tqdm import tqdm

from jetlab.errors import UsageError
from jetlab.generate.outdir import prepare_out
from jetlab.generate.tracking.dataset import DETECTORS_FILE, MANIFEST, _read_manifest, write_detectors
from jetlab.generate.tracking.events import BeamSpot, EventConfig, event_seeds
from jetlab.generate.tracking.geometry import DETECTOR_NAME, DIGI_CONFIG, FIELD_T, module_table
from jetlab.io.atomic import atomic_write_text, remove_stale
from jetlab.io.format import sha256
from jetlab.io.trackml import event_path, list_events, write_event

__all__ = ["TracksConfig", "generate_tracks", "run"]

PARTS = ("hits", "particles", "truth")  # in writing order: truth last marks the event complete
GENERATOR = "jetlab tracks generate"


@dataclass(frozen=True)
class TracksConfig:
    """What ``jetlab tracks generate`` makes; :meth:`settings` fixes the content of every event."""

    out: Path
    events: int = 100
    pileup: float = 10.0
    hard: str = "ttbar"
    pt_min: float = 0.1  # GeV, generator particles
    eta_max: float = 4.0
    seed: int = 0
    workers: int = 1
    shard_size: int = 10  # events per block (work unit)
    progress: bool = True
    beam_spot: BeamSpot = field(default_factory=BeamSpot)

    def __post_init__(self) -> None:
        object.__setattr__(self, "out", Path(self.out))
        for ok, flag, msg in [(self.events > 0, "--events", "must be a positive integer"),
                              (self.workers > 0, "--workers", "must be a positive integer"),
                              (self.shard_size > 0, "--shard-size", "must be a positive integer"),
                              (0 <= self.seed < 2**31, "--seed", "must be in [0, 2^31)")]:
            if not ok:
                raise UsageError(f"{flag}: {msg}")
        self.event_config()  # --hard, --pileup, --pt-min checks

    def event_config(self) -> EventConfig:
        return EventConfig(pileup=self.pileup, hard=self.hard, pt_min=self.pt_min, eta_max=self.eta_max,
                           beam_spot=self.beam_spot)

    def settings(self) -> dict[str, Any]:
        """What the events' bytes depend on (not their number, the workers or the block size)."""
        ev = asdict(self.event_config())
        return {"seed": self.seed, **ev, "detector": DETECTOR_NAME, "field_T": FIELD_T,
                "digitization": {"file": DIGI_CONFIG.name, "sha256": sha256(DIGI_CONFIG)}}

    def blocks(self) -> list[range]:
        s = self.shard_size
        return [range(k, min(k + s, self.events)) for k in range(0, self.events, s)]


def _versions() -> dict[str, str]:
    out = {}
    for pkg in ("jetlab", "pyacts", "pythia8mc", "numpy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def _complete(out: Path, event_id: int) -> bool:
    return all(event_path(out, event_id, p).is_file() for p in PARTS)


def _prepare(cfg: TracksConfig) -> None:
    out = prepare_out(cfg.out)
    manifest = _read_manifest(out / MANIFEST)
    if manifest is None and list_events(out):
        raise UsageError(f"--out: {out} holds TrackML events without a {MANIFEST}; use a new directory")
    if manifest is not None and manifest.get("settings") != cfg.settings():
        raise UsageError(f"--out: {out} holds events made with other settings ({MANIFEST}); use a new directory")
    if manifest is None:
        atomic_write_text(out / MANIFEST, _json({"generator": GENERATOR, "complete": False,
                                                 "settings": cfg.settings()}))
    if not (out / DETECTORS_FILE).is_file():
        write_detectors(out / DETECTORS_FILE, module_table())


def _json(obj: Any) -> str:
    import json

    return json.dumps(obj, indent=1, sort_keys=True) + "\n"


# -- making events ---------------------------------------------------------------------------------------


def _runs(ids: list[int]) -> list[range]:
    """Consecutive runs of sorted ids: [1, 2, 3, 7] -> [range(1, 4), range(7, 8)]."""
    runs: list[range] = []
    for i in ids:
        if runs and runs[-1].stop == i:
            runs[-1] = range(runs[-1].start, i + 1)
        else:
            runs.append(range(i, i + 1))
    return runs


class _Writer:
    """Writes each simulated event, then reports the seconds since the previous one."""

    def __init__(self, out: Path, report: Callable[[float], None]) -> None:
        self.out, self.report, self.last = out, report, time.perf_counter()

    def __call__(self, event: dict[str, Any]) -> None:
        write_event(self.out, event["event_id"], event, parts=PARTS)
        now = time.perf_counter()
        self.report(now - self.last)
        self.last = now


def make_block(cfg: TracksConfig, ids: list[int], report: Callable[[float], None]) -> None:
    """Simulate and write the events ``ids`` (of one block); ``report(seconds)`` after each event."""
    from jetlab.generate.tracking.simulation import simulate_events

    for run_ in _runs(ids):
        simulate_events(n_events=len(run_), first_event=run_.start, pileup=cfg.pileup, hard=cfg.hard,
                        pt_min=cfg.pt_min, eta_max=cfg.eta_max, seed=cfg.seed, on_event=_Writer(cfg.out, report))


_PROGRESS: Any = None  # in a worker process: the queue to the main process, and its pid
_PARENT = 0


def _init_worker(progress: Any, parent: int) -> None:
    global _PROGRESS, _PARENT
    _PROGRESS, _PARENT = progress, parent


def _worker(cfg: TracksConfig, ids: list[int]) -> None:
    def report(seconds: float) -> None:
        if os.getppid() != _PARENT:  # the main process was killed: stop quietly, write nothing more
            os._exit(1)
        _PROGRESS.put(seconds)

    make_block(cfg, ids, report)


def _make(cfg: TracksConfig, todo: list[list[int]], total: int, done: int) -> list[float]:
    """Make the blocks ``todo``; seconds per event made (wall time in its process)."""
    seconds: list[float] = []
    bar = tqdm(total=total, initial=done, unit="event", desc="tracks", disable=not cfg.progress, dynamic_ncols=True)

    def update(s: float) -> None:
        seconds.append(s)
        bar.update(1)

    with bar:
        if cfg.workers == 1 or len(todo) <= 1:
            for ids in todo:
                make_block(cfg, ids, update)
            return seconds
        # fork: workers inherit ACTS's geometry (built for detectors.csv) and the imported libraries
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        progress = ctx.Queue()
        with ctx.Pool(min(cfg.workers, len(todo)), _init_worker, (progress, os.getpid())) as pool:
            pending = [pool.apply_async(_worker, (cfg, ids)) for ids in todo]
            while pending:
                try:
                    update(progress.get(timeout=0.2))
                except queue.Empty:
                    pass
                for r in [r for r in pending if r.ready()]:
                    r.get()  # re-raises a worker's error
                    pending.remove(r)
            while True:  # reports still queued when the last worker finished
                try:
                    update(progress.get(timeout=0.05))
                except queue.Empty:
                    break
    return seconds


def _manifest(cfg: TracksConfig) -> dict[str, Any]:
    from jetlab.generate.tracking.simulation import acts_seed

    events = []
    for i in range(cfg.events):
        files = {p: event_path(cfg.out, i, p) for p in PARTS}
        lines = {p: files[p].read_bytes().count(b"\n") - 1 for p in ("hits", "particles")}
        events.append({"event_id": i, "n_hits": lines["hits"], "n_particles": lines["particles"],
                       "seeds": event_seeds(cfg.seed, i), "sha256": {p: sha256(f) for p, f in files.items()}})
    return {
        "generator": GENERATOR, "complete": True, "layout": "trackml", "detector": DETECTOR_NAME,
        "detector_file": {"file": DETECTORS_FILE, "sha256": sha256(cfg.out / DETECTORS_FILE)},
        "settings": cfg.settings(), "versions": _versions(), "n_events": cfg.events,
        "seeds": {"sample": cfg.seed, "acts": acts_seed(cfg.seed),
                  "rule": "Pythia and vertex seeds of event i from numpy SeedSequence([seed, i]); Fatras and "
                          "digitisation from ACTS RandomNumbers(acts), split by event number"},
        "events": events,
    }


def run(cfg: TracksConfig) -> dict[str, Any]:
    """Make (or complete) the events of ``cfg``; returns a summary (counts, seconds per event, manifest)."""
    _prepare(cfg)
    todo = [m for b in cfg.blocks() if (m := [i for i in b if not _complete(cfg.out, i)])]
    n_todo = sum(len(m) for m in todo)
    start = time.perf_counter()
    try:
        seconds = _make(cfg, todo, cfg.events, cfg.events - n_todo)
    except BaseException:
        remove_stale(cfg.out)  # a worker stopped by the pool's shutdown may leave its *.tmp
        raise
    wall = time.perf_counter() - start
    manifest = atomic_write_text(cfg.out / MANIFEST, _json(_manifest(cfg)))
    return {"out": str(cfg.out), "events_made": n_todo, "events_skipped": cfg.events - n_todo,
            "seconds_per_event": sum(seconds) / len(seconds) if seconds else None, "wall_s": wall,
            "manifest": str(manifest)}


def generate_tracks(out: str | os.PathLike[str], events: int = 100, pileup: float = 10.0, hard: str = "ttbar",
                    pt_min: float = 0.1, seed: int = 0, workers: int = 1, shard_size: int = 10,
                    progress: bool = True) -> dict[str, Any]:
    """Tracking events ``0 .. events-1`` in the TrackML layout in ``out``; see the module docstring."""
    return run(TracksConfig(out=Path(out), events=events, pileup=pileup, hard=hard, pt_min=pt_min, seed=seed,
                            workers=workers, shard_size=shard_size, progress=progress))
