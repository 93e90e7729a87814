"""Benchmark: the GNN, the LSTM and ACTS's CKF on the same tt̄ + pileup events, through the same evaluation.

Per pileup μ (``--pileups``): ``jetlab tracks generate`` makes training events (seed ``--seed`` + μ) and,
apart, test events (seed ``--seed`` + μ + 1000), both reproducible; the interaction network
(``interaction_net_tracking``) and the LSTM follower (``lstm_tracker``) train on the training events
(their own 80/20 train/val split, no test split) through ``jetlab.api.train(..., task="track")`` at
their registry recipes but for ``--epochs`` (per pileup; ``--max-time`` caps each training);
``jetlab.api.evaluate(run, data=TEST)`` runs each tracker on every test event (graph, edge scores and
track building; seeds and LSTM following) and writes its tracks as a submission (the GNN twice: with
the default minimum of 5 hits per track and with 7, the CKF's minimum number of measurements). The
trackers' tracks are then scored alike by ``jetlab.tasks.track_eval.evaluate_tracks`` (``jetlab tracks
evaluate TEST --tracks FILE`` for the ML trackers, ``--ckf`` for ACTS seeding + CKF + ambiguity
resolution run on the hits).

Columns: efficiency of the selected particles (charged, pT > 1 GeV, |η| < 2.5, >= 5 hits, produced
within 10 mm of the beam line; a particle is found if a track holds > 50 % of its hits at > 50 % purity);
fake and duplicate rates of the tracks with an estimated pT > 1 GeV and |η| < 2.5; the TrackML score
(all hits, and with only the selected particles' hits weighted); seconds per event on one CPU thread
(hits in, tracks out: graph + GNN + building, seeding + LSTM following, ACTS's algorithms). The GNN's
graph construction: efficiency (true edges of pT > 1 GeV particles kept), purity (true / all edges);
the edge classifier's AUC and its efficiency and purity at the track-building cut, over the test graphs.

Run:  OMP_NUM_THREADS=1 python benchmarks/tracking.py [--pileups 0,10] [--train-events 48,20]
                                                     [--test-events 20,10] [--epochs 30,15] [--max-time 00:08:00]
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import torch

import jetlab.api as jl
from jetlab.generate.tracking.runner import generate_tracks
from jetlab.tasks.track_eval import evaluate_tracks

from _record import recorded

PIPELINES = (("gnn", "GNN (interaction network, walk-through)"), ("gnn7", "GNN, tracks of >= 7 hits"),
             ("lstm", "LSTM follower"), ("ckf", "ACTS seeding + CKF"))
GOALS = {  # the issue's goals (pT > 1 GeV particles)
    "gnn_efficiency": 0.95, "gnn_fake_rate": 0.01, "gnn_score_selected": 0.9, "lstm_efficiency": 0.90,
    "graph_efficiency": 0.985}


def per_pileup(args: list[str], n: int) -> list[int]:
    v = [int(x) for x in args]
    return v if len(v) == n else [v[0]] * n


def make_events(out: Path, n: int, mu: float, seed: int) -> dict[str, Any]:
    """``jetlab tracks generate`` into ``out`` (resumable: complete events are kept)."""
    start = time.perf_counter()
    res = generate_tracks(out, events=n, pileup=mu, hard="ttbar", seed=seed, workers=1, progress=False)
    print(f"  {out}: {n} events at pileup {mu:g}, seed {seed}: {res['events_made']} made, "
          f"{res['events_skipped']} already there ({time.perf_counter() - start:.0f} s)", flush=True)
    return res


def run_tests(run: Path, test_dir: Path, name: str, **options: Any) -> dict[str, Any]:
    """Run a trained tracker on every event of ``test_dir`` and score its submission like the CKF's."""
    res = jl.evaluate(run, data=test_dir, out=run / name, **options)
    scored = evaluate_tracks(test_dir, tracks=run / name / "submission.csv", out=run / name / "scored")
    return {"run": res, "scored": scored, "time": res["time_per_event_s"]["total"]}


def train_tracker(model: str, train_dir: Path, run: Path, epochs: int, max_time: str) -> dict[str, Any]:
    """Train ``model`` on ``train_dir`` (every event: train and val, no test split)."""
    shutil.rmtree(run, ignore_errors=True)
    s = jl.train(model, train_dir, run, task="track", config={"data": {"test_fraction": 0.0}},
                 trainer={"epochs": epochs, "max_time": max_time, "progress": False})
    print(f"  {model}: {s['epochs']} epochs in {s['train_time_s']:.0f} s on {s['n_train']} + {s['n_val']} (val) "
          f"events, best val_loss {s['best_val_loss']:.4g}", flush=True)
    return s


