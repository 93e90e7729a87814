"""Benchmark: every shower generator on both geometries at one CPU budget, judged by the CaloChallenge evaluation.

Per geometry: GFlash showers of e+ are simulated twice with different seeds, a training set and an independent
reference set (``calogan``: 1-100 GeV uniform as CaloGAN; ``challenge2``: 1 GeV - 1 TeV log-uniform as
CaloChallenge dataset 2). Each model (``calogan``, ``calo_vae``, ``calo_flow``, ``ddpm`` with its default DDIM
sampler, ``calo_flow_matching``) is trained on the training set for the same CPU time (``trainer.max_cpu_seconds``:
this process's CPU seconds, every thread counted — a budget that does not shrink when other jobs share the
machine, and the same for a fast-stepping diffusion model as for a slow flow) through
``jetlab train --task generate`` (the same code: :func:`jetlab.tasks.train.train`), then samples as many showers
as the evaluation compares, at the incident energies of the reference showers (``jetlab sample --energies``).
The evaluation is ``jetlab gen-metrics REFERENCE FAKE`` (:func:`jetlab.tasks.gen_metrics.shower_metrics`):
its floor compares two disjoint halves of the reference set, the model one of those halves with as many
generated showers; the same bins, sizes and classifier seeds.

Columns: the classifier AUCs (low level: voxels / E_inc; high level: E_layer / E_inc, centres, widths,
sparsity, the challenge's DNN with CPU sizes), FPD and KPD on the high-level features, the largest separation
power of each feature group (E_tot/E_inc, E_layer/E_inc, centres, widths, sparsity, voxel spectrum), the
epochs trained, and showers/s of sampling (batch 1000, one thread, including the write).

Run:  python benchmarks/showers.py [--cpu-seconds calogan=150,challenge2=300] [--models ...]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jetlab.generate.showers.runner import ShowerConfig, generate_showers
from jetlab.io import open_data
from jetlab.tasks.config import resolve_config
from jetlab.tasks.gen_metrics import shower_metrics
from jetlab.tasks.sample_showers import sample_showers
from jetlab.tasks.train import train

from _record import recorded

MODELS = ("calogan", "calo_vae", "calo_flow", "ddpm", "calo_flow_matching")
FAMILY = {"calogan": "GAN", "calo_vae": "VAE", "calo_flow": "normalizing flow", "ddpm": "diffusion",
          "calo_flow_matching": "flow matching"}
SPECTRA = {"calogan": ("uniform", 1.0, 100.0), "challenge2": ("log-uniform", 1.0, 1000.0)}
GROUPS = (("etot_einc", "E_tot/E_inc"), ("elayer_einc", "E_layer/E_inc"), ("centre", "centres"),
          ("width", "widths"), ("sparsity", "sparsity"), ("voxel_energy", "voxel E"))


def simulate(out: Path, geometry: str, n: int, seed: int) -> Path:
    if not (out / "manifest.json").exists():
        generate_showers(ShowerConfig(out=out, geometry=geometry, particle="e+", n=n, spectrum=SPECTRA[geometry],
                                      seed=seed, workers=1, progress=False))
    return out


def simulator_rate(geometry: str, n: int, tmp: Path) -> float:
    """showers/s of ``jetlab showers generate`` writing ``n`` showers (one worker, from scratch)."""
    out = tmp / f"speed_{geometry}"
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    simulate(out, geometry, n, 99)
    return n / (time.perf_counter() - start)


def run_model(model: str, train_dir: Path, reference: Path, out: Path, cpu_seconds: float, n_fake: int
              ) -> dict[str, Any]:
    run = out / model
    shutil.rmtree(run, ignore_errors=True)
    trainer = {"epochs": 10_000, "patience": 10_000, "max_cpu_seconds": cpu_seconds, "progress": False}
    res = train(resolve_config(model, str(train_dir), task="generate", overrides={"trainer": trainer}), run)
    energies = open_data(reference).incident[:n_fake]
    torch.set_num_threads(1)
    start = time.perf_counter()
    drawn = sample_showers(run, n_fake, out / f"{model}.h5", energies=energies, seed=5)
    rate = n_fake / (time.perf_counter() - start)
    metrics = shower_metrics(reference, out / f"{model}.h5")
    return {"epochs": res["epochs"], "train_s": res["train_time_s"], "rate": rate,
            "model_rate": drawn["showers_per_s"], "metrics": metrics}


def cell(d: dict[str, Any] | None, key: str = "value", fmt: str = ".3f") -> str:
    return "—" if d is None else f"{d[key]:{fmt}}"


def table(geometry: str, rows: dict[str, dict[str, Any]], sim_rate: float) -> None:
    first = next(iter(rows.values()))["metrics"]
    print(f"\n{geometry}: {first['n']} generated vs {first['n']} reference showers; floor = two halves of the "
          f"reference (sim vs sim); simulator {sim_rate:.0f} showers/s to file (one worker)")
    head = ["model", "family", "epochs", "AUC low", "AUC high", "FPD", "KPD", *(h for _, h in GROUPS),
            "showers/s"]
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    m = first
    print("| floor (GFlash vs GFlash) | — | — | " + " | ".join([
        cell(m["classifier_low"], "floor"), cell(m["classifier_high"], "floor"), cell(m["fpd"], "floor", ".3g"),
        cell(m["kpd"], "floor", ".2g"), *(cell(m["separation_power_max"][g], "floor", ".4f") for g, _ in GROUPS)])
        + f" | {sim_rate:.0f} |")
    for name, r in rows.items():
        m = r["metrics"]
        print(f"| {name} | {FAMILY[name]} | {r['epochs']} | " + " | ".join([
            cell(m["classifier_low"]), cell(m["classifier_high"]), cell(m["fpd"], fmt=".3g"),
            cell(m["kpd"], fmt=".2g"), *(cell(m["separation_power_max"][g], fmt=".4f") for g, _ in GROUPS)])
            + f" | {r['rate']:.0f} |")


def verdict(rows: dict[str, dict[str, Any]]) -> None:
    """Which family wins on challenge2, and the issue's goals against the best model."""
    best = min(rows, key=lambda k: rows[k]["metrics"]["classifier_high"]["value"])
    m = rows[best]["metrics"]
    fpd, floor = m["fpd"]["value"], m["fpd"]["floor"]
    elayer = max(v["value"] for k, v in m["separation_power"].items() if k.startswith("elayer_einc"))
    order = sorted(rows, key=lambda k: rows[k]["metrics"]["classifier_high"]["value"])
    print(f"\nchallenge2 ranking by high-level AUC: {', '.join(f'{k} ({FAMILY[k]})' for k in order)}")
    print(f"best: {best} ({FAMILY[best]})")
    for what, value, goal, ok in (
            ("high-level AUC", m["classifier_high"]["value"], "<= 0.60", m["classifier_high"]["value"] <= 0.60),
            ("low-level AUC", m["classifier_low"]["value"], "<= 0.70", m["classifier_low"]["value"] <= 0.70),
            ("FPD / floor", fpd / max(floor, 1e-12), "<= 3", fpd <= 3 * floor),
            ("max E_layer separation", elayer, "<= 0.01", elayer <= 0.01)):
        print(f"  goal {what} {goal}: {value:.4g}  {'met' if ok else 'NOT met'}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--geometries", default="calogan,challenge2")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--cpu-seconds", default="calogan=150,challenge2=300", help="training CPU time per model")
    ap.add_argument("--n-train", default="calogan=20000,challenge2=10000")
    ap.add_argument("--n-reference", type=int, default=6000, help="reference showers (two halves for the floor)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads while training")
    ap.add_argument("--out", default="benchmarks/results/showers")
    args = ap.parse_args()
    budget = {k: float(v) for k, v in (kv.split("=") for kv in args.cpu_seconds.split(","))}
    n_train = {k: int(v) for k, v in (kv.split("=") for kv in args.n_train.split(","))}
    models = tuple(args.models.split(","))
    out = Path(args.out)
    print(f"torch {torch.__version__}, {args.threads} training thread(s), sampling on 1; models: {', '.join(models)}")
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for geometry in args.geometries.split(","):
        base = out / geometry
        train_dir = simulate(base / "train", geometry, n_train[geometry], 1)
        reference = simulate(base / "reference", geometry, args.n_reference, 2)
        rows = {}
        for model in models:
            torch.set_num_threads(args.threads)
            rows[model] = run_model(model, train_dir, reference, base, budget[geometry], args.n_reference // 2)
            print(f"{geometry} {model}: {rows[model]['epochs']} epochs in {rows[model]['train_s']:.0f} s wall, "
                  f"high-level AUC {rows[model]['metrics']['classifier_high']['value']:.3f}", flush=True)
        results[geometry] = rows
        table(geometry, rows, simulator_rate(geometry, 2000, base))
    if "challenge2" in results:
        verdict(results["challenge2"])
    print(f"\nshowers per training set: {n_train}; CPU seconds of training per model: {budget}; "
          f"E_inc spectra: {SPECTRA}")
    np.set_printoptions(precision=4)
    return 0


if __name__ == "__main__":
    sys.exit(recorded("showers", main))
