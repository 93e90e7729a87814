"""``jetlab sample RUN --n N --out FILE``: jets drawn from a trained generator, as a jetlab shard file
(showers, from a shower generator: :mod:`jetlab.tasks.sample_showers`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch

from jetlab.errors import UsageError
from jetlab.io import open_jets
from jetlab.io.format import write_shard
from jetlab.io.jets import Jets
from jetlab.tasks.generate import relative_to_jets
from jetlab.tasks.runfiles import load_builder, load_generator

if TYPE_CHECKING:
    from jetlab.models.generate.generative import Generator

__all__ = ["sample"]


def _hlf_jets(x: np.ndarray, labels: np.ndarray, builder: Any) -> Jets:
    scaler = builder.scaler
    hlf = x * np.asarray(scaler.std) + np.asarray(scaler.mean)  # undo the standardization
    n = len(labels)
    return Jets(constituents=np.zeros((n, 0, 7), np.float32), n_particles=np.zeros(n, np.int32),
                particle_names=["px", "py", "pz", "E", "pt", "eta", "phi"], jet=np.zeros((n, 4), np.float32),
                hlf=hlf.astype(np.float32), hlf_names=list(scaler.names), labels=labels.astype(np.int64),
                meta={"generated": True})


def sample(run: str | Path, n: int, out: str | Path, classes: str | None = None, seed: int = 0,
           batch_size: int = 1000, energies: str | float | None = None) -> dict[str, Any]:
    """Draw ``n`` jets (split evenly over the run's classes, or ``classes``) into the shard ``out``.

    ``energies`` (showers only): one incident energy in GeV, or the path of a shower dataset whose first ``n``
    incident energies are used; None draws them from the training showers."""
    run = Path(run)
    cfg, names, module = load_generator(run, n, classes)
    if getattr(module, "kind", "") == "showers":  # calorimeter showers: a file in the geometry's public layout
        from jetlab.tasks.sample_showers import energies_from, sample_showers

        return sample_showers(run, n, out, energies=energies_from(energies, n), seed=seed, classes=classes,
                              batch_size=batch_size)
    if energies is not None:
        raise UsageError(f"--energies: {run} generates jets; incident energies are for shower generators")
    model = cast("Generator", module)  # a generative run's model is a Generator
    builder = load_builder(run / "representation.json")
    labels = np.repeat(cfg.scheme.labels_of(names), int(np.ceil(n / len(names))))[:n]
    g = torch.Generator().manual_seed(seed)
    start, parts = time.perf_counter(), []
    with torch.no_grad():
        for i in range(0, n, batch_size):
            parts.append(model.sample(len(labels[i:i + batch_size]), torch.as_tensor(labels[i:i + batch_size]), g))
    elapsed = time.perf_counter() - start
    x = np.concatenate([p["x"].numpy() for p in parts])
    if getattr(model, "kind", "cloud") == "hlf":
        jets = _hlf_jets(x, labels, builder)
    else:
        mask = np.concatenate([p["mask"].numpy() for p in parts]).astype(bool)
        real = open_jets(cfg.data.path)  # jet pT, eta drawn from the training data of the same class
        rng = np.random.default_rng(seed)
        rows = np.empty(n, np.int64)
        for lab in np.unique(labels):  # per class, not per jet
            pool = np.flatnonzero(real.labels == lab)
            if not len(pool):
                raise UsageError(f"{cfg.data.path}: no {cfg.scheme.classes[lab]} jets to take jet pT and eta from")
            rows[labels == lab] = rng.choice(pool, size=int((labels == lab).sum()))
        jets = relative_to_jets(x, mask, labels, real.jet[rows, 0], real.jet[rows, 1])
    jets.scheme = cfg.scheme
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_shard(out, jets.validate(str(out)), {"generated_by": str(run), "model": cfg.model, "seed": seed})
    return {"out": str(out), "n": n, "classes": names, "jets_per_s": n / max(elapsed, 1e-9)}
