"""Benchmark: is building representations on the fly ever the training bottleneck?

For every representation (hlf, image, particles = the sequence/cloud batch, graph) and loader worker count,
the jets/s of the real training path (``JetDataModule.train_dataloader()``: index batches -> ``BatchBuilder``)
is measured next to the jets/s of a ParticleNet training step (forward, backward, Adam step; registry
defaults) on particle batches of the same data, timed in the same block of the same run. Requirement:
loader >= 10x the step rate for every row (PASS), so the loader never limits training.

    jetlab generate --out benchmarks/_data/pipeline --jets-per-class 400 --seed 1 --workers 1   # once
    python benchmarks/pipeline.py [--data benchmarks/_data/pipeline] [--batches 20] [--steps 1]

The dataset is generated with the command above when ``--data`` is the default and missing. Loader rates
are over ``--batches`` batches after a warm-up (workers started, queue primed; with workers the up-to
2 x workers prefetched batches make the rate a slight overestimate). The profile section gives the
per-batch time of the hottest functions of one batch build (cProfile, 0 workers).
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import pstats
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jetlab.classes import parse_selection
from jetlab.data.batches import RepresentationConfig
from jetlab.data.module import DataConfig, JetDataModule
from jetlab.models import create

DEFAULT_DATA = Path(__file__).parent / "_data" / "pipeline"
GENERATE = ["jetlab", "generate", "--out", str(DEFAULT_DATA), "--jets-per-class", "400", "--seed", "1",
            "--workers", "1"]
REPRESENTATIONS = ("hlf", "image", "particles", "graph")
TARGET = 10.0


def data_module(path: str, rep: str, batch: int) -> tuple[JetDataModule, float]:
    """The data module users train with, set up; and its setup time (dataset load + split + fit) in s."""
    dm = JetDataModule(DataConfig(path=path, num_workers=0), parse_selection("g,q,w,z,t"),
                       RepresentationConfig(name=rep), batch_size=batch)
    start = time.perf_counter()
    dm.setup()
    return dm, time.perf_counter() - start


def endless(dm: JetDataModule) -> Iterator[dict[str, Any]]:
    """Training batches over as many epochs as asked for (persistent workers survive the epochs)."""
    loader = dm.train_dataloader()
    while True:
        yield from loader


def loader_rate(dm: JetDataModule, workers: int, warmup: int, batches: int) -> float:
    """Steady jets/s of the train loader with ``workers`` processes."""
    dm.config = replace(dm.config, num_workers=workers)
    it = endless(dm)
    for _ in range(warmup + 2 * workers):  # start the workers and drain what they prefetched meanwhile
        next(it)
    start, jets = time.perf_counter(), 0
    for batch in itertools.islice(it, batches):
        jets += len(batch["label"])
    rate = jets / (time.perf_counter() - start)
    del it  # ends the workers
    return rate


class Stepper:
    """ParticleNet (registry defaults) trained with Adam, as ``jetlab train`` does."""

    def __init__(self, dm: JetDataModule, batches: int = 2) -> None:
        self.model = create("particlenet", n_classes=dm.n_classes, dims=dm.builder.dims())
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.batches = list(itertools.islice(endless(dm), batches))
        self.cycle = itertools.cycle(self.batches)
        self.rate(1)  # warm-up: allocator, autograd graph, optimizer state

    def rate(self, steps: int) -> float:
        """jets/s over ``steps`` training steps."""
        self.model.train()
        start, jets = time.perf_counter(), 0
        for _ in range(steps):
            batch = next(self.cycle)
            self.opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(self.model(batch), batch["y"])
            loss.backward()
            self.opt.step()
            jets += len(batch["y"])
        return jets / (time.perf_counter() - start)


def profile(dm: JetDataModule, batches: int, top: int) -> list[tuple[float, str]]:
    """(ms per batch, function) of the ``top`` functions by own time while building ``batches`` batches."""
    collate = dm.train_dataloader().collate_fn
    n = len(dm.splits["train"][1])
    rng = np.random.default_rng(0)
    rows = [rng.permutation(n)[: dm.batch_size].tolist() for _ in range(batches + 1)]
    collate(rows[0])
    prof = cProfile.Profile()
    prof.enable()
    for r in rows[1:]:
        collate(r)
    prof.disable()
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in stats.values()) / batches * 1e3
    hot = sorted(((v[2] / batches * 1e3, name if f == "~" else f"{Path(f).name}:{name}")
                  for (f, _, name), v in stats.items()), reverse=True)
    return [(total, "total (own time of all calls)"), *hot[:top]]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="jetlab dataset (default: generated once)")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--workers", default="0,2", help="loader worker counts to measure")
    ap.add_argument("--batches", type=int, default=20, help="timed loader batches per row")
    ap.add_argument("--warmup", type=int, default=2, help="untimed loader batches per row")
    ap.add_argument("--steps", type=int, default=1, help="timed ParticleNet steps per representation")
    ap.add_argument("--profile-batches", type=int, default=5)
    ap.add_argument("--top", type=int, default=5, help="functions shown per profile")
    args = ap.parse_args()
    if args.data == str(DEFAULT_DATA) and not (DEFAULT_DATA / "manifest.json").is_file():
        print("generating the benchmark dataset:", shlex.join(GENERATE), flush=True)
        subprocess.run(GENERATE, check=True)
    workers = [int(w) for w in args.workers.split(",")]

    print("reproduce:", shlex.join(["python", "benchmarks/pipeline.py", *sys.argv[1:]]))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}")
    stepper: Stepper | None = None
    rows, profiles = [], {}
    for rep in REPRESENTATIONS:
        dm, setup_s = data_module(args.data, rep, args.batch)
        if stepper is None:
            pdm = dm if rep == "particles" else data_module(args.data, "particles", args.batch)[0]
            stepper = Stepper(pdm)
            print(f"dataset {args.data}: {sum(len(t) for _, t in dm.splits.values())} jets, "
                  f"{len(dm.splits['train'][1])} train; setup {setup_s:.2f} s")
        loader = {w: loader_rate(dm, w, args.warmup, args.batches) for w in workers}
        step = stepper.rate(args.steps)  # measured right after this representation's loader rows
        rows += [(rep, w, loader[w], step) for w in workers]
        profiles[rep] = profile(dm, args.profile_batches, args.top)

    print(f"\n| representation | workers | loader jets/s | particlenet step jets/s | ratio | >= {TARGET:g}x |")
    print("|---|---:|---:|---:|---:|---|")
    for rep, w, load, step in rows:
        ok = "PASS" if load >= TARGET * step else "FAIL"
        print(f"| {rep} | {w} | {load:,.0f} | {step:,.1f} | {load / step:,.0f}x | {ok} |")
    print("\nprofile: ms per batch of the hottest functions (own time), 0 workers")
    for rep, hot in profiles.items():
        print(f"  {rep}: " + "; ".join(f"{name} {ms:.2f}" for ms, name in hot))
    return 0 if all(load >= TARGET * step for _, _, load, step in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
