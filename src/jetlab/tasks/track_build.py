"""Tracks from hit graphs and hit followers: connected components, walk-through, LSTM following.

Inputs are hit *rows* of one event (indices into its ``hits`` arrays) and directed edges ``src -> dst``
pointing outward (:mod:`jetlab.represent.hitgraph`); every builder returns tracks as hit-id arrays,
``hit_id[rows]``, each with at least ``min_hits`` hits and no hit on two tracks.

- :func:`connected_components`: tracks = connected components of the edges scoring above ``cut``
  (hits in row order); a branching merges two particles into one track.
- :func:`walkthrough`: from each hit without an incoming edge above ``cut`` (innermost first), follow
  the highest-scoring outgoing edge to a hit not yet on a track, layer by layer, until none is left
  (optionally bridging one weak edge above ``bridge_cut``); a branching is resolved by the scores, the
  losing branch may start a track of its own in a later pass. Hits the walk stepped over (overlapping
  modules of one layer) are taken back when edges join them to the track on both sides. Tracks are
  ordered by ``order`` (the distance from the origin), innermost hit first.
- :func:`seed_triplets` + :func:`follow_tracks`: seeds are chained edge pairs ``a -> b -> c`` whose first
  hit lies on a layer where particles start (the module map's ``first_layers``), with a helix radius of
  pT > ``pt_min`` and a transverse impact parameter below ``d0_max``; a next-hit model
  (:class:`~jetlab.models.track.lstm_tracker.LSTMTracker`) predicts the next layer's hit, the hit with
  the smallest χ² within ``k_sigma`` σ in every coordinate on a layer reachable from the current one is
  added (and an overlapping module's hit beside it), until no hit is compatible;
  :func:`resolve_ambiguities` keeps tracks longest first, dropping one that shares more than half its
  hits with a kept track. :func:`lstm_tracks` follows seeds innermost first and skips a seed with two
  hits on kept tracks (most seeds of a particle repeat its track).

Example (a track 0-1-2-3 with a weaker branch 1 -> 4 -> 5):
    >>> edges = np.array([[0, 1, 2, 1, 4], [1, 2, 3, 4, 5]])
    >>> scores = np.array([0.9, 0.9, 0.9, 0.7, 0.8])
    >>> [t.tolist() for t in connected_components(6, edges, scores, np.arange(6), min_hits=3)]
    [[0, 1, 2, 3, 4, 5]]
    >>> [t.tolist() for t in walkthrough(6, edges, scores, np.arange(6), min_hits=2)]
    [[0, 1, 2, 3], [4, 5]]
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from jetlab.physics.kinematics import delta_phi
from jetlab.represent.hitgraph import HitCoordinates, ModuleMap, build_edges, coordinates
from jetlab.represent.hitseq import sequence_features

__all__ = ["connected_components", "walkthrough", "seed_triplets", "follow_tracks",
           "resolve_ambiguities", "gnn_tracks", "lstm_tracks", "FIELD_T"]

FIELD_T = 2.0  # the Generic detector's solenoid (T); pT [GeV] = 0.3 B [T] R [m]


def _tracks(groups: Sequence[Sequence[int] | np.ndarray], hit_id: np.ndarray, min_hits: int) -> list[np.ndarray]:
    return [np.asarray(hit_id)[np.asarray(g, np.int64)] for g in groups if len(g) >= min_hits]


def connected_components(n_hits: int, edges: np.ndarray, scores: np.ndarray, hit_id: np.ndarray,
                         cut: float = 0.5, min_hits: int = 3) -> list[np.ndarray]:
    """Connected components of the edges (2, E) with ``scores`` (E,) > ``cut``, as hit-id arrays."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components as components

    keep = scores > cut
    graph = coo_matrix((np.ones(int(keep.sum())), (edges[0, keep], edges[1, keep])), shape=(n_hits, n_hits))
    _, label = components(graph, directed=False)
    order = np.argsort(label, kind="stable")  # rows grouped by component, rows ascending inside
    groups = np.split(order, np.flatnonzero(np.diff(label[order])) + 1)
    return _tracks(groups, hit_id, min_hits)


