"""``jetlab sample RUN --n N --out FILE.h5`` for shower generators: a file in the public layout of the run's geometry.

Incident energies are drawn from the training data's spectrum (per particle, with replacement) unless given;
particles are split evenly over the run's classes (or ``classes``). The file is written whole or not at all
by :func:`jetlab.io.showers_files.write_showers` (CaloGAN's ``energy``, ``layer_0..2``; CaloChallenge's
``incident_energies``, ``showers`` with its binning file beside it), so every shower reader opens it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch

from jetlab.errors import UsageError
from jetlab.io import open_data
from jetlab.io.showers import Showers
from jetlab.io.showers_files import write_showers
from jetlab.tasks.runfiles import load_generator

if TYPE_CHECKING:
    from jetlab.models.generate.shower_base import ShowerGenerator

__all__ = ["sample_showers", "incident_energies", "energies_from"]


def energies_from(value: str | float | None, n: int) -> float | np.ndarray | None:
    """``--energies``: None, one energy in GeV (a number), or a shower dataset whose first ``n`` incident
    energies are taken (the like-for-like reference of an evaluation)."""
    if value is None or isinstance(value, (int, float)):
        return value
    try:
        return float(value)
    except ValueError:
        pass
    data = open_data(value)  # a missing or unreadable path is one line naming it
    if not isinstance(data, Showers):
        raise UsageError(f"--energies: {value} holds jets, not showers")
    if len(data) < n:
        raise UsageError(f"--energies: {value} has {len(data)} showers, fewer than --n {n}")
    return data.incident[:n].astype(np.float32)


def incident_energies(labels: np.ndarray, rng: np.random.Generator, training: Showers | None = None,
                      energies: float | Sequence[float] | np.ndarray | None = None) -> np.ndarray:
    """(n,) GeV: ``energies`` (one value or n), else drawn from the training showers of each shower's particle
    (of any particle when the data have no labels for it)."""
    n = len(labels)
    if energies is not None:
        e = np.broadcast_to(np.asarray(energies, np.float64), (n,)) if np.ndim(energies) == 0 else np.asarray(
            energies, np.float64)
        if e.shape != (n,) or not np.all(np.isfinite(e) & (e > 0)):
            raise UsageError(f"--energies: {n} positive, finite incident energies (GeV) needed, got shape {e.shape}")
        return e.astype(np.float32)
    if training is None or not len(training):
        raise UsageError("no training showers to draw incident energies from; give the energies")
    out = np.empty(n, np.float32)
    for lab in np.unique(labels):
        pool = np.flatnonzero(training.labels == lab)
        pool = pool if len(pool) else np.arange(len(training))
        out[labels == lab] = training.incident[rng.choice(pool, size=int((labels == lab).sum()))]
    return out


def sample_showers(run: str | Path, n: int, out: str | Path,
                   energies: float | Sequence[float] | np.ndarray | None = None, seed: int = 0,
                   classes: str | None = None, batch_size: int = 1000) -> dict[str, Any]:
    """Draw ``n`` showers from the generator of ``run`` into ``out``; returns what was written and showers/s."""
    run = Path(run)
    cfg, names, module = load_generator(run, n, classes)
    model = cast("ShowerGenerator", module)
    if getattr(model, "kind", "") != "showers":
        raise UsageError(f"{run}: model {cfg.model!r} does not generate showers")
    labels = np.repeat(cfg.scheme.labels_of(names), int(np.ceil(n / len(names))))[:n].astype(np.int64)
    training = open_data(cfg.data.path) if energies is None else None
    if training is not None and not isinstance(training, Showers):
        raise UsageError(f"{cfg.data.path}: the run's training data are not showers")
    incident = incident_energies(labels, np.random.default_rng(seed), training, energies)
    g = torch.Generator().manual_seed(seed)
    start, parts = time.perf_counter(), []
    with torch.no_grad():
        for i in range(0, n, batch_size):
            rows = slice(i, i + batch_size)
            out_b = model.sample(len(labels[rows]), torch.as_tensor(labels[rows]), g,
                                 energy=torch.as_tensor(incident[rows]))
            parts.append(out_b["x"].numpy())
    elapsed = time.perf_counter() - start
    showers = Showers(np.concatenate(parts).astype(np.float32), incident, labels, model.geometry,
                      meta={"generated_by": str(run), "model": cfg.model, "seed": seed},
                      scheme=cfg.scheme)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    written = write_showers(out, showers)
    rate = n / max(elapsed, 1e-9)
    return {"out": str(out), "files": [str(p) for p in written], "n": n, "classes": names,
            "geometry": model.geometry, "showers_per_s": rate, "jets_per_s": rate}  # jets_per_s: the CLI's line

