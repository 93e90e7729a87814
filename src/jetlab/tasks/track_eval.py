"""``jetlab tracks evaluate``: any reconstructed tracks of a TrackML directory, scored against its truth.

Tracks come from a submission CSV ``event_id,hit_id,track_id`` (the Kaggle challenge's, one row per
assigned hit, each hit at most once per event; hits left out are on no track; an event of the directory
without rows has no tracks) or from ACTS's classical chain run on the hits (``ckf=True``,
:mod:`jetlab.tasks.track_ckf`; its submission is written to ``OUT/tracks.csv``).

Per event (definitions in :mod:`jetlab.metrics.trackml`):

- ``trackml_score``: the challenge score (all hits, challenge weights); ``trackml_score_selected``: the
  same with only the hits of *selected* particles weighted (their weights renormalised to 1);
- *selected* particles: charged, pT > ``pt_min``, |η| < ``eta_max``, >= ``min_hits`` hits, produced
  within ``r_max`` of the beam line (:class:`EvalConfig`);
- efficiency over the selected particles (a particle is found if a track holds > 50 % of its hits with
  purity > 50 %); fake and duplicate rates over the tracks with >= ``min_track_hits`` hits and an
  estimated pT > ``pt_min`` and |η| < ``eta_max`` (``*_all``: every track with >= ``min_track_hits``).

Track pT and η are estimated from the hits alone (the same for every tracker): a circle through the
beam line and the hits in x-y (algebraic least squares) gives pT = 0.3 B R (GeV, T, m), a line z(s) in
the transverse arc length s gives cot θ. Binned rates: efficiency vs pT (every cut but pT) and vs η,
fake rate vs the track's estimate, duplicate rate vs the matched particle's. Rates pool all events;
scores are the mean over events (the challenge's leaderboard). ``metrics.json`` and the plots go to ``OUT``.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from jetlab.errors import FormatError, UsageError
from jetlab.generate.tracking.dataset import open_tracking_dir
from jetlab.io.atomic import atomic_write_text
from jetlab.io.trackml import Event, event_path, read_csv
from jetlab.metrics.trackml import (
    ETA_EDGES,
    PT_EDGES,
    binned_fraction,
    match_tracks,
    select_particles,
    tracking_rates,
    trackml_score,
)

__all__ = ["EvalConfig", "read_submission", "tracks_from_submission", "track_pt_eta", "evaluate_event",
           "evaluate_tracks", "write_submission"]

Submission = dict[int, tuple[np.ndarray, np.ndarray]]  # event id -> (hit_id (K,), track_id (K,))


@dataclass(frozen=True)
class EvalConfig:
    """The particle and track selections of the rates (GeV, mm)."""

    pt_min: float = 1.0
    eta_max: float = 2.5
    min_hits: int = 5
    r_max: float = 10.0
    min_track_hits: int = 3
    field_t: float = 2.0

    def __post_init__(self) -> None:
        if not self.pt_min >= 0 or not self.eta_max > 0 or self.min_hits < 1 or self.min_track_hits < 1:
            raise UsageError(f"--pt-min must be >= 0 (got {self.pt_min}); eta_max > 0, min_hits, min_track_hits >= 1")


def read_submission(path: str | os.PathLike[str]) -> Submission:
    """A submission CSV (header ``event_id,hit_id,track_id``, any order) per event; one-line errors."""
    path = Path(path)
    table = read_csv(path, ("event_id", "hit_id", "track_id"))
    cols = {}
    for name in ("event_id", "hit_id", "track_id"):
        a = table[name]
        if a.dtype.kind == "f" and (a != np.rint(a)).any():
            raise FormatError(f"{path}: column {name} holds a non-integer value")
        cols[name] = a.astype(np.int64)
    out: Submission = {}
    for ev in np.unique(cols["event_id"]).tolist():
        rows = cols["event_id"] == ev
        hid, tid = cols["hit_id"][rows], cols["track_id"][rows]
        uniq, counts = np.unique(hid, return_counts=True)
        if (counts > 1).any():
            raise FormatError(f"{path}: event {ev}: hit_id {uniq[counts > 1][0]} is assigned to more than one track")
        out[int(ev)] = (hid, tid)
    return out


def write_submission(path: str | os.PathLike[str], submission: Submission) -> Path:
    """Write a submission CSV (``event_id,hit_id,track_id``), atomically."""
    lines = ["event_id,hit_id,track_id"]
    for ev in sorted(submission):
        hid, tid = submission[ev]
        lines += [f"{ev},{h},{t}" for h, t in zip(hid.tolist(), tid.tolist())]
    return atomic_write_text(path, "\n".join(lines) + "\n")


def tracks_from_submission(hit_id: np.ndarray, track_id: np.ndarray) -> list[np.ndarray]:
    """The hit-id list of every track of a submission, ordered by track id."""
    order = np.argsort(track_id, kind="stable")
    _, first = np.unique(track_id[order], return_index=True)
    return np.split(hit_id[order], first[1:]) if len(order) else []


def track_pt_eta(hits: dict[str, np.ndarray], tracks: list[np.ndarray], field_t: float = 2.0
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Estimated pT (GeV) and η of each track (T,) from its hits (module docstring); NaN for an empty track."""
    n = len(tracks)
    if n == 0:
        return np.zeros(0), np.zeros(0)
    order = np.argsort(hits["hit_id"])
    hid = np.concatenate(tracks).astype(np.int64)  # (K,)
    row = order[np.searchsorted(hits["hit_id"], hid, sorter=order).clip(max=len(order) - 1)]
    t = np.repeat(np.arange(n), [len(x) for x in tracks])  # (K,) track of each entry
    x, y, z = (np.asarray(hits[c], np.float64)[row] for c in "xyz")
    # circle x² + y² + D x + E y + F = 0 through (0, 0) (F = 0): least squares for (D, E) per track
    w = x * x + y * y
    sxx, sxy, syy = (np.bincount(t, v, n) for v in (x * x, x * y, y * y))
    sxw, syw = np.bincount(t, x * w, n), np.bincount(t, y * w, n)
    det = sxx * syy - sxy**2
    with np.errstate(invalid="ignore", divide="ignore"):
        d = -(syy * sxw - sxy * syw) / det
        e = -(sxx * syw - sxy * sxw) / det
        radius = np.hypot(d, e) / 2  # (T,) mm; inf for a straight line
        pt = 0.3 * field_t * radius / 1000.0
        r = np.hypot(x, y)
        s = 2 * radius[t] * np.arcsin(np.minimum(r / (2 * radius[t]), 1.0))  # (K,) arc length
        s = np.where(np.isfinite(s), s, r)
        k = np.bincount(t, minlength=n).astype(np.float64)
        ss, sz, ssz, sss = (np.bincount(t, v, n) for v in (s, z, s * z, s * s))
        cot = (k * ssz - ss * sz) / (k * sss - ss**2)
    pt = np.where(np.isfinite(pt), pt, 1e3)  # straight: very high pT
    return pt, np.arcsinh(cot)


