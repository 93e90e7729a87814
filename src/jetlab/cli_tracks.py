"""The tracking half of the CLI: ``jetlab tracks generate | evaluate | info | plot``.

``cli.py`` adds the ``tracks`` command with :func:`add_parser` and hands its arguments to :func:`run`;
errors are :class:`jetlab.errors.JetlabError` lines, printed by ``cli.main``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from jetlab.cli_args import positive

__all__ = ["add_parser", "run", "format_info"]


def add_parser(sub: Any) -> None:
    """Add ``tracks`` and its subcommands to the subparsers ``sub`` of the ``jetlab`` parser."""
    p = sub.add_parser("tracks", help="tracking events through ACTS: generate, evaluate, info, plot",
                       description="Charged-particle tracking: Pythia 8 events through ACTS (Fatras, Generic "
                                   "detector) in the TrackML layout; any tracks scored with the TrackML score.")
    tsub = p.add_subparsers(dest="tracks_command", metavar="COMMAND", parser_class=type(p))
    tsub.required = True
    g = tsub.add_parser("generate", help="tt̄ + pileup events through ACTS Fatras into TrackML files",
                        description="Events in the TrackML layout + detectors.csv + manifest.json. Resumable: "
                                    "rerunning the same command skips complete events.")
    g.add_argument("--out", required=True, help="output directory")
    g.add_argument("--events", type=positive, default=100)
    g.add_argument("--pileup", type=float, default=10.0, help="mean number of minimum-bias interactions (Poisson)")
    g.add_argument("--hard", default="ttbar", choices=("ttbar", "none"), help="hard-scatter process")
    g.add_argument("--pt-min", type=float, default=0.1, help="generator particles kept above this pT, GeV")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--workers", type=positive, default=1, help="parallel processes")
    g.add_argument("--shard-size", type=positive, default=10, help="events per work block")
    g.add_argument("--no-progress", action="store_true")
    e = tsub.add_parser("evaluate", help="TrackML score, efficiency, fake and duplicate rates of tracks",
                        description="Score a submission CSV (event_id,hit_id,track_id) or ACTS's CKF against the "
                                    "truth: metrics.json and rate plots in --out.")
    e.add_argument("path", metavar="DIR")
    how = e.add_mutually_exclusive_group(required=True)
    how.add_argument("--tracks", metavar="FILE", help="submission CSV: event_id,hit_id,track_id")
    how.add_argument("--ckf", action="store_true", help="run ACTS seeding + CKF + ambiguity resolution")
    e.add_argument("--out", default=None, help="directory for metrics.json and plots (default DIR/evaluations/NAME)")
    e.add_argument("--pt-min", type=float, default=1.0, help="particles (and tracks) above this pT, GeV")
    e.add_argument("--detector", default=None, metavar="CSV", help="detectors.csv (default DIR/detectors.csv)")
    e.add_argument("--no-progress", action="store_true")
    i = tsub.add_parser("info", help="events, hits per layer, particles vs pT and eta")
    i.add_argument("path", metavar="DIR")
    i.add_argument("--max-events", type=positive, default=10, help="events read for the statistics")
    i.add_argument("--detector", default=None, metavar="CSV")
    i.add_argument("--json", action="store_true", help="machine-readable output")
    q = tsub.add_parser("plot", help="hits per layer, particle spectra, an event display")
    q.add_argument("path", metavar="DIR")
    q.add_argument("--out", required=True, help="directory for the PNGs")
    q.add_argument("--event", type=int, default=None, help="event shown (default the first)")
    q.add_argument("--tracks", metavar="FILE", default=None, help="colour hits by track of this submission")
    q.add_argument("--max-events", type=positive, default=10)
    q.add_argument("--detector", default=None, metavar="CSV")


def _num(v: Any, fmt: str = ".3f") -> str:
    return "n/a" if v is None or v != v else format(v, fmt)


def format_info(s: dict[str, Any]) -> str:
    """``jetlab tracks info`` as text."""
    lines = [f"{s['path']}: {s['n_events']} events ({s['first_event']}..{s['last_event']}), statistics over "
             f"{s['events_summarized']}: {s['hits_per_event']:.0f} hits and {s['particles_per_event']:.0f} particles "
             f"per event ({100 * s['charged_fraction']:.0f} % charged)"]
    if s.get("detector"):
        lines.append(f"detector: {s['detector']} ({s['n_modules']} modules)")
    if s.get("manifest"):
        m = s["manifest"]
        st = m.get("settings") or {}
        lines.append(f"made by {m.get('generator')}: {m.get('detector')}; hard {st.get('hard')}, pileup "
                     f"{st.get('pileup')}, seed {st.get('seed')}")
    n = s["events_summarized"]
    per_layer = ", ".join(f"{k} {v / n:.0f}" for k, v in s["hits_per_layer"].items())
    lines.append(f"hits per event by volume/layer: {per_layer}")
    for key, name in (("particles_vs_pt", "pT [GeV]"), ("particles_vs_eta", "eta")):
        lines.append(f"particles per event vs {name}: " + ", ".join(f"{k} {v / n:.1f}" for k, v in s[key].items()))
    return "\n".join(lines)


def _evaluate(args: argparse.Namespace) -> None:
    from jetlab.tasks.track_eval import evaluate_tracks

    m = evaluate_tracks(args.path, tracks=args.tracks, ckf=args.ckf, out=args.out, pt_min=args.pt_min,
                        detector=args.detector, progress=not args.no_progress)
    t = m["time_per_event_s"]
    timing = f"; {t['total']:.2f} s per event" if t else ""
    print(f"{m['out']}/metrics.json: {m['tracker']} on {m['n_events']} event(s): TrackML score "
          f"{_num(m['trackml_score'])} (pT > {args.pt_min:g} GeV particles: {_num(m['trackml_score_selected'])}); "
          f"efficiency {_num(m['efficiency'])} of {m['n_particles']} particles, fake rate {_num(m['fake_rate'])}, "
          f"duplicate rate {_num(m['duplicate_rate'])} of {m['n_tracks']} tracks{timing}")


def run(args: argparse.Namespace) -> int:
    """Run ``jetlab tracks <command>``; returns the exit status."""
    cmd = args.tracks_command
    if cmd == "generate":
        from jetlab.generate.tracking.runner import generate_tracks

        res = generate_tracks(args.out, events=args.events, pileup=args.pileup, hard=args.hard, pt_min=args.pt_min,
                              seed=args.seed, workers=args.workers, shard_size=args.shard_size,
                              progress=not args.no_progress)
        per = res["seconds_per_event"]
        print(f"{res['out']}: {res['events_made']} event(s) made, {res['events_skipped']} already complete"
              + (f"; {per:.2f} s per event per worker" if per is not None else "") + f"; {res['manifest']}")
    elif cmd == "evaluate":
        _evaluate(args)
    elif cmd == "info":
        from jetlab.generate.tracking.dataset import open_tracking_dir, summarize

        summary = summarize(open_tracking_dir(args.path, args.detector), max_events=args.max_events)
        print(json.dumps(summary, indent=2) if args.json else format_info(summary))
    elif cmd == "plot":
        from jetlab.generate.tracking.dataset import open_tracking_dir
        from jetlab.report.tracking_plots import plot_tracking_dir

        tdir = open_tracking_dir(args.path, args.detector)
        submission = None
        if args.tracks is not None:
            import numpy as np

            from jetlab.tasks.track_eval import read_submission

            shown = tdir.event_ids[0] if args.event is None else args.event
            empty = np.zeros(0, np.int64)
            submission = read_submission(args.tracks).get(shown, (empty, empty))
        for path in plot_tracking_dir(tdir, args.out, args.event, submission, max_events=args.max_events):
            print(path)
    return 0
