"""Benchmark: is the data loader ever the training bottleneck, for any representation and its models?

For every representation and each model that consumes it (hlf -> mlp and bdt; image -> cnn, resnet;
particles -> pfn, particlenet, part; graph -> gcn, gat), the jets/s of the real loader path
(``JetDataModule.train_dataloader()``: index batches -> cached columns or ``BatchBuilder``) is set
next to the jets/s of the model's training step (forward, backward, Adam; registry defaults, batches
from that loader). A BDT has no training step per batch: its row is LightGBM inference (registry
defaults, fitted on the training split) on the HLF batch. Requirement: the loader as shipped (cache on,
``default_workers()``: 0 without CUDA) >= 10x every consumer; the other loader settings are shown beside it.

The loader is measured as shipped (``cache_mb`` default: each split's per-jet columns built once, a batch
is a row gather) and as before the cache (``cache_mb=0``: every batch built afresh), with 0 and 2
worker processes each. Loader and steps are timed interleaved in rounds (each round: every loader,
then every consumer), so both see the same load on this shared machine. Loader rates are total jets
over total time of ``rounds x batches`` batches (after draining what workers prefetched meanwhile);
step rates use the median step of ``rounds x steps`` (after 2 warm-up steps), so both lean against
the loader.

    jetlab generate --out benchmarks/_data/pipeline --jets-per-class 400 --seed 1 --workers 1   # once
    python benchmarks/pipeline.py [--data benchmarks/_data/pipeline] [--batch 128] [--rounds 4] [--steps 5]

The dataset is generated with the command above when ``--data`` is the default and missing.
"""

from __future__ import annotations

import argparse
import itertools
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jetlab.classes import parse_selection
from jetlab.data.batches import RepresentationConfig
from jetlab.data.module import DataConfig, JetDataModule, default_workers
from jetlab.models import count_parameters, create

from _record import recorded

DEFAULT_DATA = Path(__file__).parent / "_data" / "pipeline"
GENERATE = ["jetlab", "generate", "--out", str(DEFAULT_DATA), "--jets-per-class", "400", "--seed", "1",
            "--workers", "1"]
CONSUMERS = {"hlf": ("mlp", "bdt"), "image": ("cnn", "resnet"), "particles": ("pfn", "particlenet", "part"),
             "graph": ("gcn", "gat")}
TARGET = 10.0


def data_module(path: str, rep: str, batch: int, cache_mb: int | None) -> tuple[JetDataModule, float]:
    """The data module users train with (``cache_mb`` None: its default), set up with its train columns
    built; and the seconds that took (dataset load, split, fit, cache)."""
    data = DataConfig(path=path, num_workers=0) if cache_mb is None else DataConfig(path=path, num_workers=0,
                                                                                    cache_mb=cache_mb)
    dm = JetDataModule(data, parse_selection("g,q,w,z,t"), RepresentationConfig(name=rep), batch_size=batch)
    start = time.perf_counter()
    dm.setup()
    dm.collate("train")
    return dm, time.perf_counter() - start


class Loader:
    """The train loader of ``dm`` with ``workers`` processes, over as many epochs as asked for."""

    def __init__(self, dm: JetDataModule, workers: int) -> None:
        dm.config = DataConfig(**{**dm.config.__dict__, "num_workers": workers})
        self.workers, self.it = workers, self._endless(dm.train_dataloader())
        next(self.it)  # starts the workers (persistent: they survive the epochs)

    @staticmethod
    def _endless(loader: torch.utils.data.DataLoader) -> Iterator[dict[str, Any]]:
        while True:
            yield from loader

    def time(self, batches: int) -> tuple[int, float]:
        """(jets, seconds) of ``batches`` batches, after the up-to 2 x workers batches prefetched meanwhile."""
        for _ in range(2 * self.workers):
            next(self.it)
        start, jets = time.perf_counter(), 0
        for batch in itertools.islice(self.it, batches):
            jets += len(batch["label"])
        return jets, time.perf_counter() - start