def _selected_truth(truth: dict[str, np.ndarray], particles: dict[str, np.ndarray], sel: np.ndarray
                    ) -> dict[str, np.ndarray]:
    """The truth with only the selected particles' hits weighted."""
    keep = np.isin(truth["particle_id"], particles["particle_id"][sel])
    return {**truth, "weight": np.where(keep, truth["weight"], 0.0)}


def evaluate_event(event: Event, tracks: list[np.ndarray], submission: tuple[np.ndarray, np.ndarray],
                   cfg: EvalConfig) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Scores and rates of one event; and its per-particle and per-track columns for the binned rates."""
    truth, p, hits = event["truth"], event["particles"], event["hits"]
    try:
        score = trackml_score(truth, *submission)
        sel = select_particles(p, cfg.pt_min, cfg.eta_max, cfg.min_hits, cfg.r_max)
        score_sel = trackml_score(_selected_truth(truth, p, sel), *submission)
        match = match_tracks(truth, tracks)
    except ValueError as e:  # a hit id the event does not have
        raise FormatError(str(e).replace("is not in the truth", "is not a hit of the event")) from None
    t_pt, t_eta = track_pt_eta(hits, tracks, cfg.field_t)
    long_ = np.array([len(x) >= cfg.min_track_hits for x in tracks], dtype=bool)
    in_acc = long_ & (t_pt > cfg.pt_min) & (np.abs(t_eta) < cfg.eta_max)
    rates = tracking_rates(match, p["particle_id"], sel, in_acc)
    rates_all = tracking_rates(match, p["particle_id"], sel, long_)
    pt = np.hypot(p["px"], p["py"])
    eta = np.arcsinh(p["pz"] / np.maximum(pt, 1e-12))
    # duplicates: matched tracks beyond the first of their particle, binned in that particle's pT and η
    m_pid = match.particle_id[match.matched & long_]
    dup = np.ones(len(m_pid), bool)
    dup[np.unique(m_pid, return_index=True)[1]] = False
    by_id = np.argsort(p["particle_id"])
    row = by_id[np.searchsorted(p["particle_id"], m_pid, sorter=by_id)]
    columns = {
        "p_pt": pt, "p_eta": eta, "p_found": np.isin(p["particle_id"], match.matched_particles()), "p_sel": sel,
        "p_sel_no_pt": select_particles(p, float(PT_EDGES[0]), cfg.eta_max, cfg.min_hits, cfg.r_max),
        "t_pt": t_pt[long_], "t_eta": t_eta[long_], "t_fake": ~match.matched[long_],
        "d_pt": pt[row], "d_eta": eta[row], "d_dup": dup,
    }
    n_dup = round(rates["duplicate_rate"] * rates["n_matched"]) if rates["n_matched"] else 0
    out = {"trackml_score": score, "trackml_score_selected": score_sel, "n_tracks_all": len(tracks), **rates,
           "n_duplicates": n_dup, "fake_rate_all": rates_all["fake_rate"],
           "duplicate_rate_all": rates_all["duplicate_rate"]}
    return out, columns


def _binned(cols: dict[str, np.ndarray], var: str, edges: np.ndarray) -> dict[str, Any]:
    sel = cols["p_sel_no_pt"] if var == "pt" else cols["p_sel"]
    eff, n_p = binned_fraction(cols[f"p_{var}"][sel], cols["p_found"][sel], edges)
    fake, n_t = binned_fraction(cols[f"t_{var}"], cols["t_fake"], edges)
    dup, n_m = binned_fraction(cols[f"d_{var}"], cols["d_dup"], edges)

    def nan_none(a: np.ndarray) -> list[float | None]:
        return [None if np.isnan(v) else float(v) for v in a]

    return {"edges": edges.tolist(), "efficiency": nan_none(eff), "n_particles": n_p.tolist(),
            "fake_rate": nan_none(fake), "n_tracks": n_t.tolist(), "duplicate_rate": nan_none(dup),
            "n_matched": n_m.tolist()}


def _pooled(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean scores over events; rates from the summed counts."""
    tot = {k: sum(e[k] for e in events) for k in ("n_particles", "n_found", "n_tracks", "n_matched", "n_duplicates")}
    nan = float("nan")
    cols = ("trackml_score", "trackml_score_selected")
    return {**{k: float(np.mean([e[k] for e in events])) for k in cols},
            "efficiency": tot["n_found"] / tot["n_particles"] if tot["n_particles"] else nan,
            "fake_rate": 1 - tot["n_matched"] / tot["n_tracks"] if tot["n_tracks"] else nan,
            "duplicate_rate": tot["n_duplicates"] / tot["n_matched"] if tot["n_matched"] else nan, **tot}