def ckf(test_dir: Path, out: Path) -> dict[str, Any]:
    scored = evaluate_tracks(test_dir, ckf=True, out=out)
    print(f"  ckf: {scored['time_per_event_s']['total']:.2f} s per test event (setup {scored['setup_s']:.0f} s)",
          flush=True)
    return {"scored": scored, "time": scored["time_per_event_s"]["total"]}


def pct(v: float | None, digits: int = 2) -> str:
    return "n/a" if v is None or v != v else f"{100 * v:.{digits}f} %"


def num(v: float | None, fmt: str = ".3f") -> str:
    return "n/a" if v is None or v != v else format(v, fmt)


def met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def summary(rows: dict[float, dict[str, dict[str, Any]]]) -> None:
    """Where each pipeline wins, and the issue's goals next to the measured values."""
    print("\nsummary (pT > 1 GeV particles; rates pooled over the test events):")
    for mu, r in rows.items():
        m = {k: v["scored"] for k, v in r.items()}
        names = {"gnn": "GNN", "gnn7": "GNN (>= 7 hits)", "lstm": "LSTM", "ckf": "CKF"}
        best_eff = max(m, key=lambda k: m[k]["efficiency"])
        best_fake = min(m, key=lambda k: m[k]["fake_rate"] if m[k]["fake_rate"] == m[k]["fake_rate"] else 2.0)
        best_score = max(m, key=lambda k: m[k]["trackml_score"])
        fastest = min(r, key=lambda k: r[k]["time"])
        print(f"- pileup {mu:g}: highest efficiency {names[best_eff]} ({pct(m[best_eff]['efficiency'])}), "
              f"lowest fake rate {names[best_fake]} ({pct(m[best_fake]['fake_rate'])}), highest full TrackML "
              f"score {names[best_score]} ({num(m[best_score]['trackml_score'])}), fastest {names[fastest]} "
              f"({r[fastest]['time']:.2f} s per event)")
    print("\ngoals of the issue vs measured:")
    for mu, r in rows.items():
        g, c, lstm = r["gnn"]["scored"], r["ckf"]["scored"], r["lstm"]["scored"]
        graph = r["gnn"]["run"]["graph"]
        print(f"- pileup {mu:g}:")
        print(f"  GNN efficiency >= {pct(GOALS['gnn_efficiency'], 0)}: {pct(g['efficiency'])} "
              f"{met(g['efficiency'] >= GOALS['gnn_efficiency'])}")
        g7 = r["gnn7"]["scored"]
        print(f"  GNN fake rate <= {pct(GOALS['gnn_fake_rate'], 0)}: {pct(g['fake_rate'])} "
              f"{met(g['fake_rate'] <= GOALS['gnn_fake_rate'])} (tracks of >= 7 hits: {pct(g7['fake_rate'])} "
              f"at {pct(g7['efficiency'])} efficiency)")
        print(f"  GNN TrackML score (pT > 1 GeV particles) >= {GOALS['gnn_score_selected']}: "
              f"{num(g['trackml_score_selected'])} {met(g['trackml_score_selected'] >= GOALS['gnn_score_selected'])}")
        ok = g["efficiency"] >= c["efficiency"] and g["fake_rate"] <= c["fake_rate"]
        print(f"  GNN at least CKF's efficiency at an equal or lower fake rate: GNN {pct(g['efficiency'])} / "
              f"{pct(g['fake_rate'])} vs CKF {pct(c['efficiency'])} / {pct(c['fake_rate'])} {met(ok)}")
        print(f"  graph construction keeps >= {pct(GOALS['graph_efficiency'], 1)} of true edges: "
              f"{pct(graph['efficiency'])} {met(graph['efficiency'] >= GOALS['graph_efficiency'])}")
        low = "" if mu <= 10 else " (the goal is for low pileup)"
        print(f"  LSTM efficiency >= {pct(GOALS['lstm_efficiency'], 0)}{low}: {pct(lstm['efficiency'])} "
              f"{met(lstm['efficiency'] >= GOALS['lstm_efficiency'])}")


