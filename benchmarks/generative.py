"""Benchmark: jet generators against Pythia 8 + FastJet, with JetNet-style metrics and speed.

Each particle-cloud generator is trained on gluon and top jets (30 hardest constituents) of one
generated dataset, then sampled; per class the metrics W1M, W1P, W1EFP, FPD, KPD and the classifier
AUC are computed against the real jets, next to the truth-vs-truth floor (two halves of the real
sample). Speed: generator jets/s at batch 1 and 1000 on this CPU against jetlab's Pythia + FastJet
rate from `benchmarks/generate.py` (measured in the same run here, one worker).

Run:  python benchmarks/generative.py [--data benchmarks/_data/landscape] [--max-time 00:03:00]
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from jetlab.api import generate
from jetlab.metrics.generative import GenMetricsConfig
from jetlab.tasks.config import resolve_config
from jetlab.tasks.evaluate import load_model
from jetlab.tasks.gen_metrics import gen_metrics
from jetlab.tasks.sample import sample
from jetlab.tasks.train import train

MODELS = ("vae_gen", "gan", "diffusion")
METRICS = ("w1m", "w1p", "w1efp", "fpd", "kpd", "classifier_auc")


def pythia_rate(cls: str, n_jets: int, tmp: Path) -> float:
    """Pythia + FastJet + features jets/s (one worker, from scratch: an existing dataset would be skipped)."""
    shutil.rmtree(tmp / f"pythia_{cls}", ignore_errors=True)
    start = time.perf_counter()
    generate(tmp / f"pythia_{cls}", classes=(cls,), jets_per_class=n_jets, seed=77, workers=1, progress=False,
             shard_size=n_jets)
    return n_jets / (time.perf_counter() - start)


def sampling_rate(run: Path, batch: int, cls: int) -> float:
    model, _ = load_model(run, "last")
    labels = torch.full((batch,), cls, dtype=torch.long)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        model.sample(batch, labels, g)  # warm-up
        reps = max(1, 2000 // batch)
        start = time.perf_counter()
        for _ in range(reps):
            model.sample(batch, labels, g)
    return reps * batch / (time.perf_counter() - start)


def cell(d: dict | None) -> str:
    return "—" if not d else f"{d['value']:.3g} ± {(d.get('unc') or 0):.1g}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="benchmarks/_data/landscape")
    ap.add_argument("--max-time", default="00:03:00")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--n-sample", type=int, default=3000, help="generated jets per class")
    ap.add_argument("--out", default="benchmarks/results/generative")
    args = ap.parse_args()
    torch.set_num_threads(2)
    data, out = Path(args.data), Path(args.out)
    if not (data / "manifest.json").is_file():
        generate(data, jets_per_class=3000, seed=2024, workers=2, shard_size=500)
    pythia = {c: pythia_rate(c, 200, out / "tmp") for c in ("g", "t")}
    cfg = GenMetricsConfig(classifier_threads=1)
    rows: dict[str, dict] = {}
    for name in MODELS:
        run = out / name
        if run.exists():
            shutil.rmtree(run)
        train(resolve_config(name, str(data), task="generate", overrides={
            "data": {"classes": "g,t"}, "trainer": {"epochs": args.epochs, "max_time": args.max_time,
                                                    "progress": False}}), run)
        fake = out / f"{name}.h5"
        sample(run, 2 * args.n_sample, fake, classes="g,t")
        rows[name] = {c: gen_metrics(data, fake, classes=c, **cfg.__dict__) for c in ("g", "t")}
        rows[name]["speed"] = {b: sampling_rate(run, b, 0) for b in (1, 1000)}
        print(f"{name}: done", flush=True)
    for c in ("g", "t"):
        print(f"\n{c} jets (30 particles), metrics vs real; truth = two halves of the real sample")
        print("| model | " + " | ".join(METRICS) + " | jets/s b=1 | jets/s b=1000 | speed-up vs Pythia |")
        print("|---|" + "---|" * (len(METRICS) + 3))
        truth = rows[MODELS[0]][c]["truth"]
        print("| truth vs truth | " + " | ".join(cell(truth.get(m)) for m in METRICS) +
              f" | — | {pythia[c]:.0f} (Pythia+FastJet) | 1 |")
        for name in MODELS:
            r, s = rows[name][c]["fake"], rows[name]["speed"]
            print(f"| {name} | " + " | ".join(cell(r.get(m)) for m in METRICS) +
                  f" | {s[1]:.0f} | {s[1000]:.0f} | {s[1000] / pythia[c]:.0f}x |")
        ratios = {n: rows[n][c]["ratio"]["fpd"] for n in MODELS}
        print("FPD / truth-vs-truth FPD: " + ", ".join(f"{n} {'—' if v is None else f'{v:.1f}'}"
                                                       for n, v in ratios.items()))
    np.save(out / "done.npy", np.array(1))


if __name__ == "__main__":
    main()