def _reconstruct(event_id: int, event: Event, submission: Submission | None,
                 timing: list[dict[str, float]]) -> tuple[list[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    if submission is None:
        from jetlab.tasks.track_ckf import reconstruct_ckf

        trk = reconstruct_ckf(event)
        timing.append(trk.timing)
        return trk.hit_ids, trk.submission()
    hid, tid = submission.get(event_id, (np.zeros(0, np.int64), np.zeros(0, np.int64)))
    return tracks_from_submission(hid, tid), (hid, tid)


def evaluate_tracks(directory: str | os.PathLike[str], tracks: str | os.PathLike[str] | None = None,
                    ckf: bool = False, out: str | os.PathLike[str] | None = None, pt_min: float = 1.0,
                    detector: str | os.PathLike[str] | None = None, progress: bool = False) -> dict[str, Any]:
    """Evaluate the tracks of a submission file or of the CKF on ``directory``; writes ``OUT/metrics.json``."""
    if (tracks is None) == (not ckf):
        raise UsageError("give either --tracks FILE or --ckf")
    cfg = EvalConfig(pt_min=pt_min)
    tdir = open_tracking_dir(directory, detector)
    if tdir.manifest is not None:
        cfg = EvalConfig(pt_min=pt_min, field_t=float(tdir.manifest.get("settings", {}).get("field_T", 2.0)))
    submission = read_submission(tracks) if tracks is not None else None
    if submission is not None:
        extra = sorted(set(submission) - set(tdir.event_ids))
        if extra:
            raise FormatError(f"{tracks}: event {extra[0]} is not in {tdir.path}")
    name = "ckf" if ckf else Path(str(tracks)).stem
    out_dir = Path(out) if out is not None else tdir.path / "evaluations" / name
    per_event: list[dict[str, Any]] = []
    columns: list[dict[str, np.ndarray]] = []
    timing: list[dict[str, float]] = []
    made: Submission = {}
    setup_s = _warm_up() if ckf else None  # the geometry, once per process: not a per-event cost
    for i in tqdm(tdir.event_ids, desc="evaluate", unit="event", disable=not progress):
        event = tdir.read(i)
        try:
            trk, sub = _reconstruct(i, event, submission, timing)
            res, col = evaluate_event(event, trk, sub, cfg)
        except FormatError as e:  # name the submission, or the hits the CKF refused
            raise FormatError(f"{tracks or event_path(tdir.path, i, 'hits')}: event {i}: {e}") from None
        made[i] = sub
        per_event.append({**res, "event_id": i})
        columns.append(col)
    cols = {k: np.concatenate([c[k] for c in columns]) for k in columns[0]}
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics: dict[str, Any] = {
        "tracker": name, "tracks": str(tracks) if tracks is not None else None, "directory": str(tdir.path),
        "n_events": len(per_event), "selection": asdict(cfg), **_pooled(per_event),
        "fake_rate_all": _rate(cols["t_fake"]), "duplicate_rate_all": _rate(cols["d_dup"]),
        "vs_pt": _binned(cols, "pt", PT_EDGES), "vs_eta": _binned(cols, "eta", ETA_EDGES),
        "time_per_event_s": _timing(timing), "setup_s": setup_s, "events": per_event,
    }
    if ckf:
        metrics["submission"] = str(write_submission(out_dir / "tracks.csv", made))
    metrics["plots"] = _plots(metrics, out_dir)
    atomic_write_text(out_dir / "metrics.json", _json(metrics))
    metrics["out"] = str(out_dir)
    return metrics


def _warm_up() -> float:
    from jetlab.generate.tracking.geometry import generic_detector

    start = time.perf_counter()
    generic_detector()
    return time.perf_counter() - start


def _rate(flags: np.ndarray) -> float:
    return float(flags.mean()) if len(flags) else float("nan")


def _timing(timing: list[dict[str, float]]) -> dict[str, float] | None:
    if not timing:
        return None  # a submission file: its tracker's time is not known here
    return {k: float(np.mean([t.get(k, 0.0) for t in timing])) for k in timing[0]}


def _plots(metrics: dict[str, Any], out: Path) -> list[str]:
    from jetlab.report.tracking_plots import plot_rates

    return [str(plot_rates(metrics[f"vs_{v}"], v, out / f"rates_vs_{v}.png", metrics["tracker"]))
            for v in ("pt", "eta")]


def _json(obj: Any) -> str:
    import json
    import math

    def clean(o: Any) -> Any:
        if isinstance(o, float) and not math.isfinite(o):
            return None
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, list | tuple):
            return [clean(v) for v in o]
        if isinstance(o, np.integer | np.floating | np.bool_):
            return clean(o.item())
        return o

    return json.dumps(clean(obj), indent=1) + "\n"

