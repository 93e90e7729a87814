"""Making one shard: Pythia events -> (detector) -> clustering + matching -> features -> HDF5."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from jetlab.classes import CLASSES
from jetlab.errors import JetlabError, brief
from jetlab.generate.clustering import MatchedJets, cluster_and_match
from jetlab.generate.config import GenerateConfig, ShardTask
from jetlab.generate.detector import SimpleDetector
from jetlab.generate.events import PythiaSource
from jetlab.io.format import write_shard
from jetlab.io.jets import Jets
from jetlab.physics.features import features_from_p4
from jetlab.physics.kinematics import pt_eta_phi_m
from jetlab.schema import HLF_NAMES, PARTICLE_FEATURES

__all__ = ["make_shard", "shard_meta"]

_MAX_EVENTS_PER_JET = 200  # give up when the selection accepts (almost) nothing


def shard_meta(cfg: GenerateConfig, task: ShardTask) -> dict[str, Any]:
    return {"class": task.cls, "index": task.index, "n_jets": task.n_jets, "pythia_seed": task.pythia_seed,
            "detector_seed": task.detector_seed, "settings": cfg.physics(),
            "plan": {"classes": list(cfg.classes), "jets_per_class": cfg.jets_per_class}}


def _pad(arrays: list[np.ndarray], width: int) -> np.ndarray:
    return np.concatenate([np.pad(a, [(0, 0), (0, width - a.shape[1])] + [(0, 0)] * (a.ndim - 2)) for a in arrays])


def _collect(cfg: GenerateConfig, task: ShardTask, report: Callable[[int, int], None]) -> MatchedJets:
    source = PythiaSource(task.cls, task.pythia_seed, cfg.sqrt_s, cfg.pthat)
    detector = SimpleDetector() if cfg.detector == "simple" else None
    rng = np.random.default_rng(task.detector_seed)
    parts: list[MatchedJets] = []
    n, n_events = 0, 0
    while n < task.n_jets:
        batch = source.next_batch(cfg.batch_events)
        n_events += batch.n_events
        if detector is not None:
            batch = detector(batch, rng)
        batch = batch.above_pt(cfg.min_particle_pt)
        m = cluster_and_match(batch, task.cls, cfg.radius, cfg.pt_range, cfg.eta_max)
        take = min(len(m.counts), task.n_jets - n)
        if take:
            parts.append(m)
            n += take
        report(take, batch.n_events)
        if n_events > _MAX_EVENTS_PER_JET * max(n, 1) and n_events >= 2000:
            raise JetlabError(f"class {task.cls}: only {n} matched jets in {n_events} events; "
                              f"check --pt-range / --pthat-range / --eta-max")
    width = max(p.p4.shape[1] for p in parts)
    return MatchedJets(
        p4=_pad([p.p4 for p in parts], width)[: task.n_jets],
        charge=_pad([p.charge for p in parts], width)[: task.n_jets],
        pdgid=_pad([p.pdgid for p in parts], width)[: task.n_jets],
        counts=np.concatenate([p.counts for p in parts])[: task.n_jets],
        jet=np.concatenate([p.jet for p in parts])[: task.n_jets],
        truth_pt=np.concatenate([p.truth_pt for p in parts])[: task.n_jets],
    )


def _to_jets(m: MatchedJets, cls: str, max_particles: int) -> Jets:
    hlf = features_from_p4(m.p4, m.counts, m.truth_pt)  # on all constituents, before truncation
    p4 = m.p4[:, :max_particles]
    p4 = np.pad(p4, [(0, 0), (0, max_particles - p4.shape[1]), (0, 0)])
    counts = np.minimum(m.counts, max_particles)
    valid = np.arange(max_particles)[None, :] < counts[:, None]
    pt, eta, phi, _ = pt_eta_phi_m(*np.moveaxis(p4, -1, 0))
    extra = [np.pad(a[:, :max_particles], [(0, 0), (0, max_particles - min(a.shape[1], max_particles))])
             for a in (m.charge, m.pdgid)]
    cons = np.stack([p4[..., 0], p4[..., 1], p4[..., 2], p4[..., 3], pt, eta, phi, *extra], axis=-1)
    cons = np.where(valid[..., None], cons, 0.0).astype(np.float32)
    return Jets(
        constituents=cons,
        n_particles=counts.astype(np.int32),
        particle_names=list(PARTICLE_FEATURES),
        jet=m.jet.astype(np.float32),
        hlf=hlf,
        hlf_names=list(HLF_NAMES),
        labels=np.full(len(counts), CLASSES.index(cls), np.int64),
    )


def make_shard(cfg: GenerateConfig, task: ShardTask, report: Callable[[int, int], None] | None = None) -> Path:
    """Generate ``task`` into ``cfg.out / task.filename`` (atomic); ``report(jets, events)`` tracks progress.

    An unexpected error (a bug, not bad input) becomes one :class:`JetlabError` line naming the shard
    and its seeds, so that it can be reproduced; it also crosses a worker pool where the original
    exception (a FastJet SWIG error, say) might not pickle.
    """
    try:
        matched = _collect(cfg, task, report or (lambda j, e: None))
        jets = _to_jets(matched, task.cls, cfg.max_particles).validate(task.filename)
    except (JetlabError, OSError, MemoryError):
        raise
    except Exception as e:  # noqa: BLE001 - turned into one reportable line
        raise JetlabError(f"shard {task.filename} (class {task.cls}, Pythia seed {task.pythia_seed}, detector seed "
                          f"{task.detector_seed}) failed: {type(e).__name__}: {brief(e)}") from None
    path = Path(cfg.out) / task.filename
    write_shard(path, jets, shard_meta(cfg, task))
    return path
