"""Benchmark: the tagger landscape — every registered classifier on one generated dataset, one budget.

Generates (or reuses) a dataset, trains each model for at most --epochs epochs or --max-time,
evaluates it on the shared test split and writes the comparison report (markdown + HTML + ROC
overlay). Prints the markdown table at the end.

Run (about an hour on 2 CPU cores with the defaults):
    python benchmarks/landscape.py --out benchmarks/results/landscape
Top vs QCD with the baselines and the Lorentz-equivariant models (issue 7's table):
    python benchmarks/landscape.py --preset top --out benchmarks/results/top
Full size on a GPU (paper-size models, more data):
    python benchmarks/landscape.py --jets-per-class 100000 --epochs 30 --max-time 01:00:00 \\
        --accelerator gpu --models particlenet,part,pfn,... --out landscape-gpu
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from jetlab.api import generate
from jetlab.models import list_models
from jetlab.report.compare import landscape
from jetlab.tasks.compare import collect_runs
from jetlab.tasks.config import resolve_config
from jetlab.tasks.evaluate import evaluate
from jetlab.tasks.train import train

from _record import recorded

# CPU-sized choices: lite variants, and the heaviest models at reduced size.
DEFAULT_MODELS = ("mlp", "cnn", "resnet", "gru", "lstm", "deepsets", "pfn", "efn", "pointnet", "set_transformer",
                  "part_lite", "gcn", "gat", "particlenet_lite", "interaction_net", "lorentznet", "pelican",
                  "bdt", "efp_linear")
# Binary top tagging: the physicist's baselines (cuts, BDT, linear EFPs) next to the deep sets, graph,
# transformer and Lorentz-equivariant networks, on the same jets and budget.
TOP_MODELS = ("cut_tau32", "cut_mass", "bdt", "efp_linear", "pfn", "particlenet", "particlenet_lite", "part",
              "lorentznet", "pelican")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="benchmarks/_data/landscape", help="dataset (generated if missing)")
    ap.add_argument("--jets-per-class", type=int, default=3000)
    ap.add_argument("--preset", choices=("all", "top"), default="all",
                    help="all: every classifier on 5 classes; top: t vs g,q with baselines (sets --models, --classes)")
    ap.add_argument("--models", default=None, help="comma-separated registry names (default: the preset's)")
    ap.add_argument("--classes", default=None, help="default: g,q,w,z,t (preset all) or t:g,q (preset top)")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--max-time", default="00:03:30", help="per model")
    ap.add_argument("--accelerator", default="auto")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="benchmarks/results/landscape")
    ap.add_argument("--fresh", action="store_true", help="retrain runs that already exist")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch intra-op threads (default: torch's); 1 keeps a shared machine from oversubscribing")
    args = ap.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    print(f"budget per model: at most {args.epochs} epochs or {args.max_time} of wall clock; "
          f"classes {args.classes or 'preset'}; data {args.data}", flush=True)

    if args.models is None:
        args.models = ",".join(TOP_MODELS if args.preset == "top" else DEFAULT_MODELS)
    if args.classes is None:
        args.classes = "t:g,q" if args.preset == "top" else "g,q,w,z,t"
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
        else:
            print(f"{name:>18}: REUSED from an earlier invocation ({run}); use --fresh for one-invocation tables")
        runs.append(run)
    collected = collect_runs(runs)
    paths = landscape(collected, out / "report")
    print(Path(paths["markdown"]).read_text())
    if ":" in args.classes:  # binary: the two numbers papers quote
        print(summary_table(collected))
    (out / "command.json").write_text(json.dumps(vars(args), indent=1))
    return 0


def summary_table(runs: list[dict]) -> str:
    """Markdown: model, inductive bias, params, AUC, 1/εB at εS = 0.3 (binary runs), best AUC first."""
    lines = ["| model | inductive bias | params | AUC | 1/εB @ εS=0.3 | train time |", "|---|---|---:|---:|---:|---:|"]
    rows = []
    for r in runs:
        m = r["metrics"]
        sig = next(iter(m["auc"]))
        rej = (m.get("rejection") or {}).get(sig, {}).get("0.3", {})
        rej_text = f"> {m['n_background'][sig]}" if rej.get("inf") else "—"
        if rej.get("value") is not None:
            rej_text = f"{rej['value']:.0f}" + (f" ± {rej['unc']:.0f}" if rej.get("unc") is not None else "")
        rows.append((m["auc"][sig], r["model"], r["bias"], r["params"], m.get("auc_unc", {}).get(sig), rej_text,
                     r["train_time_s"]))
    for auc, model, bias, params, auc_unc, rej_text, t in sorted(rows, key=lambda x: -x[0]):
        unc = f" ± {auc_unc:.3f}" if auc_unc is not None else ""
        lines.append(f"| {model} | {bias} | {params:,} | {auc:.3f}{unc} | {rej_text} | {t or 0:.0f} s |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(recorded("landscape", main))
