"""``jetlab dqm generate``: lumisection maps with injected faults, in shards with a manifest (``format: dqm``).

The reference (mean and standard deviation per channel) is made first, from ``n_reference`` good lumisections of
the seed ``SeedSequence([seed, "reference"])``, and stored in every shard. Shard ``i`` draws its maps from
``SeedSequence([seed, i])``: a map is faulty with probability ``fault_fraction``, its kind uniform among
``dead, hot, noisy, gain, shift``, its strength uniform among ``strengths``, its place uniform among the active
channels (:mod:`jetlab.generate.dqm.faults`). Shards depend on (settings, i) only, not on the number of workers;
a rerun with the same settings skips whole shards; a directory of other settings is refused; the manifest is
written last. One map is one vectorized call (:mod:`jetlab.generate.dqm.maps`); shards loop over their maps.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from tqdm import tqdm

from jetlab.errors import UsageError
from jetlab.generate.dqm.faults import Fault, draw_fault, no_fault
from jetlab.generate.dqm.maps import (
    CALO_SHAPE,
    TRACKER_SHAPE,
    active_channels,
    calorimeter_map,
    shower_library,
    tracker_map,
    tracker_occupancy,
)
from jetlab.generate.outdir import prepare_out
from jetlab.io.atomic import remove_stale
from jetlab.io.format import MANIFEST, sha256, write_manifest
from jetlab.io.maps import DETECTORS, DQM_SCHEME, FAULT_KINDS, Maps
from jetlab.io.readers.dqm import write_dqm

__all__ = ["DQMConfig", "generate_dqm", "make_reference", "make_maps"]

DEFAULT_EVENTS = {"calorimeter": 500, "tracker": 200}
_SHARD_ATTR = "jetlab_shard"


@dataclass(frozen=True)
class DQMConfig:
    """What ``jetlab dqm generate`` makes (``events_per_map`` None: 500 calorimeter, 200 tracker events)."""

    out: Path
    detector: str = "calorimeter"
    n_maps: int = 1000
    events_per_map: int | None = None
    fault_fraction: float = 0.5
    strengths: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0)
    kinds: tuple[str, ...] = FAULT_KINDS[1:]
    n_reference: int = 200
    seed: int = 0
    workers: int = 1
    shard_size: int = 1000
    progress: bool = True
    tracker_events: int = field(default=5)  # simulated events the tracker's mean occupancy is measured on

    def __post_init__(self) -> None:
        checks = [
            (self.detector in DETECTORS, "--detector", f"unknown detector {self.detector!r} (known: "
                                                       f"{', '.join(DETECTORS)})"),
            (self.n_maps > 0, "--maps", "must be a positive integer"),
            (self.events > 0, "--events-per-map", "must be a positive integer"),
            (0.0 <= self.fault_fraction <= 1.0, "--fault-fraction", "must be in [0, 1]"),
            (bool(self.strengths) and all(0 < s <= 1 for s in self.strengths), "--strengths",
             "must be values in (0, 1]"),
            (bool(self.kinds) and set(self.kinds) <= set(FAULT_KINDS[1:]), "--kinds",
             f"must be among {', '.join(FAULT_KINDS[1:])}"),
            (self.n_reference > 1, "--reference-runs", "must be at least 2"),
            (self.shard_size > 0, "--shard-size", "must be a positive integer"),
            (self.workers > 0, "--workers", "must be a positive integer"),
            (0 <= self.seed < 2**63, "--seed", "must be in [0, 2^63)"),
        ]
        for ok, name, msg in checks:
            if not ok:
                raise UsageError(f"{name}: {msg}")

    @property
    def events(self) -> int:
        return int(self.events_per_map or DEFAULT_EVENTS.get(self.detector, 500))

    @property
    def physics(self) -> dict[str, Any]:
        """Settings that fix every map (not where, how fast, or with how many workers)."""
        return {"generator": "jetlab-dqm", "detector": self.detector, "events_per_map": self.events,
                "fault_fraction": self.fault_fraction, "strengths": list(self.strengths), "kinds": list(self.kinds),
                "n_reference": self.n_reference, "seed": self.seed, "shard_size": self.shard_size,
                "tracker_events": self.tracker_events if self.detector == "tracker" else None}


def _model(cfg: DQMConfig) -> tuple[Any, Any, tuple[int, int]]:
    """(the detector's fixed input, its map function, its (H, W))."""
    if cfg.detector == "calorimeter":
        return shower_library(cfg.seed), calorimeter_map, CALO_SHAPE
    return tracker_occupancy(cfg.out, cfg.seed, cfg.tracker_events), tracker_map, TRACKER_SHAPE


def make_reference(cfg: DQMConfig) -> tuple[np.ndarray, np.ndarray]:
    """(C, H, W) mean and standard deviation of ``n_reference`` good lumisections."""
    base, make, shape = _model(cfg)
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 0x7EF]))
    good = np.stack([make(base, no_fault(shape), cfg.events, rng) for _ in range(cfg.n_reference)])
    return good.mean(axis=0), good.std(axis=0, ddof=1)