class Consumer:
    """A model's training step (forward, backward, Adam) at registry defaults; for ``bdt``, LightGBM inference."""

    def __init__(self, name: str, dm: JetDataModule, warmup: int = 2) -> None:
        self.name, self.dm = name, dm
        order = np.random.default_rng(0).permutation(len(dm.splits["train"][1]))
        self.batches = [dm.collate("train")(order[i * dm.batch_size:(i + 1) * dm.batch_size].tolist())
                        for i in range(4)]  # 4 training batches, as the loader makes them
        self.cycle, self.times = itertools.cycle(self.batches), []
        if name == "bdt":
            self.model, self.size = self._fit_bdt(dm), "trees"
        else:
            self.model = create(name, n_classes=dm.n_classes, dims=dm.builder.dims())
            self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
            self.size = f"{count_parameters(self.model):,} params"
        for _ in range(warmup):  # allocator, autograd graph, optimizer state
            self._step(next(self.cycle))

    @staticmethod
    def _fit_bdt(dm: JetDataModule) -> Any:
        table = {s: dm.collate(s).table or dm.collate(s).builder(*dm.splits[s]) for s in ("train", "val")}
        x, xv = (np.asarray(table[s]["x"], np.float64) for s in ("train", "val"))
        model = create("bdt", n_classes=dm.n_classes, dims=dm.builder.dims())
        model.fit(x, dm.splits["train"][1], xv, dm.splits["val"][1])
        return model

    def _step(self, batch: dict[str, Any]) -> None:
        if self.name == "bdt":
            self.model.predict_proba(batch["x"].numpy().astype(np.float64))  # as the bdt predictor does
            return
        self.model.train()
        self.opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(self.model(batch), batch["y"]).backward()
        self.opt.step()

    def time(self, steps: int) -> None:
        for _ in range(steps):
            batch = next(self.cycle)
            start = time.perf_counter()
            self._step(batch)
            self.times.append(time.perf_counter() - start)

    def rate(self) -> float:
        """jets/s of the median step."""
        return len(self.batches[0]["label"]) / statistics.median(self.times)


def measure(rep: str, args: argparse.Namespace, workers: list[int]) -> tuple[dict, dict, dict]:
    """Loader jets/s per (cache, workers), consumers, setup seconds per cache, all from interleaved rounds."""
    dms = {cache: data_module(args.data, rep, args.batch, None if cache == "on" else 0) for cache in ("off", "on")}
    setup = {cache: s for cache, (_, s) in dms.items()}
    loaders = {(cache, w): Loader(dm, w) for cache, (dm, _) in dms.items() for w in workers}
    consumers = [Consumer(name, dms["on"][0]) for name in CONSUMERS[rep]]
    totals = {key: [0, 0.0] for key in loaders}
    for _ in range(args.rounds):
        for key, loader in loaders.items():
            jets, seconds = loader.time(args.batches)
            totals[key][0] += jets
            totals[key][1] += seconds
        for consumer in consumers:
            consumer.time(args.steps)
    del loaders  # ends the workers
    return {key: jets / s for key, (jets, s) in totals.items()}, {c.name: c for c in consumers}, setup


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="jetlab dataset (default: generated once)")
    ap.add_argument("--batch", type=int, default=128, help="jets per batch (the trainer default of these models)")
    ap.add_argument("--workers", default="0,2", help="loader worker counts to measure")
    ap.add_argument("--rounds", type=int, default=4, help="interleaved rounds per representation")
    ap.add_argument("--batches", type=int, default=10, help="timed loader batches per loader and round")
    ap.add_argument("--steps", type=int, default=5, help="timed steps per consumer and round")
    ap.add_argument("--only", default="", help="comma-separated representations (default: all)")
    args = ap.parse_args()
    if args.data == str(DEFAULT_DATA) and not (DEFAULT_DATA / "manifest.json").is_file():
        print("generating the benchmark dataset:", shlex.join(GENERATE), flush=True)
        subprocess.run(GENERATE, check=True)
    workers = [int(w) for w in args.workers.split(",")]
    reps = [r for r in CONSUMERS if not args.only or r in args.only.split(",")]
    print(f"batch {args.batch}; per representation {args.rounds} rounds of {args.batches} loader batches per "
          f"loader and {args.steps} steps per consumer ({args.rounds * args.steps} timed steps each)\n")
    head = " | ".join(f"loader {c}, {w} workers jets/s | ratio" for c in ("before", "after") for w in workers)
    rows, setups = [], {}
    for rep in reps:
        loader, consumers, setups[rep] = measure(rep, args, workers)
        for name, consumer in consumers.items():
            rows.append((rep, name, consumer.size, consumer.rate(), loader))
    print(f"| representation | consumer | size | consumer jets/s | {head} |")
    print("|---|---|---|---:|" + "---:|---:|" * 2 * len(workers))
    shipped = default_workers()
    ok = shipped in workers
    for rep, name, size, step, loader in rows:
        cells = []
        for cache, w in ((c, w) for c in ("off", "on") for w in workers):
            rate = loader[(cache, w)]
            passed = rate >= TARGET * step
            ok &= passed or (cache, w) != ("on", shipped)
            cells.append(f"{rate:,.0f} | {rate / step:,.1f}x {'PASS' if passed else 'FAIL'}")
        print(f"| {rep} | {name} | {size} | {step:,.1f} | " + " | ".join(cells) + " |")
    print("\nbefore = cache_mb=0 (every batch built afresh), after = the default cache (columns built once).")
    print("setup with the train split's columns, s (before / after): "
          + "; ".join(f"{rep} {s['off']:.2f} / {s['on']:.2f}" for rep, s in setups.items()))
    print(f"requirement: the loader as shipped here (cache on, {shipped} workers = default_workers()) >= "
          f"{TARGET:g}x every consumer:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(recorded("pipeline", main))
