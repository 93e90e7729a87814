"""The ``jetlab`` command line. Thin: parse, call :mod:`jetlab.api`, print.

Every user error ends as one line ``jetlab: error: ...`` and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from jetlab import __version__
from jetlab._quiet import third_party_quiet
from jetlab.cli_args import pair, positive
from jetlab.cli_dqm import add_parser as _add_dqm
from jetlab.cli_dqm import run as run_dqm_command
from jetlab.cli_showers import add_showers as _add_showers
from jetlab.cli_showers import run_showers_command
from jetlab.cli_tracks import add_parser as _add_tracks
from jetlab.cli_tracks import run as run_tracks_command
from jetlab.errors import JetlabError, one_line

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line instead of usage + message
        self.exit(2, f"{self.prog}: error: {message}\n")


def _add_generate(sub: Any) -> None:
    p = sub.add_parser("generate", help="generate labelled jets with Pythia 8 + FastJet",
                       description="Generate g/q/W/Z/top jets (anti-kT) into HDF5 shards + manifest.json. "
                                   "Resumable: rerunning the same command skips whole shards.")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--classes", default="g,q,w,z,t", help="classes to generate (default g,q,w,z,t)")
    p.add_argument("--jets-per-class", type=positive, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=positive, default=1, help="parallel processes")
    p.add_argument("--max-particles", type=positive, default=150, help="constituents stored per jet")
    p.add_argument("--pt-range", type=pair("pt-range"), default=(950.0, 1050.0), help="jet pT window, GeV")
    p.add_argument("--pthat-range", type=pair("pthat-range"), default=None,
                   help="Pythia pT-hat window, GeV (default: 0.9 x low .. 1.1 x high of --pt-range)")
    p.add_argument("--eta-max", type=float, default=2.5, help="jet |eta| cut")
    p.add_argument("--radius", type=float, default=0.8, help="anti-kT R")
    p.add_argument("--detector", choices=("none", "simple"), default="none")
    p.add_argument("--shard-size", type=positive, default=500, help="jets per shard file")
    p.add_argument("--shard", default=None, metavar="I/N", help="make only slice I of N (batch array jobs)")
    p.add_argument("--no-progress", action="store_true")


def _add_training(sub: Any) -> None:
    p = sub.add_parser("models", help="list the model registry")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("train", help="train a registered model (Lightning)",
                       description="Train any registered model on any supported dataset. Config layers: the model's "
                                   "packaged YAML < --config < flags. RUN gets config.yaml, checkpoints, logs.")
    p.add_argument("--model", default=None, help="registry name (see 'jetlab models')")
    p.add_argument("--task", default="classify",
                   help="a registered task: classify (default), generate (train a jet generator), anomaly")
    p.add_argument("--data", required=True, help="dataset (directory or file)")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--config", default=None, help="YAML with model/hparams/representation/data/optim/trainer")
    p.add_argument("--classes", default=None,
                   help="classes in the dataset's own names: g,q,w,z,t or binary t:g,q (generated jets), "
                        "top:qcd (Top Tagging), Hbb:QCD (JetClass); default: every class the dataset holds")
    p.add_argument("--epochs", type=positive, default=None)
    p.add_argument("--batch-size", type=positive, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--max-time", default=None, metavar="HH:MM:SS")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--precision", default=None, help="32-true (default), 16-mixed, bf16-mixed")
    p.add_argument("--accelerator", default=None, help="auto (default), cpu, gpu")
    p.add_argument("--devices", default=None, help="number of devices (or auto)")
    p.add_argument("--strategy", default=None, help="auto (default) or ddp")
    p.add_argument("--num-nodes", type=positive, default=None)
    p.add_argument("--max-jets", type=positive, default=None, help="use at most N jets per split")
    p.add_argument("--num-workers", type=int, default=None, help="data-loader processes")
    p.add_argument("--resume", action="store_true", help="continue RUN from checkpoints/last.ckpt")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--decorrelate", choices=("mass",), default=None,
                   help="binary tasks: penalize dependence of the output on jet mass (DisCo)")
    p.add_argument("--disco-lambda", type=float, default=None, help="strength of the DisCo penalty")
    _add_anomaly(sub, p)
    p = sub.add_parser("evaluate", help="metrics.json, predictions and ROC of a trained run")
    p.add_argument("run")
    p.add_argument("--data", default=None, help="dataset (default: the one the run was trained on)")
    p.add_argument("--out", default=None, help="output directory (default: RUN)")
    p.add_argument("--split", choices=("test", "all"), default="test")
    p.add_argument("--backend", choices=("torch", "onnx"), default="torch",
                   help="torch: the run's own library (PyTorch; LightGBM or numpy for fitted baselines); "
                        "onnx: ONNX Runtime on the exported graph (needs 'jetlab export' first)")
    p = sub.add_parser("export", help="export a trained network or fitted baseline to ONNX, checked by onnxruntime")
    p.add_argument("run")
    p.add_argument("--onnx", required=True, metavar="FILE", help="output .onnx file")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset of a network's graph (default: the exporter's)")
    p = sub.add_parser("sample", help="draw jets from a trained generator into a dataset file")
    p.add_argument("run")
    p.add_argument("--n", type=positive, required=True, help="number of jets")
    p.add_argument("--out", required=True, help="output file (a jetlab shard, .h5)")
    p.add_argument("--classes", default=None, help="classes to draw (default: all the generator knows)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--energies", default=None, metavar="GEV|DATA",
                   help="showers: one incident energy in GeV, or a shower dataset whose first N incident energies "
                        "are used (default: drawn from the training showers)")
    p = sub.add_parser("gen-metrics", help="W1M, W1P, W1EFP, FPD, KPD, classifier AUC of FAKE vs REAL and the floor")
    p.add_argument("real")
    p.add_argument("fake")
    p.add_argument("--classes", default=None, help="compare only these classes, e.g. t")
    p.add_argument("--n-particles", type=positive, default=30)
    p.add_argument("--plots", default=None, metavar="DIR", help="also write real-vs-generated plots into DIR")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("compare", help="landscape table (markdown + HTML) and ROC overlay of evaluated runs")
    p.add_argument("runs", nargs="+")
    p.add_argument("--out", required=True)


def _add_anomaly(sub: Any, train: argparse.ArgumentParser) -> None:
    p = sub.add_parser("anomaly", help="anomaly detection: autoencoders trained on background jets")
    asub = p.add_subparsers(dest="anomaly_command", metavar="{train,evaluate}", parser_class=_Parser)
    asub.required = True
    t = asub.add_parser("train", help="train an autoencoder on the background classes only",
                        parents=[train], add_help=False, conflict_handler="resolve")
    t.add_argument("--background", default="g,q", help="background classes (default g,q: QCD)")
    e = asub.add_parser("evaluate", help="score every class of the test split: AUC, SIC, εS at fixed εB, plots")
    e.add_argument("run")
    e.add_argument("--data", default=None)
    e.add_argument("--out", default=None)
    e.add_argument("--score", default=None, help="score kind (mse; vae: kl, combined; set_ae: chamfer)")


def _train_overrides(a: argparse.Namespace) -> dict[str, Any]:
    flags = {"data": {"classes": a.classes, "max_jets": a.max_jets, "num_workers": a.num_workers},
             "optim": {"lr": a.lr},
             "loss": {"decorrelate": getattr(a, "decorrelate", None), "disco_lambda": getattr(a, "disco_lambda", None)},
             "trainer": {"epochs": a.epochs, "batch_size": a.batch_size, "max_time": a.max_time, "seed": a.seed,
                         "precision": a.precision, "accelerator": a.accelerator, "strategy": a.strategy,
                         "num_nodes": a.num_nodes, "progress": False if a.no_progress else None,
                         "devices": int(a.devices) if a.devices and a.devices.isdigit() else a.devices}}
    return {k: {f: v for f, v in sec.items() if v is not None} for k, sec in flags.items()}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="jetlab", description="Deep learning on collider jets.")
    parser.add_argument("--version", action="version", version=f"jetlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    _add_generate(sub)
    p = sub.add_parser("merge", help="join --shard slices into one dataset (or rebuild a manifest)")
    p.add_argument("sources", nargs="+", help="directories holding shards")
    p.add_argument("--out", default=None, help="destination (default: the first source, in place)")
    p = sub.add_parser("info", help="summarize any supported dataset")
    p.add_argument("path")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = sub.add_parser("plot", help="dataset plots: HLF per class, average jet images, multiplicity")
    p.add_argument("path")
    p.add_argument("--out", required=True, help="directory for the PNGs")
    p = sub.add_parser("convert", help="write a dataset in another layout (hls4ml, for the course notebooks)")
    p.add_argument("path")
    p.add_argument("--to", default="hls4ml", choices=("hls4ml",))
    p.add_argument("--out", required=True)
    p.add_argument("--n-particles", type=positive, default=100, help="constituents per jet in the output")
    _add_training(sub)
    _add_showers(sub)
    _add_tracks(sub)
    _add_dqm(sub)
    p = sub.add_parser("quickstart",
                       help="the demo: dataset, plots, three models trained and compared (~10 min on 2 cores)")
    p.add_argument("--out", default="quickstart")
    p.add_argument("--jets-per-class", type=positive, default=1000)
    p.add_argument("--workers", type=positive, default=None)
    return parser


def _run(args: argparse.Namespace) -> int:
    import jetlab.api as api

    if args.command == "generate":
        from jetlab.generate.config import parse_slice

        res = api.generate(args.out, classes=tuple(args.classes.split(",")), jets_per_class=args.jets_per_class,
                           seed=args.seed, workers=args.workers, max_particles=args.max_particles,
                           pt_range=args.pt_range, pthat_range=args.pthat_range, eta_max=args.eta_max,
                           radius=args.radius, detector=args.detector, shard_size=args.shard_size,
                           slice=parse_slice(args.shard) if args.shard else (0, 1), progress=not args.no_progress)
        done = "dataset complete" if "manifest" in res else f"{res['missing']} shard(s) of other slices missing"
        print(f"{args.out}: {res['shards_made']} shard(s) made, {res['shards_skipped']} already whole; {done}")
    elif args.command == "merge":
        print(f"wrote {api.merge(args.sources, args.out)}")
    elif args.command == "info":
        summary = api.info(args.path)
        if args.json:
            print(json.dumps(summary, indent=2))
        elif summary.get("kind") == "showers":
            from jetlab.report.shower_summary import format_showers

            print(format_showers(summary))
        else:
            from jetlab.report.summary import format_summary

            print(format_summary(summary))
    elif args.command == "plot":
        for path in api.plot(args.path, args.out):
            print(path)
    elif args.command == "convert":
        for path in api.convert(args.path, args.out, to=args.to, n_particles=args.n_particles):
            print(path)
    elif args.command in ("models", "train", "evaluate", "export", "compare", "anomaly", "sample",
                          "gen-metrics"):
        from jetlab.cli_train import run_training_command

        return run_training_command(args, _train_overrides)
    elif args.command == "showers":
        return run_showers_command(args)
    elif args.command == "tracks":
        return run_tracks_command(args)
    elif args.command == "dqm":
        return run_dqm_command(args)
    elif args.command == "quickstart":
        res = api.quickstart(args.out, jets_per_class=args.jets_per_class, workers=args.workers)
        print(f"dataset: {res['dataset']}\nplots:\n  " + "\n  ".join(res["plots"]))
        print("runs:\n  " + "\n  ".join(res["runs"]) + "\nreport:\n  " + "\n  ".join(res["report"].values()))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    third_party_quiet()
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except JetlabError as e:
        print(f"jetlab: error: {one_line(e)}", file=sys.stderr)
        return 2
    except OSError as e:  # disk full, read-only directory, permission denied, ...
        where = f"{e.filename}: " if e.filename else ""
        print(f"jetlab: error: {one_line(f'{where}{e.strerror or e}')}", file=sys.stderr)
        return 2
    except MemoryError:
        print("jetlab: error: out of memory (use fewer jets or a smaller --batch-size)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("jetlab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
