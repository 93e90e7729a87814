"""Benchmark: the ViT against the ResNet and the CNN on jet images, at growing training sets — does it catch up?

Data: the landscape benchmark's Pythia 8 + FastJet jets (``benchmarks/_data/landscape``), top jets against light
quarks and gluons (``--classes t:g,q``), 40 × 40 η-φ images (the ``image`` representation, rotated and flipped).
Each model trains through ``jetlab train`` with the same CPU budget per run (``trainer.max_cpu_seconds``, torch on
one thread, at most ``--max-epochs``, early stopping), at each training-set size (``data.max_jets`` caps the
training and validation splits; every run is evaluated on the same full test split). Printed: parameters,
epochs, AUC ± bootstrap and the background rejection 1/εB at εS = 0.5 per size, and where the ViT stands.

Run:  python benchmarks/vit_jets.py [--sizes 1000,5400] [--budget 120]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import torch

from jetlab.models import count_parameters, create
from jetlab.models.registry import InputDims
from jetlab.tasks.config import resolve_config
from jetlab.tasks.evaluate import evaluate
from jetlab.tasks.train import train

from _record import recorded

MODELS = ("cnn", "resnet", "vit", "vit_hybrid")
CLASSES = "t:g,q"


def run(model: str, data: str, out: Path, size: int, budget: float, max_epochs: int) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    cfg = resolve_config(model, data, overrides={
        "data": {"classes": CLASSES, "max_jets": size},
        "trainer": {"epochs": max_epochs, "max_cpu_seconds": budget, "progress": False}})
    res = train(cfg, out)
    evaluate(out, n_bootstrap=50)
    m = json.loads((out / "metrics.json").read_text())["metrics"]
    auc, unc = m["auc"]["t"], m["auc_unc"]["t"]
    rej = m["rejection"]["t"]["0.5"]
    return {"epochs": res["epochs"], "auc": auc, "unc": unc,
            "rejection": "inf" if rej["inf"] else f"{rej['value']:.3g} ± {(rej['unc'] or 0):.2g}"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="benchmarks/_data/landscape")
    ap.add_argument("--sizes", default="1000,5400", help="training jets (max_jets per split)")
    ap.add_argument("--budget", type=float, default=120.0, help="training CPU seconds per run")
    ap.add_argument("--max-epochs", type=int, default=40)
    ap.add_argument("--out", default="benchmarks/results/vit_jets")
    args = ap.parse_args()
    torch.set_num_threads(1)
    sizes = [int(s) for s in args.sizes.split(",")]
    params = {m: count_parameters(create(m, n_classes=2, dims=InputDims(image_bins=40))) for m in MODELS}
    rows: dict[int, dict[str, dict[str, Any]]] = {}
    for size in sizes:
        rows[size] = {}
        for model in MODELS:
            rows[size][model] = r = run(model, args.data, Path(args.out) / f"{model}_{size}", size, args.budget,
                                        args.max_epochs)
            print(f"{model:>10} @ {size:>5}: {r['epochs']} epochs, AUC {r['auc']:.4f}", flush=True)
    print(f"\ntop vs light-quark and gluon jets, 40 × 40 images; {args.budget:.0f} CPU s per run (one thread); "
          "AUC ± bootstrap (epochs); the same test split for every run\n")
    print("| training jets | " + " | ".join(f"{m} ({params[m]:,} params)" for m in MODELS) + " | resnet − vit |")
    print("|---:|" + "---:|" * (len(MODELS) + 1))
    for size, r in rows.items():
        cells = " | ".join(f"{r[m]['auc']:.4f} ± {r[m]['unc']:.4f} ({r[m]['epochs']})" for m in MODELS)
        print(f"| {size:,} | {cells} | {r['resnet']['auc'] - r['vit']['auc']:+.4f} |")
    print("\n1/εB at εS = 0.5:\n")
    print("| training jets | " + " | ".join(MODELS) + " |\n|---:|" + "---:|" * len(MODELS))
    for size, r in rows.items():
        print(f"| {size:,} | " + " | ".join(r[m]["rejection"] for m in MODELS) + " |")
    for size, r in rows.items():
        gap = r["resnet"]["auc"] - r["vit"]["auc"]
        verdict = "within 0.003 of" if abs(gap) <= 0.003 else "ahead of" if gap < 0 else "behind"
        print(f"summary: {size:,} training jets: ViT {r['vit']['auc']:.4f} {verdict} ResNet {r['resnet']['auc']:.4f} "
              f"(ResNet − ViT = {gap:+.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(recorded("vit_jets", main))