def table(rows: dict[float, dict[str, dict[str, Any]]], n_test: dict[float, int]) -> None:
    print("\n| pileup | pipeline | efficiency (pT > 1 GeV) | fake rate | duplicate rate | TrackML score "
          "| TrackML score (pT > 1 GeV particles) | tracks per event | s per event |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for mu, r in rows.items():
        for key, label in PIPELINES:
            m, n = r[key]["scored"], n_test[mu]
            print(f"| {mu:g} | {label} | {pct(m['efficiency'])} | {pct(m['fake_rate'])} | {pct(m['duplicate_rate'])} "
                  f"| {num(m['trackml_score'])} | {num(m['trackml_score_selected'])} | {m['n_tracks'] / n:.0f} "
                  f"| {r[key]['time']:.2f} |")
    print("\n| pileup | graph edges per event | graph efficiency (true edges, pT > 1 GeV) | graph purity "
          "| edge AUC | edge efficiency at cut | edge purity at cut | LSTM next hit within k σ |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for mu, r in rows.items():
        gr, e, nh = r["gnn"]["run"]["graph"], r["gnn"]["run"]["edges"], r["lstm"]["run"].get("next_hit", {})
        print(f"| {mu:g} | {gr['edges_per_event']:.0f} | {pct(gr['efficiency'])} | {pct(gr['purity'])} "
              f"| {num(e.get('auc'), '.4f')} | {pct(e.get('efficiency'))} (cut {e.get('cut')}) "
              f"| {pct(e.get('purity'))} | {pct(nh.get('within_k_sigma'))} (k = {nh.get('k_sigma')}) |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pileups", default="0,10", help="mean pileup of each sample")
    ap.add_argument("--train-events", default="48,20", help="training events per pileup (one value: all)")
    ap.add_argument("--test-events", default="20,10", help="test events per pileup (one value: all)")
    ap.add_argument("--seed", type=int, default=1400)
    ap.add_argument("--epochs", default="30,15", help="epochs per pileup (the recipes: 30)")
    ap.add_argument("--max-time", default="00:08:00", help="training time cap per tracker")
    ap.add_argument("--out", default="benchmarks/results/tracking")
    args = ap.parse_args()
    print("reproduce: OMP_NUM_THREADS=1 python benchmarks/tracking.py " + shlex.join(sys.argv[1:]))
    torch.set_num_threads(1)
    pileups = [float(x) for x in args.pileups.split(",")]
    n_train = per_pileup(args.train_events.split(","), len(pileups))
    n_test = per_pileup(args.test_events.split(","), len(pileups))
    n_epochs = per_pileup(args.epochs.split(","), len(pileups))
    out = Path(args.out)
    print(f"torch {torch.__version__} on 1 CPU thread; tt̄ + Poisson(μ) minimum bias through ACTS Fatras "
          f"(Generic detector, 2 T)")
    rows: dict[float, dict[str, dict[str, Any]]] = {}
    for mu, n_tr, n_te, epochs in zip(pileups, n_train, n_test, n_epochs):
        print(f"\npileup {mu:g}: {n_tr} training events, {n_te} test events, {epochs} epochs", flush=True)
        base = out / f"pu{mu:g}"
        train_dir, test_dir = base / "train", base / "test"
        make_events(train_dir, n_tr, mu, args.seed + int(mu))
        make_events(test_dir, n_te, mu, args.seed + int(mu) + 1000)
        train_tracker("interaction_net_tracking", train_dir, base / "gnn", epochs, args.max_time)
        train_tracker("lstm_tracker", train_dir, base / "lstm", epochs, args.max_time)
        rows[mu] = {"gnn": run_tests(base / "gnn", test_dir, "test"),
                    "gnn7": run_tests(base / "gnn", test_dir, "test_min7", min_hits=7),
                    "lstm": run_tests(base / "lstm", test_dir, "test"), "ckf": ckf(test_dir, base / "ckf")}
        print("  seconds per test event: " + ", ".join(f"{k} {v['time']:.2f}" for k, v in rows[mu].items()),
              flush=True)
    table(rows, dict(zip(pileups, n_test)))
    summary(rows)
    (out / "summary.json").write_text(json.dumps(
        {f"{mu:g}": {k: {kk: v[kk] for kk in ("time",)} | {"scored": {
            m: v["scored"][m] for m in ("efficiency", "fake_rate", "duplicate_rate", "trackml_score",
                                        "trackml_score_selected", "n_tracks", "n_particles")}}
            for k, v in r.items()} for mu, r in rows.items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(recorded("tracking", main))
