"""The training half of the CLI: ``models``, ``train``, ``evaluate``, ``compare``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

__all__ = ["run_training_command", "models_table"]


def models_table() -> list[dict[str, Any]]:
    """One row per registered model; parameter counts at the defaults (stated ones for PyG models)."""
    from jetlab.models import count_parameters, create, list_models

    rows = []
    for spec in list_models():
        params = None if spec.engine != "torch" else spec.params or count_parameters(create(spec.name))
        rows.append({"name": spec.name, "family": spec.family, "representation": spec.representation,
                     "task": spec.task, "paper": spec.paper, "aliases": list(spec.aliases), "params": params,
                     "summary": spec.summary})
    return rows


def _anomaly(args: argparse.Namespace, overrides: Callable[[argparse.Namespace], dict[str, Any]]) -> int:
    if args.anomaly_command == "train":
        from jetlab.tasks.config import load_yaml, resolve_config
        from jetlab.tasks.train import train

        flags = overrides(args)
        if args.classes:
            from jetlab.errors import UsageError

            raise UsageError("--classes: anomaly training uses --background (the signal is every other class)")
        flags["data"]["classes"] = args.background
        user = load_yaml(args.config) if args.config else None
        cfg = resolve_config(args.model, args.data, user, flags, task="anomaly")
        res = train(cfg, args.out, resume=args.resume)
        print(f"{args.out}: {res['model']} trained on {','.join(res['classes'])} for {res['epochs']} epochs "
              f"in {res['train_time_s']:.0f} s, best val_loss {res['best_val_loss']:.4f}")
    else:
        from jetlab.tasks.anomaly_eval import evaluate_anomaly

        res = evaluate_anomaly(args.run, args.data, args.out, score=args.score)
        print(json.dumps({"model": res["model"], "score": res["score"],
                          "auc": {c: m["auc"] for c, m in res["metrics"]["signals"].items()}}, indent=1))
    return 0


def run_training_command(args: argparse.Namespace, overrides: Callable[[argparse.Namespace], dict[str, Any]]) -> int:
    if args.command == "models":
        rows = models_table()
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            print(f"{'name':<18} {'task':<9} {'family':<12} {'input':<10} {'params':>10}  summary")
            for r in rows:
                params = f"{r['params']:>10,}" if r["params"] is not None else f"{'(fitted)':>10}"
                alias = f" (deprecated alias: {', '.join(r['aliases'])})" if r["aliases"] else ""
                print(f"{r['name']:<18} {r['task']:<9} {r['family']:<12} {r['representation']:<10} {params}  "
                      f"{r['summary']}{alias}")
    elif args.command == "train":
        from jetlab.tasks.config import load_yaml, resolve_config
        from jetlab.tasks.train import train

        user = load_yaml(args.config) if args.config else None
        cfg = resolve_config(args.model, args.data, user, overrides(args), task=args.task)
        res = train(cfg, args.out, resume=args.resume)
        best = res["best_val_loss"]
        print(f"{args.out}: {res['model']} trained {res['epochs']} epochs in {res['train_time_s']:.0f} s"
              + (f", best val_loss {best:.4f}" if best is not None else ""))
    elif args.command == "anomaly":
        return _anomaly(args, overrides)
    elif args.command == "gen-metrics":
        from jetlab.tasks.gen_metrics import format_gen_metrics, gen_metrics

        res = gen_metrics(args.real, args.fake, classes=args.classes, n_particles=args.n_particles, plots=args.plots)
        print(json.dumps(res, indent=1) if args.json else format_gen_metrics(res))
    elif args.command == "sample":
        from jetlab.tasks.sample import sample

        res = sample(args.run, args.n, args.out, classes=args.classes, seed=args.seed, energies=args.energies)
        what = "showers" if "showers_per_s" in res else "jets"
        rate = res.get("showers_per_s", res.get("jets_per_s", 0.0))
        print(f"{res['out']}: {res['n']} {what} of {','.join(res['classes'])} ({rate:.0f} {what}/s)")
    elif args.command == "evaluate":
        from jetlab.tasks.registry import get_task
        from jetlab.tasks.runfiles import load_run

        task = load_run(args.run).task
        if task != "classify":  # the run's own task evaluates it (anomaly: AUC and SIC per signal class)
            res = get_task(task).evaluator()(args.run, args.data, args.out)
            summary = {"model": res["model"], "task": task}
            if "n_events" in res:  # tracking: events, not jets; the headline rates of metrics.json
                summary["n_events"] = res["n_events"]
                summary.update({k: res["metrics"].get(k) for k in ("efficiency", "fake_rate", "trackml_score",
                                                                   "trackml_score_selected")})
            else:
                summary["n_jets"] = res.get("n_jets")
            print(json.dumps(summary, indent=1))
            return 0
        from jetlab.tasks.evaluate import evaluate

        res = evaluate(args.run, args.data, args.out, split=args.split, backend=args.backend)
        summary = {"model": res["model"], "backend": res["backend"], "n_jets": res["n_jets"],
                   "auc": res["metrics"].get("auc")}
        sculpting = res["metrics"].get("sculpting")
        if sculpting:  # binary runs: the mass sculpting next to its finite-sample floor
            summary["sculpting"] = {k: sculpting.get(k) for k in ("eff_s", "rejection", "jsd", "jsd_floor",
                                                                  "jsd_floor_std")}
        print(json.dumps(summary, indent=1))
    elif args.command == "export":
        from jetlab.export import export_run

        res = export_run(args.run, args.onnx, opset=args.opset)
        print(f"{res['onnx']}: {res['model']} exported; onnxruntime vs {res['reference']} max |diff| = "
              f"{res['max_abs_diff']:.2e} on {res['n_checked']} jets")
    elif args.command == "compare":
        from jetlab.report.compare import landscape
        from jetlab.tasks.compare import collect_runs

        for path in landscape(collect_runs(args.runs), args.out).values():
            print(path)
    return 0
