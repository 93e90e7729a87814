"""Benchmark: jet generators against Pythia 8 + FastJet, per class, with JetNet's metrics and like-for-like speed.

Each particle-cloud generator (vae_gen, gan, flow_matching) is trained on the gluon and top jets (30
hardest constituents) of one dataset, then sampled. Per class: W1M, W1P, W1EFP, FPD, KPD as JetNet defines
them, in JetNet's units (×10³; W1EFP ×10⁵), and jetlab's extras W1N, FPD-asinh and the classifier AUC,
against the real jets, under the truth-vs-truth floor (two disjoint halves of the real sample, the same
sizes and procedure; see jetlab.metrics.generative).

Speed, the same work on both sides: jets of one class **written to a jetlab dataset file**, on one CPU
core each. Pythia + FastJet + features = ``jetlab generate`` (one worker, from scratch); a generator =
``jetlab sample`` (load the run, sample at its batch of 1000, rebuild 4-vectors and high-level features,
write the shard) with torch on one thread. The two are timed interleaved, ``--speed-rounds`` times each;
the table gives the median rates and their ratio.

Run:  python benchmarks/generative.py [--data benchmarks/_data/landscape] [--max-time 00:03:00] [--epochs 60]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

import torch

from jetlab.api import generate
from jetlab.metrics.generative import GenMetricsConfig
from jetlab.metrics.jetnet import UNITS
from jetlab.tasks.config import resolve_config
from jetlab.tasks.gen_metrics import gen_metrics
from jetlab.tasks.sample import sample
from jetlab.tasks.train import train

from _record import recorded

MODELS = ("vae_gen", "gan", "flow_matching")
CLASSES = ("g", "t")
COLUMNS = (("w1m", "W1M ×10³"), ("w1p", "W1P ×10³"), ("w1efp", "W1EFP ×10⁵"), ("fpd", "FPD ×10³"),
           ("kpd", "KPD ×10³"), ("w1n", "W1N"), ("fpd_asinh", "FPD-asinh"), ("classifier_auc", "classifier AUC"))


def pythia_file_rate(cls: str, n: int, tmp: Path) -> float:
    """jets/s of ``jetlab generate`` writing ``n`` jets of ``cls`` to a fresh dataset (one worker)."""
    out = tmp / f"pythia_{cls}"
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    generate(out, classes=(cls,), jets_per_class=n, seed=77, workers=1, progress=False, shard_size=n)
    return n / (time.perf_counter() - start)


def sample_file_rate(run: Path, cls: str, n: int, tmp: Path) -> float:
    """jets/s of ``jetlab sample`` writing ``n`` generated jets of ``cls`` to a dataset file (torch on 1 thread)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        start = time.perf_counter()
        sample(run, n, tmp / f"speed_{run.name}_{cls}.h5", classes=cls, seed=3)
        return n / (time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)


def speeds(runs: dict[str, Path], n: int, rounds: int, tmp: Path) -> dict[str, dict[str, float]]:
    """Median file-writing rates per class: {"pythia" | model: {cls: jets/s}}, all timed interleaved."""
    samples: dict[str, dict[str, list[float]]] = {k: {c: [] for c in CLASSES} for k in ("pythia", *runs)}
    for _ in range(rounds):
        for c in CLASSES:
            samples["pythia"][c].append(pythia_file_rate(c, n, tmp))
            for name, run in runs.items():
                samples[name][c].append(sample_file_rate(run, c, n, tmp))
    return {k: {c: statistics.median(v) for c, v in per.items()} for k, per in samples.items()}


def cell(d: dict | None, unit: float = 1.0) -> str:
    return "—" if not d else f"{d['value'] * unit:.3g} ± {(d.get('unc') or 0) * unit:.2g}"


def table(cls: str, rows: dict[str, dict], rate: dict[str, dict[str, float]]) -> None:
    print(f"\n{cls} jets (30 hardest particles): generated vs real; truth vs truth = two halves of the real sample")
    print("| model | " + " | ".join(h for _, h in COLUMNS) + " | jets/s to file | speed-up vs Pythia |")
    print("|---|" + "---|" * (len(COLUMNS) + 2))
    truth = rows[MODELS[0]][cls]["truth"]
    print("| truth vs truth (Pythia + FastJet) | " + " | ".join(cell(truth.get(m), UNITS.get(m, 1.0))
                                                               for m, _ in COLUMNS)
          + f" | {rate['pythia'][cls]:.3g} | 1 |")
    for name in MODELS:
        r = rows[name][cls]["fake"]
        print(f"| {name} | " + " | ".join(cell(r.get(m), UNITS.get(m, 1.0)) for m, _ in COLUMNS)
              + f" | {rate[name][cls]:.3g} | {rate[name][cls] / rate['pythia'][cls]:.3g}x |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="benchmarks/_data/landscape")
    ap.add_argument("--max-time", default="00:03:00", help="training time per model")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--n-sample", type=int, default=3000, help="generated jets per class for the metrics")
    ap.add_argument("--n-speed", type=int, default=500, help="jets per class per timed file")
    ap.add_argument("--speed-rounds", type=int, default=2)
    ap.add_argument("--out", default="benchmarks/results/generative")
    args = ap.parse_args()
    torch.set_num_threads(2)
    data, out = Path(args.data), Path(args.out)
    cfg = GenMetricsConfig(classifier_threads=1)
    rows: dict[str, dict] = {}
    for name in MODELS:
        run = out / name
        shutil.rmtree(run, ignore_errors=True)
        res = train(resolve_config(name, str(data), task="generate", overrides={
            "data": {"classes": ",".join(CLASSES)},
            "trainer": {"epochs": args.epochs, "max_time": args.max_time, "progress": False}}), run)
        fake = out / f"{name}.h5"
        sample(run, len(CLASSES) * args.n_sample, fake, classes=",".join(CLASSES))
        rows[name] = {c: gen_metrics(data, fake, classes=c, **cfg.__dict__) for c in CLASSES}
        print(f"{name}: trained {res['epochs']} epochs in {res['train_time_s']:.0f} s, evaluated", flush=True)
    rate = speeds({n: out / n for n in MODELS}, args.n_speed, args.speed_rounds, out / "tmp")
    n_real = rows[MODELS[0]][CLASSES[0]]["truth"]["n_real"]
    print(f"\nmetrics on {n_real} real jets per half and as many generated jets; speed: {args.n_speed} jets per "
          f"file, median of {args.speed_rounds} interleaved rounds, one core each")
    for c in CLASSES:
        table(c, rows, rate)
    return 0


if __name__ == "__main__":
    sys.exit(recorded("generative", main))