def _absorb(src: np.ndarray, dst: np.ndarray, label: np.ndarray, groups: list[list[int]]) -> None:
    """Put each free hit (``label`` -1) that has an edge from and an edge to hits of one track on that track:
    a walk that stepped from ``a`` to ``b`` over ``a'`` (the overlapping module of ``a``'s layer) gets ``a'``."""
    for _ in range(4):  # an absorbed hit may link the next one
        into = (label[src] >= 0) & (label[dst] < 0)  # track hit -> free hit
        out = (label[src] < 0) & (label[dst] >= 0)  # free hit -> track hit
        n = len(groups) + 1
        both = np.intersect1d(dst[into] * n + label[src[into]], src[out] * n + label[dst[out]])  # hit * n + track
        hit, track = both // n, both % n
        hit, first = np.unique(hit, return_index=True)  # a hit joins one track (the lowest index)
        if len(hit) == 0:
            return
        label[hit] = track[first]
        for h, t in zip(hit.tolist(), track[first].tolist()):
            groups[t].append(h)


def walkthrough(n_hits: int, edges: np.ndarray, scores: np.ndarray, hit_id: np.ndarray, cut: float = 0.5,
                min_hits: int = 3, order: np.ndarray | None = None, bridge_cut: float | None = None
                ) -> list[np.ndarray]:
    """Tracks by walking the best outgoing edge from each start hit (module docstring), as hit-id arrays.

    A walk with no free continuation above ``cut`` takes the best one above ``bridge_cut`` (< ``cut``; None:
    no bridging), so one weak edge (a rare layer transition) does not split a track. After each pass of
    walks, free hits with edges above ``cut`` from and to one track join it (:func:`_absorb`). ``order``
    (H,): rank of each hit as a start and in its track (default: its row; the distance from the origin is
    a good one).
    """
    low = cut if bridge_cut is None else min(cut, bridge_cut)
    keep = scores > low
    src, dst, score = edges[0, keep], edges[1, keep], scores[keep]
    by_src = np.lexsort((-score, src))  # outgoing edges of each hit, best first
    src, dst, strong = src[by_src], dst[by_src], score[by_src] > cut
    first = np.searchsorted(src, np.arange(n_hits + 1))  # CSR offsets
    n_strong = np.bincount(src[strong], minlength=n_hits)
    rank = np.arange(n_hits) if order is None else np.argsort(np.argsort(order, kind="stable"), kind="stable")
    label = np.full(n_hits, -1)  # track of each hit; -2: a start whose walk was too short
    groups: list[list[int]] = []
    while True:
        free_in = np.zeros(n_hits, bool)
        free_in[dst[strong & (label[src] == -1) & (label[dst] == -1)]] = True  # a strong edge in from a free hit
        starts = np.flatnonzero((label == -1) & ~free_in & (n_strong > 0))
        if len(starts) == 0:  # every pass uses up its starts: this ends
            tracks = [sorted(g, key=lambda h: rank[h]) for g in groups]
            return _tracks(tracks, hit_id, min_hits)
        for s in starts[np.argsort(rank[starts], kind="stable")]:
            if label[s] != -1:  # taken by a walk of this pass
                continue
            path = [int(s)]
            while True:
                nxt = [int(d) for d in dst[first[path[-1]]:first[path[-1] + 1]] if label[d] == -1 and d not in path]
                if not nxt:
                    break
                path.append(nxt[0])  # the best-scoring free continuation
            if len(path) >= min_hits:
                label[path] = len(groups)
                groups.append(path)
            else:
                label[s] = -2  # its start never seeds again
        _absorb(src[strong], dst[strong], label, groups)


def _triplet_circles(c: HitCoordinates, a: np.ndarray, b: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, ...]:
    """Radius R (mm) and transverse impact parameter |d0| (mm) of the circles through three hits (T,)."""
    x = np.stack([c.r[k] * np.cos(c.phi[k]) for k in (a, b, d)])  # (3, T)
    y = np.stack([c.r[k] * np.sin(c.phi[k]) for k in (a, b, d)])
    ax, ay, bx, by, cx, cy = x[0], y[0], x[1], y[1], x[2], y[2]
    den = 2 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by))
    den = np.where(np.abs(den) < 1e-9, 1e-9, den)
    s_a, s_b, s_c = ax * ax + ay * ay, bx * bx + by * by, cx * cx + cy * cy
    ux = (s_a * (by - cy) + s_b * (cy - ay) + s_c * (ay - by)) / den
    uy = (s_a * (cx - bx) + s_b * (ax - cx) + s_c * (bx - ax)) / den
    radius = np.hypot(ax - ux, ay - uy)
    return radius, np.abs(np.hypot(ux, uy) - radius)


