"""Benchmark: data-quality monitoring — autoencoders against the shifter's χ²/pull and Kolmogorov–Smirnov tests.

Datasets (``jetlab dqm generate``, half the maps faulty: dead, hot, noisy, gain-drifted or shifted channels at
strengths 0.1, 0.25, 0.5, 1): the calorimeter (CaloGAN layer 1 from GFlash showers; occupancy and energy
channels) at 500 and at 5,000 events per lumisection, and the tracker's innermost pixel layer (ACTS events).
Per dataset the dense (``ae``), variational (``vae``, both on the flattened maps) and convolutional (``cae``)
autoencoders train on good maps only (``jetlab anomaly train --background good``); ``jetlab dqm evaluate`` scores
every method on the same test maps (20 % of the maps, split once): the autoencoders by their residual pulls
(residual / the good validation maps' residual spread, largest channel per map), the baselines by χ²/ndf, the
largest pull against the reference map, and the KS distance.

Columns: per-map AUC overall and per fault strength, the efficiency at false-alarm rates 10⁻² and 10⁻³, the
false-alarm rate at 90 % efficiency (how methods compare at equal fault-finding efficiency), over all faults and
for moderate ones (s = 0.5), and the localization efficiency (faulty channels among the map's highest-scored
channels), over all faults and for s = 1.

Run:  python benchmarks/dqm.py [--maps 10500] [--epochs 50]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

import torch

from jetlab.api import train
from jetlab.generate.dqm import DQMConfig, generate_dqm
from jetlab.tasks.dqm_eval import evaluate_dqm

from _record import recorded

DATASETS = (("calorimeter", 500), ("calorimeter", 5000), ("tracker", 200))
MODELS = {  # name: (hyper-parameters, flat maps)
    "ae": ({"hidden": [128, 32], "activation": "elu"}, True),
    "vae": ({"hidden": [128, 32], "latent": 8, "beta": 0.01}, True),
    "cae": ({"channels": [16, 32], "latent": 32}, False),
}
STRENGTHS = ("0.25", "0.5", "1")


def auc_of(m: dict[str, Any], strength: str | None = None) -> str:
    v = m["auc"] if strength is None else m["by_strength"].get(strength, {}).get("auc")
    return "—" if v is None else f"{v:.3f}"


def eff_of(m: dict[str, Any], rate: str) -> str:
    e = m["efficiency"][rate]
    return f"{e['efficiency']:.3f}" if e.get("measurable") else "n/m"


def num(v: float | None, fmt: str = ".3f") -> str:
    return "—" if v is None else f"{v:{fmt}}"


def row(name: str, m: dict[str, Any]) -> str:
    moderate, strong = m["by_strength"].get("0.5", {}), m["by_strength"].get("1", {})
    return (f"| {name} | {auc_of(m)} | " + " | ".join(auc_of(m, s) for s in STRENGTHS)
            + f" | {eff_of(m, '0.01')} | {eff_of(m, '0.001')} | {num(m['false_alarms_at']['0.9'], '.4f')} | "
            + f"{num(moderate.get('false_alarms_at', {}).get('0.9'), '.4f')} | "
            + f"{num((m.get('localization') or {}).get('efficiency'))} | "
            + f"{num((strong.get('localization') or {}).get('efficiency'))} |")


def dataset(out: Path, detector: str, events: int, n_maps: int) -> Path:
    path = out / f"{detector}_{events}"
    generate_dqm(DQMConfig(path, detector=detector, n_maps=n_maps, events_per_map=events, seed=7, workers=1,
                           progress=False))
    return path


def run_dataset(data: Path, detector: str, epochs: int) -> dict[str, dict[str, Any]]:
    channels = [0, 1] if detector == "calorimeter" else [0]
    methods: dict[str, dict[str, Any]] = {}
    for name, (hparams, flat) in MODELS.items():
        run = data.parent / f"run_{data.name}_{name}"
        shutil.rmtree(run, ignore_errors=True)
        res = train(name, data, run, task="anomaly", classes="good", hparams=hparams,
                    representation={"name": "detector_map", "map_channels": channels, "map_flat": flat},
                    trainer={"epochs": epochs, "batch_size": 64, "progress": False})
        ev = evaluate_dqm(run, plots=name == "cae")
        methods[f"{name} (residual pulls)"] = ev["methods"]["autoencoder"]
        methods[f"{name} (MSE)"] = ev["methods"]["autoencoder_mse"]
        print(f"{data.name} {name}: {res['epochs']} epochs in {res['train_time_s']:.0f} s, AUC "
              f"{ev['methods']['autoencoder']['auc']:.3f}", flush=True)
    base = evaluate_dqm(None, data, data.parent / f"baselines_{data.name}", plots=False)
    counts = base["counts"]
    methods |= {{"chi2": "χ²/ndf", "max_pull": "max pull", "ks": "KS"}[k]: v for k, v in base["methods"].items()}
    methods["_counts"] = counts
    return methods


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--maps", type=int, default=10_500, help="lumisections per dataset (>= 1000 good test maps)")
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="benchmarks/results/dqm")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    tables = {}
    for detector, events in DATASETS:
        data = dataset(out, detector, events, args.maps)
        tables[(detector, events)] = run_dataset(data, detector, args.epochs)
    for (detector, events), methods in tables.items():
        counts = methods.pop("_counts")
        print(f"\n{detector}, {events} events per lumisection: {counts.get('good', 0)} good and "
              f"{counts.get('faulty', 0)} faulty test maps (n/m: not measurable with this many good maps)")
        print("| method | AUC | AUC s=0.25 | AUC s=0.5 | AUC s=1 | eff @ 1e-2 | eff @ 1e-3 | false alarms @ 90 % eff "
              "| false alarms @ 90 % eff, s=0.5 | localization | localization s=1 |\n|" + "---|" * 11)
        for name, m in methods.items():
            print(row(name, m))
    print(f"\n{args.maps} maps per dataset, autoencoders trained {args.epochs} epochs (early stopping on the good "
          "validation maps), torch threads", args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(recorded("dqm", main))
