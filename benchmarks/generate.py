"""Benchmark: `jetlab generate` against a bare Pythia 8 event loop, and 2 workers against 1.

1. Same processes, seeds and event count: a bare ``pythia.next()`` loop versus jetlab's full
   pipeline (nextBatch -> clustering -> truth matching -> features -> HDF5 shard). Printed as
   jets/s and as the ratio t(bare Pythia) / t(jetlab): 1.0 means jetlab adds nothing.
   Target >= 0.7.
2. ``generate`` with --workers 2 versus --workers 1 on the same plan (wall clock, including
   process start-up). Target >= 1.8x on 2 cores.

Run:  python benchmarks/generate.py [--events 400] [--classes g,q,w,z,t] [--jets 200]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from jetlab._quiet import quiet_stdout
from jetlab.generate.cards import PROCESS_CARDS, common_settings
from jetlab.generate.clustering import cluster_and_match
from jetlab.generate.config import GenerateConfig, plan_shards
from jetlab.generate.events import PythiaSource
from jetlab.generate.runner import generate
from jetlab.generate.shards import MatchedJets, _pad, _to_jets, shard_meta
from jetlab.io.format import write_shard

from _record import recorded


def bare_pythia(cls: str, seed: int, cfg: GenerateConfig, n_events: int) -> float:
    import pythia8mc

    with quiet_stdout():
        p = pythia8mc.Pythia("", False)
        for line in common_settings(seed, cfg.sqrt_s, cfg.pthat) + PROCESS_CARDS[cls]:
            p.readString(line)
        p.init()
    t = time.perf_counter()
    for _ in range(n_events):
        p.next()
    return time.perf_counter() - t


def jetlab_pipeline(cls: str, seed: int, cfg: GenerateConfig, n_events: int, out: Path) -> tuple[float, int, dict]:
    source = PythiaSource(cls, seed, cfg.sqrt_s, cfg.pthat)
    stages = {"pythia+record": 0.0, "cluster+match": 0.0, "features+write": 0.0}
    t0 = time.perf_counter()
    parts: list[MatchedJets] = []
    for _ in range(n_events // cfg.batch_events):
        t = time.perf_counter()
        batch = source.next_batch(cfg.batch_events)
        stages["pythia+record"] += time.perf_counter() - t
        t = time.perf_counter()
        m = cluster_and_match(batch, cls, cfg.radius, cfg.pt_range, cfg.eta_max)
        stages["cluster+match"] += time.perf_counter() - t
        if len(m.counts):
            parts.append(m)
    t = time.perf_counter()
    width = max(p.p4.shape[1] for p in parts)
    m = MatchedJets(*(_pad([getattr(p, k) for p in parts], width) for k in ("p4", "charge", "pdgid")),
                    *(np.concatenate([getattr(p, k) for p in parts]) for k in ("counts", "jet", "truth_pt")))
    jets = _to_jets(m, cls, cfg.max_particles)
    task = plan_shards(cfg, (cls,), 1)[0]
    write_shard(out / f"{cls}.h5", jets, shard_meta(cfg, task))
    stages["features+write"] += time.perf_counter() - t
    return time.perf_counter() - t0, len(jets), stages


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=400, help="events per class for the overhead test")
    ap.add_argument("--classes", default="g,q,w,z,t")
    ap.add_argument("--jets", type=int, default=200, help="jets per class for the workers test")
    args = ap.parse_args()
    classes = args.classes.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="jetlab-bench-"))
    cfg = GenerateConfig(out=tmp, classes=tuple(classes), progress=False)
    # warm up numba's compiled kernels outside the timing
    jetlab_pipeline("w", 1, cfg, cfg.batch_events, tmp)

    print(f"1) overhead: {args.events} events per class, same seeds (jets/s = matched jets / time)")
    head = f"{'class':>5} {'bare Pythia s':>14} {'jetlab s':>10} {'jets':>6} {'jets/s':>8} {'ratio':>7}"
    print(head + "   jetlab stages [s]")
    tb_all = tj_all = 0.0
    for i, cls in enumerate(classes):
        seed = 1000 + i
        tb = bare_pythia(cls, seed, cfg, args.events)
        tj, n, st = jetlab_pipeline(cls, seed, cfg, args.events, tmp)
        tb_all, tj_all = tb_all + tb, tj_all + tj
        stages = ", ".join(f"{k} {v:.2f}" for k, v in st.items())
        print(f"{cls:>5} {tb:14.2f} {tj:10.2f} {n:6d} {n / tj:8.1f} {tb / tj:7.2f}   {stages}")
    print(f"{'all':>5} {tb_all:14.2f} {tj_all:10.2f} {'':6} {'':8} {tb_all / tj_all:7.2f}   (target >= 0.7)")

    print(f"\n2) workers: generate {args.jets} jets per class of {','.join(classes)}")
    times = {}
    for w in (1, 2):
        t = time.perf_counter()
        generate(GenerateConfig(out=tmp / f"w{w}", classes=tuple(classes), jets_per_class=args.jets, seed=5,
                                workers=w, shard_size=max(1, args.jets // 2), progress=False))
        times[w] = time.perf_counter() - t
        print(f"  --workers {w}: {times[w]:7.1f} s  {len(classes) * args.jets / times[w]:6.1f} jets/s")
    print(f"  speed-up 2 vs 1 workers: {times[1] / times[2]:.2f}x   (target >= 1.8x)")


if __name__ == "__main__":
    sys.exit(recorded("generate", main))