def seed_triplets(c: HitCoordinates, edges: np.ndarray, mmap: ModuleMap, pt_min: float = 0.9,
                  d0_max: float = 2.0, field_t: float = FIELD_T) -> np.ndarray:
    """(S, 3) hit rows ``a -> b -> c`` of chained ``edges`` starting on a first layer (module docstring)."""
    src, dst = edges
    inner = np.isin(c.layer[src], mmap.first_layers)
    order = np.argsort(src, kind="stable")
    first = np.searchsorted(src[order], np.arange(len(c) + 1))
    e1 = np.flatnonzero(inner)  # first edges a -> b
    n_next = first[dst[e1] + 1] - first[dst[e1]]  # (E1,) edges out of each middle hit b
    offset = np.arange(n_next.sum()) - np.repeat(np.cumsum(n_next) - n_next, n_next)
    e2 = order[np.repeat(first[dst[e1]], n_next) + offset]  # second edges b -> c
    e1 = np.repeat(e1, n_next)
    a, b, d = src[e1], dst[e1], dst[e2]
    radius, d0 = _triplet_circles(c, a, b, d)
    keep = (0.3 * field_t * radius / 1000 > pt_min) & (d0 < d0_max)
    return np.stack([a[keep], b[keep], d[keep]], 1).astype(np.int64)


def _next_layers(mmap: ModuleMap) -> dict[int, np.ndarray]:
    """Layer -> the other layers a particle's next hit was seen on (the map's layer pairs)."""
    pairs = mmap.layer_pairs()
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    return {int(la): pairs[pairs[:, 0] == la, 1] for la in np.unique(pairs[:, 0])}


def _pick(c: HitCoordinates, track: list[int], cand: np.ndarray, mu: np.ndarray, sigma: np.ndarray,
          k_sigma: float, overlap_mm: float = 20.0) -> list[int]:
    """The compatible candidate with the smallest χ², then the compatible hit of its layer nearest to it
    within ``overlap_mm`` (an overlapping module), if any; [] if no candidate lies within ``k_sigma`` σ in
    every coordinate."""
    cand = cand[~np.isin(cand, track)]
    if len(cand) == 0:
        return []
    pull = (sequence_features(c, np.concatenate([[track[0]], cand]))[1:] - mu) / sigma  # (K, 3), φ of the first hit
    ok = np.all(np.abs(pull) < k_sigma, axis=1)
    if not ok.any():
        return []
    best = int(cand[ok][np.argmin((pull[ok] ** 2).sum(1))])
    near = cand[ok][(cand[ok] != best) & (c.layer[cand[ok]] == c.layer[best])]
    if len(near) == 0:
        return [best]
    arc = c.r[best] * delta_phi(c.phi[near], c.phi[best])  # (N,) mm along φ
    d = np.sqrt((c.r[near] - c.r[best]) ** 2 + arc**2 + (c.z[near] - c.z[best]) ** 2)
    return [best, int(near[np.argmin(d)])] if d.min() < overlap_mm else [best]


@torch.no_grad()
def follow_tracks(model: Any, c: HitCoordinates, seeds: np.ndarray, mmap: ModuleMap, k_sigma: float = 3.0,
                  max_hits: int = 30) -> list[list[int]]:
    """Extend each seed (S, 3) of hit rows with the model's predicted next hits (module docstring): rows.

    The model sees one hit per layer (its training sequences); compatible hits of overlapping modules on
    the chosen hit's layer join the track without being fed to it.
    """
    if len(seeds) == 0:
        return []
    nxt = _next_layers(mmap)
    empty = np.zeros(0, np.int64)
    by_layer = {int(la): np.flatnonzero(c.layer == la) for la in np.unique(c.layer)}
    tracks = [list(map(int, s)) for s in seeds]
    x = torch.from_numpy(np.stack([sequence_features(c, np.asarray(t)) for t in tracks]))  # (S, 3, 3)
    state = None
    for t in range(x.shape[1]):
        mean, log_sigma, state = model.step(x[:, t], state)  # (S, 3) prediction of the hit after t
    active, last = np.arange(len(tracks)), [t[-1] for t in tracks]  # ``last``: the hit fed last, per track
    while len(active):
        chosen, keep = [], []
        mu, sigma = mean.numpy(), torch.exp(log_sigma).numpy()  # (A, 3)
        for k, s in enumerate(active):
            layers = nxt.get(int(c.layer[last[s]]), empty)
            cand = np.concatenate([by_layer.get(int(la), empty) for la in layers] or [empty])
            picked = _pick(c, tracks[s], cand, mu[k], sigma[k], k_sigma) if len(tracks[s]) < max_hits else []
            if picked:
                tracks[s] += picked
                last[s] = picked[0]
                chosen.append(sequence_features(c, np.array([tracks[s][0], picked[0]]))[1])
                keep.append(k)
        if not keep:
            break
        idx = torch.as_tensor(keep)
        assert state is not None  # set by the seed hits
        state = (state[0][:, idx], state[1][:, idx])
        mean, log_sigma, state = model.step(torch.from_numpy(np.stack(chosen)), state)
        active = active[keep]
    return tracks