def make_maps(cfg: DQMConfig, n: int, seed: int, reference: np.ndarray, reference_std: np.ndarray) -> Maps:
    """``n`` lumisections of ``cfg`` from ``seed``, faults drawn as in the module docstring."""
    base, make, shape = _model(cfg)
    rng = np.random.default_rng(seed)
    active = active_channels(reference)
    median = float(np.median(reference[0][active]))
    values, faults = [], []
    for _ in range(n):
        fault: Fault = no_fault(shape)
        if rng.random() < cfg.fault_fraction:
            fault = draw_fault(str(rng.choice(cfg.kinds)), float(rng.choice(cfg.strengths)), active, median, rng)
        values.append(make(base, fault, cfg.events, rng))
        faults.append(fault)
    kind = np.array([f.kind for f in faults], np.int64)
    meta = {"settings": cfg.physics, "channels": list(DETECTORS[cfg.detector])}
    return Maps(np.stack(values), (kind > 0).astype(np.int64), np.stack([f.mask for f in faults]), kind,
                np.array([f.strength for f in faults], np.float32), cfg.detector, reference.astype(np.float32),
                reference_std.astype(np.float32), meta)


def _plan(cfg: DQMConfig) -> list[tuple[int, int, int, str]]:
    """(index, maps, seed, file) of every shard."""
    n_shards = math.ceil(cfg.n_maps / cfg.shard_size)
    return [(i, min(cfg.shard_size, cfg.n_maps - i * cfg.shard_size),
             int(np.random.SeedSequence([cfg.seed, i]).generate_state(1, np.uint64)[0]), f"{cfg.detector}_{i:04d}.h5")
            for i in range(n_shards)]


def _info(cfg: DQMConfig, shard: tuple[int, int, int, str]) -> dict[str, Any]:
    return {"index": shard[0], "n_maps": shard[1], "seed": shard[2], "settings": cfg.physics}


def _stored(path: Path) -> dict[str, Any] | None:
    try:
        with h5py.File(path, "r") as f:
            info = json.loads(f.attrs[_SHARD_ATTR])
    except (OSError, KeyError, ValueError, TypeError):
        return None
    return info if isinstance(info, dict) else None


def _prepare(cfg: DQMConfig) -> list[tuple[int, int, int, str]]:
    out = prepare_out(cfg.out)
    for f in sorted(out.glob("*.h5")):
        if (_stored(f) or {}).get("settings") != cfg.physics:
            raise UsageError(f"--out: {out} holds {f.name}, not maps of these settings; use a new directory")
    manifest = out / MANIFEST
    if manifest.is_file() and json.loads(manifest.read_text() or "{}").get("format") != "dqm":
        raise UsageError(f"--out: {out} holds another dataset's {MANIFEST}; use a new directory")
    todo = [s for s in _plan(cfg) if _stored(out / s[3]) != _info(cfg, s)]
    if todo:
        manifest.unlink(missing_ok=True)
    return todo


def _make(job: tuple[DQMConfig, tuple[int, int, int, str], np.ndarray, np.ndarray]) -> int:
    cfg, shard, ref, std = job
    maps = make_maps(cfg, shard[1], shard[2], ref, std)
    write_dqm(Path(cfg.out) / shard[3], maps, {_SHARD_ATTR: json.dumps(_info(cfg, shard), sort_keys=True)})
    return shard[1]


def generate_dqm(cfg: DQMConfig) -> dict[str, Any]:
    """Make (or complete) the map dataset of ``cfg``; a summary with the manifest path."""
    todo = _prepare(cfg)
    ref, std = make_reference(cfg) if todo else (None, None)
    done = cfg.n_maps - sum(s[1] for s in todo)
    jobs = [(cfg, s, ref, std) for s in todo]
    try:
        with tqdm(total=cfg.n_maps, initial=done, unit="map", desc=f"dqm {cfg.detector}", disable=not cfg.progress,
                  dynamic_ncols=True) as bar:
            if cfg.workers == 1 or len(jobs) <= 1:
                for job in jobs:
                    bar.update(_make(job))
            else:
                ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
                with ctx.Pool(min(cfg.workers, len(jobs))) as pool:
                    for n in pool.imap_unordered(_make, jobs):
                        bar.update(n)
    except BaseException:
        remove_stale(cfg.out)
        raise
    shards = [{"file": f, "index": i, "n_maps": n, "seed": s, "sha256": sha256(Path(cfg.out) / f)}
              for i, n, s, f in _plan(cfg)]
    manifest = {"format": "dqm", "schema": 1, "kind": "dqm", "reader": "dqm", "settings": cfg.physics,
                "scheme": DQM_SCHEME.to_dict(), "n_maps": cfg.n_maps, "shards": shards}
    return {"out": str(cfg.out), "shards_made": len(todo), "shards_skipped": len(shards) - len(todo),
            "n_maps": cfg.n_maps, "manifest": str(write_manifest(cfg.out, manifest))}
