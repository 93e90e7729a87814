"""Benchmark: the tagger landscape — every registered classifier on one generated dataset, one budget.

Generates (or reuses) a dataset, trains each model for at most --epochs epochs or --max-time,
evaluates it on the shared test split and writes the comparison report (markdown + HTML + ROC
overlay). Prints the markdown table at the end.

Run (about an hour on 2 CPU cores with the defaults):
    python benchmarks/landscape.py --out benchmarks/results/landscape
Full size on a GPU (paper-size models, more data):
    python benchmarks/landscape.py --jets-per-class 100000 --epochs 30 --max-time 01:00:00 \\
        --accelerator gpu --models particlenet,part,pfn,... --out landscape-gpu
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from jetlab.api import generate
from jetlab.models import list_models
from jetlab.report.compare import landscape
from jetlab.tasks.compare import collect_runs
from jetlab.tasks.config import resolve_config
from jetlab.tasks.evaluate import evaluate
from jetlab.tasks.train import train

# CPU-sized choices: lite variants, and the heaviest models at reduced size.
DEFAULT_MODELS = ("mlp", "cnn", "resnet", "gru", "lstm", "deepsets", "pfn", "efn", "pointnet", "set_transformer",
                  "part_lite", "gcn", "gat", "particlenet_lite", "interaction_net")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="benchmarks/_data/landscape", help="dataset (generated if missing)")
    ap.add_argument("--jets-per-class", type=int, default=3000)
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS))
    ap.add_argument("--classes", default="g,q,w,z,t")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--max-time", default="00:03:30", help="per model")
    ap.add_argument("--accelerator", default="auto")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="benchmarks/results/landscape")
    ap.add_argument("--fresh", action="store_true", help="retrain runs that already exist")
    args = ap.parse_args()

    known = {s.name for s in list_models(task="classify")}
    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in known]
    if unknown:
        raise SystemExit(f"unknown models {unknown}; known: {sorted(known)}")
    data, out = Path(args.data), Path(args.out)
    if not (data / "manifest.json").is_file():
        t = time.perf_counter()
        generate(data, jets_per_class=args.jets_per_class, seed=2024, workers=args.workers, shard_size=500)
        print(f"generated {5 * args.jets_per_class} jets in {time.perf_counter() - t:.0f} s")
    runs = []
    for name in models:
        run = out / "runs" / name
        if args.fresh and run.exists():
            shutil.rmtree(run)
        if not (run / "metrics.json").is_file():
            if run.exists():
                shutil.rmtree(run)
            cfg = resolve_config(name, str(data), overrides={
                "data": {"classes": args.classes},
                "trainer": {"epochs": args.epochs, "max_time": args.max_time, "accelerator": args.accelerator,
                            "progress": False}})
            t = time.perf_counter()
            train(cfg, run)
            res = evaluate(run)
            print(f"{name:>18}: trained in {time.perf_counter() - t:5.0f} s, "
                  f"accuracy {res['metrics']['accuracy']:.3f}", flush=True)
        runs.append(run)
    paths = landscape(collect_runs(runs), out / "report")
    print(Path(paths["markdown"]).read_text())
    (out / "command.json").write_text(json.dumps(vars(args), indent=1))


if __name__ == "__main__":
    main()