def resolve_ambiguities(tracks: Sequence[Sequence[int]], hit_id: np.ndarray, min_hits: int = 5,
                        max_shared: float = 0.5, used: set[int] | None = None) -> list[np.ndarray]:
    """Tracks (rows) longest first; one sharing more than ``max_shared`` of its hits with kept tracks (or
    the hits in ``used``, which grows) is dropped, the kept ones lose their shared hits. Returns hit-id
    arrays of at least ``min_hits`` hits."""
    used = set() if used is None else used
    kept: list[list[int]] = []
    for t in sorted(tracks, key=len, reverse=True):
        free = [h for h in t if h not in used]
        if len(free) >= min_hits and len(free) >= (1 - max_shared) * len(t):
            kept.append(free)
            used.update(free)
    return _tracks(kept, hit_id, min_hits)


@torch.no_grad()
def gnn_tracks(model: Any, event: Any, mmap: ModuleMap, method: str = "geometric", cut: float = 0.5,
               builder: str = "walkthrough", min_hits: int = 3, bridge_cut: float | None = None) -> dict[str, Any]:
    """One event through graph construction, edge scoring and track building: tracks (hit ids), the
    graph's edge scores (E,) and truth (E,) when the event has truth, and seconds per stage."""
    from jetlab.represent.hitgraph import event_graph

    start = time.perf_counter()
    g = event_graph(event, mmap, method)
    built = time.perf_counter()
    scores = torch.sigmoid(model({"graph": g})).numpy() if g.edge_index.shape[1] else np.zeros(0)
    scored = time.perf_counter()
    c = coordinates(event["hits"])
    hit_id, edges = np.asarray(event["hits"]["hit_id"]), g.edge_index.numpy()
    if builder == "walkthrough":
        tracks = walkthrough(len(c), edges, scores, hit_id, cut, min_hits, order=c.rho, bridge_cut=bridge_cut)
    else:
        tracks = connected_components(len(c), edges, scores, hit_id, cut, min_hits)
    done = time.perf_counter()
    return {"tracks": tracks, "scores": scores, "truth": g.y.numpy() if "y" in g else None,
            "timing": {"graph": built - start, "model": scored - built, "build": done - scored, "total": done - start}}


@torch.no_grad()
def lstm_tracks(model: Any, event: Any, mmap: ModuleMap, method: str = "geometric", k_sigma: float = 4.0,
                seed_pt_min: float = 0.9, d0_max: float = 1.0, min_hits: int = 5, chunk: int = 256) -> dict[str, Any]:
    """One event through seeding, LSTM following and ambiguity resolution: tracks (hit ids), seeds, timing.

    Seeds are followed innermost first, ``chunk`` at a time; a seed with two hits on kept tracks is skipped.
    """
    start = time.perf_counter()
    c = coordinates(event["hits"])
    seeds = seed_triplets(c, build_edges(event["hits"], mmap, method), mmap, seed_pt_min, d0_max)
    seeds = seeds[np.argsort(c.rho[seeds[:, 0]] + c.rho[seeds[:, 2]], kind="stable")]
    seeded = time.perf_counter()
    hit_id, used, tracks = np.asarray(event["hits"]["hit_id"]), set[int](), list[np.ndarray]()
    taken = np.zeros(len(c), bool)
    followed = 0
    for i in range(0, len(seeds), chunk):
        part = seeds[i:i + chunk]
        part = part[taken[part].sum(1) < 2]
        followed += len(part)
        tracks += resolve_ambiguities(follow_tracks(model, c, part, mmap, k_sigma), hit_id, min_hits, used=used)
        taken[list(used)] = True
    done = time.perf_counter()
    return {"tracks": tracks, "n_seeds": len(seeds), "n_followed": followed,
            "timing": {"seeding": seeded - start, "model": done - seeded, "total": done - start}}
