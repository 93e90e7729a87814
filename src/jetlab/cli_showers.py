"""``jetlab showers ...``: the calorimeter-shower commands. Thin: parse, call, print.

Values are checked where they are used (:class:`~jetlab.generate.showers.runner.ShowerConfig`), so the Python
API refuses what the command line refuses, as one line naming the flag.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_showers", "run_showers_command"]


def add_showers(sub: Any) -> None:
    """The ``showers`` command group, on the ``jetlab`` subparsers ``sub``."""
    p = sub.add_parser("showers", help="calorimeter showers: simulate with GFlash (CaloGAN, CaloChallenge layouts)")
    ssub = p.add_subparsers(dest="showers_command", metavar="{generate}", parser_class=type(p))
    ssub.required = True
    g = ssub.add_parser("generate", help="simulate showers into shards in a public layout + manifest.json",
                        description="GFlash (hep-ex/0001020) electromagnetic showers in the CaloGAN or CaloChallenge "
                                    "dataset-2 geometry; each shard is a file of that dataset's layout. Resumable: "
                                    "rerunning the same command skips whole shards; deterministic per --seed.")
    g.add_argument("--geometry", default="calogan", help="calogan (default) or challenge2")
    g.add_argument("--particle", default="e+",
                   help="e+ (default), e-, gamma, pi0 (decays to γγ 1.5 m before the face), or a list: gamma,pi0,e-")
    energy = g.add_mutually_exclusive_group()
    energy.add_argument("--energy", default=None, metavar="LO,HI",
                        help="incident energies uniform in [LO, HI] GeV (default for calogan: 1,100)")
    energy.add_argument("--log-energy", default=None, metavar="LO,HI",
                        help="incident energies log-uniform in [LO, HI] GeV (default for challenge2: 1,1000)")
    g.add_argument("--n", type=int, default=1000, help="showers per particle (default 1000)")
    g.add_argument("--impact-mm", type=float, default=0.0, metavar="A",
                   help="impact points uniform over an A×A mm square around the axis (default 0: on axis)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--workers", type=int, default=1, help="parallel processes")
    g.add_argument("--shard-size", type=int, default=1000, help="showers per shard file")
    g.add_argument("--out", required=True, help="output directory")
    g.add_argument("--no-progress", action="store_true")


def run_showers_command(args: argparse.Namespace) -> int:
    """Run a parsed ``jetlab showers ...`` command; errors propagate as :class:`~jetlab.errors.JetlabError`."""
    from jetlab.generate.showers.runner import ShowerConfig, generate_showers, parse_range

    spectrum = None
    if args.energy is not None:
        spectrum = ("uniform", *parse_range(args.energy, "--energy"))
    elif args.log_energy is not None:
        spectrum = ("log-uniform", *parse_range(args.log_energy, "--log-energy"))
    cfg = ShowerConfig(out=Path(args.out), geometry=args.geometry, particle=args.particle, n=args.n, spectrum=spectrum,
                       seed=args.seed, workers=args.workers, shard_size=args.shard_size, progress=not args.no_progress,
                       impact_mm=args.impact_mm)
    res = generate_showers(cfg)
    print(f"{res['out']}: {res['shards_made']} shard(s) made, {res['shards_skipped']} already whole; "
          f"{res['n_showers']} showers, {res['manifest']}")
    return 0
