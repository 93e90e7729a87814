"""Track-finding metrics: the TrackML score, efficiency, fake and duplicate rates, binned in pT or η.

Definitions (truth from :mod:`jetlab.io.trackml`: every hit has one ``particle_id``, 0 for noise):

- a track's *majority particle* is the particle with most hits on the track (ties: the smallest
  ``particle_id``; noise counts as a particle here, but its hits weigh 0);
- ``purity`` = (hits of the majority particle on the track) / (hits on the track);
  ``completeness`` = (hits of the majority particle on the track) / (all hits of that particle);
- **TrackML score** (arXiv:1904.06778): the submission assigns each hit to at most one track; a track is
  *good* if purity > 0.5 and completeness > 0.5; the score is the summed weight of the majority
  particle's hits on the good tracks, over the summed weight of all hits::

      score = Σ_{good t} Σ_{i ∈ t, particle(i) = major(t)} w_i  /  Σ_i w_i

  1 for a perfect assignment, ~0 for a random one. At most one good track per particle exists (two
  would each hold more than half of its hits).
- a track is *matched* to its majority particle if purity > 0.5 (and completeness > 0.5 when
  ``double=True``, the default, the TrackML criterion); tracks may share hits here;
- **efficiency** = selected particles with at least one matched track / selected particles;
- **fake rate** = unmatched tracks / tracks;
- **duplicate rate** = (matched tracks - distinct particles they match) / matched tracks.

Everything is vectorised over hits and tracks (sorts and ``bincount``, no Python loop per hit).

Example:
    >>> truth = {"hit_id": np.arange(1, 9), "particle_id": np.array([1, 1, 1, 1, 2, 2, 2, 0]),
    ...          "weight": np.array([.1, .2, .2, .1, .1, .2, .1, 0.])}
    >>> # track 5 = 3 of particle 1's 4 hits (weight 0.5); track 9 = 3 hits of particle 2 out of 5 (0.4)
    >>> round(trackml_score(truth, np.arange(1, 9), np.array([5, 5, 5, 9, 9, 9, 9, 9])), 6)
    0.9
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from jetlab.io.trackml import assign_hits

__all__ = ["TrackMatch", "trackml_score", "assign_hits", "match_tracks", "tracking_rates", "select_particles",
           "binned_fraction", "efficiency_vs", "fake_rate_vs", "PT_EDGES", "ETA_EDGES"]

PT_EDGES = np.array([0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 100.0])  # GeV
ETA_EDGES = np.linspace(-3.0, 3.0, 13)


def _rows(sorted_ids: np.ndarray, order: np.ndarray, ids: np.ndarray, what: str) -> np.ndarray:
    """Row in the truth of each id of ``ids`` (ValueError for unknown ids)."""
    if len(sorted_ids) == 0:
        if len(ids):
            raise ValueError(f"{what}: hit_id {ids[0]} is not in the truth")
        return np.zeros(0, dtype=np.int64)
    pos = np.searchsorted(sorted_ids, ids).clip(max=len(sorted_ids) - 1)
    unknown = sorted_ids[pos] != ids
    if unknown.any():
        raise ValueError(f"{what}: hit_id {ids[unknown][0]} is not in the truth")
    return order[pos]


def _majority(track: np.ndarray, particle: np.ndarray, weight: np.ndarray, n_tracks: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per track: majority particle id, its hits on the track, the track's hits, their weight.

    ``track`` (K,) track index of each (track, hit) entry, ``particle`` (K,) the hit's particle id,
    ``weight`` (K,) the hit's weight. Tracks without entries get particle -1 and zero counts.
    """
    pairs, inverse = np.unique(np.stack([track, particle]), axis=1, return_inverse=True)  # (2, U)
    inverse = inverse.ravel()
    count = np.bincount(inverse, minlength=pairs.shape[1])  # (U,) hits of each (track, particle)
    wsum = np.bincount(inverse, weights=weight, minlength=pairs.shape[1])
    best = np.lexsort((pairs[1], -count, pairs[0]))  # per track: most hits first, then smallest id
    first = best[np.r_[True, pairs[0, best][1:] != pairs[0, best][:-1]]] if len(best) else best
    major = np.full(n_tracks, -1, dtype=np.int64)
    n_major = np.zeros(n_tracks, dtype=np.int64)
    w_major = np.zeros(n_tracks)
    t = pairs[0, first]
    major[t], n_major[t], w_major[t] = pairs[1, first], count[first], wsum[first]
    return major, n_major, np.bincount(track, minlength=n_tracks), w_major


