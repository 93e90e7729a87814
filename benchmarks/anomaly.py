"""Benchmark: anomaly detection with the autoencoder family.

Each autoencoder (ae = the course's dense AE on HLF, the baseline to beat; dae, vae, cae, set_ae)
is trained on QCD (g, q) of one generated dataset and scored on the test split of every class: AUC
for W, Z, t against QCD and the maximum SIC. Mass decorrelation (DisCo) has its own benchmark,
benchmarks/decorrelation.py.

Run:  python benchmarks/anomaly.py [--data benchmarks/_data/landscape] [--epochs 30] [--max-time 00:03:00]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from jetlab.api import generate
from jetlab.tasks.anomaly_eval import evaluate_anomaly
from jetlab.tasks.config import resolve_config
from jetlab.tasks.train import train

from _record import recorded

AUTOENCODERS = ("ae", "dae", "vae", "cae", "set_ae")


def run(out: Path, task: str, model: str, data: str, overrides: dict) -> Path:
    if out.exists():
        shutil.rmtree(out)
    train(resolve_config(model, data, overrides=overrides, task=task), out)
    return out


def fmt(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="benchmarks/_data/landscape")
    ap.add_argument("--jets-per-class", type=int, default=3000)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--max-time", default="00:03:00")
    ap.add_argument("--out", default="benchmarks/results/anomaly")
    args = ap.parse_args()
    data, out = Path(args.data), Path(args.out)
    if not (data / "manifest.json").is_file():
        generate(data, jets_per_class=args.jets_per_class, seed=2024, workers=2, shard_size=500)
    trainer = {"trainer": {"epochs": args.epochs, "max_time": args.max_time, "progress": False}}

    rows = []
    for name in AUTOENCODERS:
        r = run(out / name, "anomaly", name, str(data), {**trainer, "data": {"classes": "g,q"}})
        res = evaluate_anomaly(r)
        sig = res["metrics"]["signals"]
        rows.append((name, res["score"], *(sig[c]["auc"] for c in "wzt"), *(sig[c]["max_sic"] for c in "wzt")))
    print_autoencoders(rows)
    return 0


def print_autoencoders(rows: list[tuple]) -> None:
    print("\nanomaly detection, trained on g,q; test split of every class")
    print("| model | score | AUC W | AUC Z | AUC t | max SIC W | max SIC Z | max SIC t |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row[0]} | {row[1]} | " + " | ".join(fmt(v, 3 if i < 3 else 2) for i, v in enumerate(row[2:])) + " |")


if __name__ == "__main__":
    sys.exit(recorded("anomaly", main))
