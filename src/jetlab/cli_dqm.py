"""``jetlab dqm ...``: data-quality monitoring maps. Thin: parse, call, print.

    jetlab dqm generate --out DIR --detector calorimeter|tracker --maps N [--events-per-map E]
                        [--fault-fraction 0.5] --seed S --workers K
    jetlab dqm evaluate RUN [--data DIR] [--out OUT]          # an autoencoder run + the baselines
    jetlab dqm evaluate --baseline chi2 --baseline ks --data DIR --out OUT
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """The ``dqm`` command group on the ``jetlab`` subparsers ``sub``."""
    p = sub.add_parser("dqm", help="data-quality monitoring: detector maps with injected faults, evaluation")
    dsub = p.add_subparsers(dest="dqm_command", metavar="{generate,evaluate}", parser_class=type(p))
    dsub.required = True
    g = dsub.add_parser("generate", help="lumisection maps with injected faults into shards + manifest.json",
                        description="Per lumisection an occupancy (and energy) map of the detector from many "
                                    "simulated events, with dead, hot, noisy, gain-drifted or shifted channels "
                                    "injected at known places and strengths. Resumable, deterministic per --seed.")
    g.add_argument("--out", required=True, help="output directory")
    g.add_argument("--detector", default="calorimeter", help="calorimeter (default) or tracker")
    g.add_argument("--maps", type=int, default=1000, help="lumisections (default 1000)")
    g.add_argument("--events-per-map", type=int, default=None, help="events per lumisection (500 calo, 200 tracker)")
    g.add_argument("--fault-fraction", type=float, default=0.5, help="fraction of faulty maps (default 0.5)")
    g.add_argument("--strengths", default="0.1,0.25,0.5,1", help="fault strengths drawn from (comma list)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--workers", type=int, default=1, help="parallel processes")
    g.add_argument("--shard-size", type=int, default=1000, help="maps per shard file")
    g.add_argument("--no-progress", action="store_true")
    e = dsub.add_parser("evaluate", help="an autoencoder run and the χ²/KS baselines on the test maps",
                        description="AUC, efficiency at false-alarm rates 1e-2 and 1e-3, localization, vs strength.")
    e.add_argument("run", nargs="?", default=None, help="an anomaly run trained on these maps (optional)")
    e.add_argument("--baseline", action="append", default=None, help="chi2, max_pull, ks (repeatable; default all)")
    e.add_argument("--data", default=None, help="DQM dataset (default: the run's)")
    e.add_argument("--reference", default=None, help=".npz with reference (and reference_std) maps to compare with")
    e.add_argument("--out", default=None, help="output directory (default RUN/dqm)")


def _strengths(text: str) -> tuple[float, ...]:
    from jetlab.errors import UsageError

    try:
        return tuple(float(s) for s in text.split(","))
    except ValueError:
        raise UsageError(f"--strengths: expected comma-separated numbers in (0, 1], got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    """Run a parsed ``jetlab dqm ...`` command; errors propagate as :class:`~jetlab.errors.JetlabError`."""
    if args.dqm_command == "generate":
        from jetlab.generate.dqm import DQMConfig, generate_dqm

        cfg = DQMConfig(out=Path(args.out), detector=args.detector, n_maps=args.maps,
                        events_per_map=args.events_per_map, fault_fraction=args.fault_fraction,
                        strengths=_strengths(args.strengths), seed=args.seed, workers=args.workers,
                        shard_size=args.shard_size, progress=not args.no_progress)
        res = generate_dqm(cfg)
        print(f"{res['out']}: {res['shards_made']} shard(s) made, {res['shards_skipped']} already whole; "
              f"{res['n_maps']} maps, {res['manifest']}")
        return 0
    from jetlab.tasks.dqm_eval import BASELINES, evaluate_dqm

    res = evaluate_dqm(args.run, args.data, args.out, tuple(args.baseline or BASELINES), args.reference)
    for name, m in res["methods"].items():
        eff = m["efficiency"]["0.01"]
        text = f"{eff['efficiency']:.3f}" if eff["measurable"] else "not measurable"
        loc = (m.get("localization") or {}).get("efficiency")
        print(f"{name:12s} AUC {m['auc'] or float('nan'):.4f}  eff@1e-2 {text}  "
              f"localization {'-' if loc is None else f'{loc:.3f}'}")
    print(f"{res['out']}/metrics.json")
    return 0