def _particle_hits(truth_pid: np.ndarray, pid: np.ndarray) -> np.ndarray:
    """Number of truth hits of each particle id in ``pid`` (0 for ids not in the truth)."""
    uniq, counts = np.unique(truth_pid, return_counts=True)
    if len(uniq) == 0:
        return np.zeros(len(pid), dtype=np.int64)
    pos = np.searchsorted(uniq, pid).clip(max=len(uniq) - 1)
    return np.where(uniq[pos] == pid, counts[pos], 0)


def trackml_score(truth: Mapping[str, np.ndarray], hit_id: ArrayLike, track_id: ArrayLike) -> float:
    """The TrackML score of a submission that puts hit ``hit_id[k]`` on track ``track_id[k]``.

    Arguments:
        truth: ``hit_id`` (H,), ``particle_id`` (H,), ``weight`` (H,) of every hit of the event.
        hit_id, track_id: (K,) the submission; each hit at most once, hits left out belong to no track.
    """
    hid = np.asarray(hit_id, dtype=np.int64)
    tid = np.asarray(track_id, dtype=np.int64)
    if hid.shape != tid.shape or hid.ndim != 1:
        raise ValueError(f"hit_id and track_id must be 1-D of equal length, got {hid.shape} and {tid.shape}")
    if len(np.unique(hid)) != len(hid):
        raise ValueError("submission: a hit is assigned to more than one track")
    t_hid = np.asarray(truth["hit_id"], dtype=np.int64)
    t_pid = np.asarray(truth["particle_id"], dtype=np.int64)
    t_w = np.asarray(truth["weight"], dtype=np.float64)
    total = t_w.sum()
    if len(hid) == 0 or total <= 0:
        return 0.0
    order = np.argsort(t_hid, kind="stable")
    row = _rows(t_hid[order], order, hid, "submission")
    tracks, track = np.unique(tid, return_inverse=True)
    major, n_major, n_track, w_major = _majority(track.ravel(), t_pid[row], t_w[row], len(tracks))
    good = (2 * n_major > n_track) & (2 * n_major > _particle_hits(t_pid, major))
    return float(w_major[good].sum() / total)


@dataclass
class TrackMatch:
    """Truth matching of tracks (T,) to particles: see the module docstring for the definitions."""

    particle_id: np.ndarray  # (T,) majority particle, -1 for a track without hits
    purity: np.ndarray  # (T,)
    completeness: np.ndarray  # (T,)
    matched: np.ndarray  # (T,) bool

    def matched_particles(self) -> np.ndarray:
        """The distinct particle ids matched by at least one track."""
        return np.unique(self.particle_id[self.matched])


def match_tracks(truth: Mapping[str, np.ndarray], tracks: Sequence[ArrayLike], double: bool = True) -> TrackMatch:
    """Match each track (a hit-id list; tracks may share hits) to its majority particle."""
    t_hid = np.asarray(truth["hit_id"], dtype=np.int64)
    t_pid = np.asarray(truth["particle_id"], dtype=np.int64)
    n = len(tracks)
    lengths = np.array([np.size(t) for t in tracks], dtype=np.int64)
    hid = np.concatenate([np.asarray(t, dtype=np.int64) for t in tracks]) if n else np.zeros(0, np.int64)
    order = np.argsort(t_hid, kind="stable")
    pid = t_pid[_rows(t_hid[order], order, hid, "tracks")]
    major, n_major, n_track, _ = _majority(np.repeat(np.arange(n), lengths), pid, np.zeros(len(pid)), n)
    purity = n_major / np.maximum(n_track, 1)
    completeness = n_major / np.maximum(_particle_hits(t_pid, major), 1)
    matched = (2 * n_major > n_track) & (major > 0)  # a track made of noise matches nothing
    if double:
        matched &= 2 * n_major > _particle_hits(t_pid, major)
    return TrackMatch(major, purity, completeness, matched)


def _pt_eta(px: np.ndarray, py: np.ndarray, pz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pt = np.hypot(px, py)
    return pt, np.arcsinh(pz / np.maximum(pt, 1e-12))


def select_particles(particles: Mapping[str, np.ndarray], pt_min: float = 1.0, abs_eta_max: float = 2.5,
                     min_hits: int = 3, r_max: float | None = None) -> np.ndarray:
    """(P,) bool: particles with pT > ``pt_min`` (GeV), |η| < ``abs_eta_max``, ``nhits`` >= ``min_hits``,
    non-zero charge and, with ``r_max`` (mm), a production vertex within ``r_max`` of the beam line."""
    pt, eta = _pt_eta(*(np.asarray(particles[k], dtype=np.float64) for k in ("px", "py", "pz")))
    keep = (pt > pt_min) & (np.abs(eta) < abs_eta_max) & (np.asarray(particles["nhits"]) >= min_hits)
    keep &= np.asarray(particles["q"]) != 0
    if r_max is not None:
        keep &= np.hypot(particles["vx"], particles["vy"]) < r_max
    return keep


def tracking_rates(match: TrackMatch, particle_id: ArrayLike, selected: ArrayLike | None = None,
                   track_selected: ArrayLike | None = None) -> dict[str, float]:
    """Efficiency over the particles ``particle_id[selected]``, fake and duplicate rates over the tracks
    ``track_selected`` (all when None); NaN where a denominator is 0. Also the counts behind them."""
    pid = np.asarray(particle_id, dtype=np.int64)
    sel = np.ones(len(pid), bool) if selected is None else np.asarray(selected, bool)
    tsel = np.ones(len(match.matched), bool) if track_selected is None else np.asarray(track_selected, bool)
    found = np.isin(pid[sel], match.matched_particles())
    matched = match.matched[tsel]
    n_matched, n_distinct = int(matched.sum()), len(np.unique(match.particle_id[tsel][matched]))
    n_tracks = int(tsel.sum())
    nan = float("nan")
    return {
        "efficiency": float(found.mean()) if len(found) else nan,
        "fake_rate": 1.0 - n_matched / n_tracks if n_tracks else nan,
        "duplicate_rate": (n_matched - n_distinct) / n_matched if n_matched else nan,
        "n_particles": int(len(found)), "n_found": int(found.sum()), "n_tracks": n_tracks, "n_matched": n_matched,
    }


def binned_fraction(values: ArrayLike, passed: ArrayLike, edges: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Per bin of ``values`` (bins ``[edges[i], edges[i+1])``): the fraction of ``passed`` entries and the
    number of entries; NaN fraction in an empty bin. Values outside the edges are ignored."""
    v = np.asarray(values, dtype=np.float64)
    p = np.asarray(passed, dtype=bool)
    e = np.asarray(edges, dtype=np.float64)
    b = np.searchsorted(e, v, side="right") - 1
    inside = (b >= 0) & (b < len(e) - 1)
    n = np.bincount(b[inside], minlength=len(e) - 1)
    k = np.bincount(b[inside], weights=p[inside], minlength=len(e) - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, k / np.maximum(n, 1), np.nan), n


def efficiency_vs(match: TrackMatch, particles: Mapping[str, np.ndarray], selected: ArrayLike, var: str = "pt",
                  edges: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Efficiency of the ``selected`` particles per bin of their truth ``var`` ("pt" or "eta")."""
    if var not in ("pt", "eta"):
        raise ValueError(f"var must be 'pt' or 'eta', got {var!r}")
    pt, eta = _pt_eta(*(np.asarray(particles[k], dtype=np.float64) for k in ("px", "py", "pz")))
    x = pt if var == "pt" else eta
    if edges is None:
        edges = PT_EDGES if var == "pt" else ETA_EDGES
    sel = np.asarray(selected, bool)
    found = np.isin(np.asarray(particles["particle_id"], dtype=np.int64), match.matched_particles())
    return binned_fraction(x[sel], found[sel], edges)


def fake_rate_vs(match: TrackMatch, track_values: ArrayLike, edges: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Fake rate per bin of a reconstructed track quantity (e.g. the tracks' pT or η)."""
    return binned_fraction(track_values, ~match.matched, edges)
