"""Hit graphs and hit sequences of tracking events (TrackML layout, :mod:`jetlab.io.trackml`).

Conventions. A hit's cylindrical coordinates are ``r = hypot(x, y)``, ``φ = atan2(y, x)``, ``z`` (mm) and
``ρ = |x|`` its distance from the origin; its *layer* is ``volume_id * 100 + layer_id`` and its *module*
``layer * 10⁶ + module_id``. Rows index the event's ``hits`` arrays. Edges are directed from the hit
nearer the origin to the farther one (``ρ_src < ρ_dst``), so a track is a path outward.

- **True edges**: the hits of each particle (``particle_id`` != 0), ordered by the distance of their true
  position from the particle's production vertex; consecutive hits form an edge (oriented by ρ), where
  the consecutive hits of one layer (overlapping modules) count as one step: each of them is joined to
  each hit of the particle's next layer too (``a → a' → b`` also gives ``a → b``, which no classifier
  could tell from ``a' → b``).
- **Module map** (:class:`ModuleMap`), learned from training events: the set of (module_a, module_b)
  pairs joined by a true edge of a particle with pT > ``map_pt_min``, and for each layer pair the window
  ``[min - p, max + p]``, ``p = (margin + widen / √n) (max - min)``, of each pair feature
  ``Δφ``, ``φ slope = Δφ/Δr``, ``z0 = z_a - r_a Δz/Δr`` (the edge's z at the beam line), ``Δz``
  over the n true edges of particles with pT > ``cut_pt_min`` on that layer pair (the range of a rarely
  seen pair is widened more: it is less well known). ``z0`` is learned relative to the particle's vertex
  and widened by the luminous region, ``beam_sigmas`` × the standard deviation of the training vertices'
  z: a tt̄ event has one vertex, so tens of events would not span the beam spot.
- **Graph construction** (:func:`build_edges`): ``method="geometric"`` (the default): every hit pair on a
  learned layer pair that passes its windows; ``method="module_map"``: only those on a learned module pair
  too. The Generic detector has ~20 000 modules: from tens of events a module map knows too few pairs
  (it kept 40-70 % of held-out true edges from 10-40 tt̄ events), the layer-pair windows keep ≥ 98 %.
- **Seeding layers** (``first_layers``): the layers holding at least 1 % of the first hits of particles
  with pT > ``cut_pt_min`` in the training events.
- **Features**: nodes ``(r/1000, φ/π, z/1000)``; edges ``(Δr/100, 10 Δφ, Δz/100, Δη)``.

:func:`construction_quality` reports the efficiency (true edges of particles with pT > ``pt_min`` kept)
and the purity (true edges among all edges built). Registered representation: ``hitgraph`` (one PyG
graph per event, for edge classifiers; ``hitseq``, the hit sequences of recurrent followers, is
:mod:`jetlab.represent.hitseq`); both learn the module map in ``fit``. ``torch_geometric`` is imported
only to build a graph.

Example (one particle: two hits on overlapping modules of the first pixel layer, one on the second):
    >>> xyz = {"x": np.array([32.0, 33.0, 72.0]), "y": np.array([0.0, 0.5, 1.0]), "z": np.array([1.0, 1.0, 2.0])}
    >>> hits = {"hit_id": np.array([1, 2, 3]), **xyz, "volume_id": np.array([8, 8, 8]),
    ...         "layer_id": np.array([2, 2, 4]), "module_id": np.array([1, 2, 5])}
    >>> truth = {"hit_id": hits["hit_id"], "particle_id": np.array([7, 7, 7]),
    ...          **{"t" + k: v for k, v in xyz.items()}}
    >>> one = np.array([7]), np.zeros(1), np.ones(1)
    >>> particles = {"particle_id": one[0], "vx": one[1], "vy": one[1], "vz": one[1], "px": one[2], "py": one[1]}
    >>> true_edges({"hits": hits, "truth": truth, "particles": particles}).tolist()  # a -> a', a -> b, a' -> b
    [[0, 0, 1], [1, 2, 2]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from jetlab.errors import UsageError
from jetlab.physics.kinematics import delta_phi
from jetlab.represent.registry import Representation, RepresentationConfig, register_representation

__all__ = ["HitCoordinates", "ModuleMap", "coordinates", "true_edges", "pair_features", "build_edges",
           "edge_labels", "node_features", "edge_features", "construction_quality", "event_graph",
           "particle_pt", "particle_vz", "CUT_FEATURES", "METHODS", "Event"]

CUT_FEATURES = ("dphi", "phi_slope", "z0", "dz")
METHODS = ("module_map", "geometric")
_MODULE = 1_000_000
Event = Mapping[str, Mapping[str, np.ndarray]]


@dataclass
class HitCoordinates:
    """Per-hit coordinates (H,) of one event, in the row order of its ``hits``."""

    r: np.ndarray
    phi: np.ndarray
    z: np.ndarray
    rho: np.ndarray
    layer: np.ndarray  # int64 volume_id * 100 + layer_id
    module: np.ndarray  # int64 layer * 10^6 + module_id

    def __len__(self) -> int:
        return len(self.r)


def coordinates(hits: Mapping[str, np.ndarray]) -> HitCoordinates:
    """The :class:`HitCoordinates` of a TrackML ``hits`` part."""
    x, y, z = (np.asarray(hits[k], np.float64) for k in ("x", "y", "z"))
    layer = np.asarray(hits["volume_id"], np.int64) * 100 + np.asarray(hits["layer_id"], np.int64)
    return HitCoordinates(np.hypot(x, y), np.arctan2(y, x), z, np.sqrt(x * x + y * y + z * z), layer,
                          layer * _MODULE + np.asarray(hits["module_id"], np.int64))


def _particle_rows(event: Event) -> tuple[np.ndarray, np.ndarray]:
    """Per truth row: the row of its particle in ``particles`` and whether it has one (not noise, known)."""
    pid = np.asarray(event["truth"]["particle_id"], np.int64)
    ids = np.asarray(event["particles"]["particle_id"], np.int64)
    if len(ids) == 0:
        return np.zeros(len(pid), np.int64), np.zeros(len(pid), bool)
    srt = np.argsort(ids)
    pos = srt[np.searchsorted(ids[srt], pid).clip(max=len(ids) - 1)]
    return pos, (ids[pos] == pid) & (pid != 0)


def particle_pt(event: Event, order: str = "hits") -> np.ndarray:
    """Transverse momentum (GeV) at production of each hit's particle, in the row order of the ``hits``
    (or of the ``truth``, ``order="truth"``); 0 for noise and unknown particles."""
    pos, known = _particle_rows(event)
    p = event["particles"]
    pt = np.where(known, np.hypot(p["px"], p["py"])[pos] if len(p["px"]) else 0.0, 0.0)
    return pt if order == "truth" else pt[_truth_rows(event)]


def particle_vz(event: Event) -> np.ndarray:
    """(H,) production z (mm) of each hit's particle, in the row order of the ``hits``; 0 where unknown."""
    pos, known = _particle_rows(event)
    vz = np.asarray(event["particles"]["vz"], np.float64)
    return np.where(known, vz[pos] if len(vz) else 0.0, 0.0)[_truth_rows(event)]


def _cross(start_a: np.ndarray, n_a: np.ndarray, start_b: np.ndarray, n_b: np.ndarray) -> tuple[np.ndarray, ...]:
    """All (i, j) with i in ``[start_a, start_a + n_a)`` and j in ``[start_b, start_b + n_b)``, per group."""
    total = n_a * n_b  # (G,)
    g = np.repeat(np.arange(len(total)), total)
    k = np.arange(total.sum()) - np.repeat(np.cumsum(total) - total, total)  # position inside the group
    return start_a[g] + k // n_b[g], start_b[g] + k % n_b[g]


def _truth_rows(event: Event) -> np.ndarray:
    """(H,) row in ``truth`` of each hit (truth may list the hits in another order)."""
    t_id = np.asarray(event["truth"]["hit_id"], np.int64)
    order = np.argsort(t_id)
    return order[np.searchsorted(t_id[order], np.asarray(event["hits"]["hit_id"], np.int64))]


def _particle_order(event: Event) -> tuple[np.ndarray, np.ndarray]:
    """Hit rows grouped by particle, each particle's hits nearest its vertex first; their particle ids."""
    truth, p = event["truth"], event["particles"]
    rows = _truth_rows(event)
    pid = np.asarray(truth["particle_id"], np.int64)[rows]  # (H,) per hit row
    ids = np.asarray(p["particle_id"], np.int64)
    vertex = np.zeros((len(pid), 3))
    if len(ids):
        order = np.argsort(ids)
        pos = order[np.searchsorted(ids[order], pid).clip(max=len(ids) - 1)]
        vertex = np.stack([np.asarray(p[k], np.float64)[pos] for k in ("vx", "vy", "vz")], 1)  # (H, 3)
    true_xyz = np.stack([np.asarray(truth[k], np.float64)[rows] for k in ("tx", "ty", "tz")], 1)  # (H, 3)
    seq = np.lexsort((np.linalg.norm(true_xyz - vertex, axis=1), pid))
    return seq, pid[seq]


def true_edges(event: Event) -> np.ndarray:
    """(2, T) rows of the true edges of every particle, each oriented by ρ (see the module docstring)."""
    seq, pid = _particle_order(event)
    layer = coordinates(event["hits"]).layer[seq]
    new_run = np.r_[True, (pid[1:] != pid[:-1]) | (layer[1:] != layer[:-1])]
    start = np.flatnonzero(new_run)  # runs of hits on one layer, in particle order
    size = np.diff(np.r_[start, len(seq)])
    same = (pid[1:] == pid[:-1]) & ~new_run[1:] & (pid[1:] != 0)
    inside = (seq[:-1][same], seq[1:][same])  # consecutive hits on one layer (module overlaps)
    follows = (pid[start[1:]] == pid[start[:-1]]) & (pid[start[1:]] != 0)  # run k + 1 continues run k
    i, j = _cross(start[:-1][follows], size[:-1][follows], start[1:][follows], size[1:][follows])
    a, b = np.concatenate([inside[0], seq[i]]), np.concatenate([inside[1], seq[j]])
    rho = coordinates(event["hits"]).rho
    flip = rho[a] > rho[b]
    return np.stack([np.where(flip, b, a), np.where(flip, a, b)]).astype(np.int64)


def pair_features(c: HitCoordinates, src: np.ndarray, dst: np.ndarray) -> dict[str, np.ndarray]:
    """The cut features (E,) of the hit pairs ``src -> dst``: Δφ, Δφ/Δr, z0, Δz (Δr kept away from 0)."""
    dr = c.r[dst] - c.r[src]
    dr = np.where(np.abs(dr) < 1e-3, np.where(dr < 0, -1e-3, 1e-3), dr)
    dphi = delta_phi(c.phi[dst], c.phi[src])
    dz = c.z[dst] - c.z[src]
    return {"dphi": dphi, "phi_slope": dphi / dr, "z0": c.z[src] - c.r[src] * dz / dr, "dz": dz}


@dataclass
class ModuleMap:
    """What graph construction learned from training events: module pairs and layer-pair windows."""

    modules: np.ndarray  # (M,) sorted module keys seen on a map pair
    pairs: np.ndarray  # (K, 2) indices into ``modules``: inner module, outer module
    windows: dict[tuple[int, int], dict[str, tuple[float, float]]]  # (layer_a, layer_b) -> feature -> range
    first_layers: np.ndarray  # (L,) layers holding >= 1% of the first hits of particles above cut_pt_min
    settings: dict[str, float] = field(default_factory=dict)

    @classmethod
    def fit(cls, events: Sequence[Event], map_pt_min: float = 0.0, cut_pt_min: float = 0.8,
            margin: float = 0.2, widen: float = 1.0, beam_sigmas: float = 4.0) -> ModuleMap:
        """Learn the map from ``events`` (each with hits, particles and truth)."""
        if not events:
            raise UsageError("module map: no training events")
        mods, feats, first = [], [], []
        for ev in events:
            c, (a, b) = coordinates(ev["hits"]), true_edges(ev)
            pt = particle_pt(ev)[a]
            keep = pt > map_pt_min
            mods.append(np.stack([c.module[a[keep]], c.module[b[keep]]], 1))
            cut = pt > cut_pt_min
            f = pair_features(c, a[cut], b[cut])
            f["z0"] = f["z0"] - particle_vz(ev)[a[cut]]  # the pair's resolution; the vertex spread comes below
            feats.append(np.stack([c.layer[a[cut]], c.layer[b[cut]], *(f[k] for k in CUT_FEATURES),
                                   particle_vz(ev)[a[cut]]], 1))
            starts = np.setdiff1d(a[cut], b)  # a hit with an outgoing and no incoming true edge
            first.append(c.layer[starts])
        pairs = np.unique(np.concatenate(mods), axis=0)  # (K, 2) module keys
        modules = np.unique(pairs)
        table = np.concatenate(feats)  # (T, 2 + F + 1)
        beam = beam_sigmas * float(np.std(table[:, -1]))  # half-length of the luminous region along z
        windows: dict[tuple[int, int], dict[str, tuple[float, float]]] = {}
        for la, lb in np.unique(table[:, :2].astype(np.int64), axis=0):
            rows = table[(table[:, 0] == la) & (table[:, 1] == lb), 2:-1]
            lo, hi = rows.min(0), rows.max(0)
            pad = (margin + widen / np.sqrt(len(rows))) * (hi - lo)  # a rare pair's range is less well known
            pad[CUT_FEATURES.index("z0")] += beam
            windows[(int(la), int(lb))] = {k: (float(lo[i] - pad[i]), float(hi[i] + pad[i]))
                                           for i, k in enumerate(CUT_FEATURES)}
        layers, n_first = np.unique(np.concatenate(first), return_counts=True)
        return cls(modules, np.searchsorted(modules, pairs), windows, layers[n_first >= 0.01 * n_first.sum()],
                   {"map_pt_min": map_pt_min, "cut_pt_min": cut_pt_min, "margin": margin, "widen": widen,
                    "beam_half_length": beam, "events": len(events)})

    def layer_pairs(self) -> np.ndarray:
        """(P, 2) the layer pairs with windows, sorted."""
        return np.array(sorted(self.windows), dtype=np.int64).reshape(-1, 2)

    def to_dict(self) -> dict[str, Any]:
        windows = [[la, lb, [list(w[k]) for k in CUT_FEATURES]] for (la, lb), w in sorted(self.windows.items())]
        return {"modules": self.modules.tolist(), "pairs": self.pairs.tolist(), "windows": windows,
                "first_layers": self.first_layers.tolist(), "settings": dict(self.settings)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModuleMap:
        windows = {(int(la), int(lb)): {k: (float(v[0]), float(v[1])) for k, v in zip(CUT_FEATURES, w)}
                   for la, lb, w in d.get("windows", [])}
        return cls(np.asarray(d.get("modules", []), np.int64), np.asarray(d.get("pairs", []), np.int64).reshape(-1, 2),
                   windows, np.asarray(d.get("first_layers", []), np.int64), dict(d.get("settings", {})))


def _pass_windows(c: HitCoordinates, src: np.ndarray, dst: np.ndarray, mmap: ModuleMap) -> np.ndarray:
    """(E,) bool: the edge's layer pair has windows and every cut feature lies in them."""
    pairs = mmap.layer_pairs()
    if len(src) == 0 or len(pairs) == 0:
        return np.zeros(len(src), bool)
    code = c.layer[src] * 10_000 + c.layer[dst]
    keys = pairs[:, 0] * 10_000 + pairs[:, 1]  # sorted
    pos = np.searchsorted(keys, code).clip(max=len(keys) - 1)
    ok = keys[pos] == code
    f = pair_features(c, src, dst)
    for k in CUT_FEATURES:
        lo = np.array([mmap.windows[tuple(p)][k][0] for p in pairs.tolist()])[pos]
        hi = np.array([mmap.windows[tuple(p)][k][1] for p in pairs.tolist()])[pos]
        ok &= (f[k] >= lo) & (f[k] <= hi)
    return ok


def _module_map_candidates(c: HitCoordinates, mmap: ModuleMap) -> tuple[np.ndarray, np.ndarray]:
    idx = np.searchsorted(mmap.modules, c.module).clip(max=max(len(mmap.modules) - 1, 0))
    known = np.flatnonzero(mmap.modules[idx] == c.module) if len(mmap.modules) else np.zeros(0, np.int64)
    order = known[np.argsort(idx[known], kind="stable")]  # hit rows grouped by module index
    counts = np.bincount(idx[known], minlength=len(mmap.modules))
    start = np.cumsum(counts) - counts
    a, b = mmap.pairs[:, 0], mmap.pairs[:, 1]
    live = (counts[a] > 0) & (counts[b] > 0)
    i, j = _cross(start[a[live]], counts[a[live]], start[b[live]], counts[b[live]])
    return order[i], order[j]


def _geometric_candidates(c: HitCoordinates, mmap: ModuleMap) -> tuple[np.ndarray, np.ndarray]:
    src, dst = [], []
    for (la, lb), w in sorted(mmap.windows.items()):
        ra, rb = np.flatnonzero(c.layer == la), np.flatnonzero(c.layer == lb)
        if len(ra) == 0 or len(rb) == 0:
            continue
        half = max(abs(w["dphi"][0]), abs(w["dphi"][1]))
        rb = rb[np.argsort(c.phi[rb])]
        phi_b = np.concatenate([c.phi[rb] - 2 * np.pi, c.phi[rb], c.phi[rb] + 2 * np.pi])  # sorted, wrapped
        rows_b = np.tile(rb, 3)
        lo = np.searchsorted(phi_b, c.phi[ra] - half, "left")
        hi = np.searchsorted(phi_b, c.phi[ra] + half, "right")
        n = np.minimum(hi - lo, len(rb))
        i, j = _cross(np.arange(len(ra)), np.ones(len(ra), np.int64), lo, n)
        src.append(ra[i])
        dst.append(rows_b[j])
    empty = np.zeros(0, np.int64)
    return (np.concatenate(src), np.concatenate(dst)) if src else (empty, empty)


def build_edges(hits: Mapping[str, np.ndarray], mmap: ModuleMap, method: str = "geometric") -> np.ndarray:
    """(2, E) candidate edges (rows ``src -> dst``, ρ_src < ρ_dst) of one event by ``method`` (module docstring)."""
    if method not in METHODS:
        raise UsageError(f"representation: graph_method {method!r} unknown (known: {', '.join(METHODS)})")
    c = coordinates(hits)
    src, dst = (_module_map_candidates if method == "module_map" else _geometric_candidates)(c, mmap)
    keep = (c.rho[src] < c.rho[dst]) & _pass_windows(c, src, dst, mmap)
    edges = np.unique(np.stack([src[keep], dst[keep]]), axis=1)  # (2, E), sorted, no duplicates
    return edges.astype(np.int64)


def _codes(edges: np.ndarray, n: int) -> np.ndarray:
    return np.minimum(edges[0], edges[1]) * n + np.maximum(edges[0], edges[1])


def edge_labels(event: Event, edges: np.ndarray) -> np.ndarray:
    """(E,) bool: the edge joins consecutive hits of one particle (a true edge, either orientation)."""
    n = len(event["hits"]["hit_id"])
    return np.isin(_codes(edges, n), _codes(true_edges(event), n))


def construction_quality(events: Sequence[Event], mmap: ModuleMap, method: str = "geometric",
                         pt_min: float = 1.0) -> dict[str, Any]:
    """Efficiency (true edges of particles with pT > ``pt_min`` kept) and purity (true / all edges built)."""
    kept = total = n_true = n_edges = 0
    for ev in events:
        edges, truth = build_edges(ev["hits"], mmap, method), true_edges(ev)
        n = len(ev["hits"]["hit_id"])
        hard = truth[:, particle_pt(ev)[truth[0]] > pt_min]
        kept += int(np.isin(_codes(hard, n), _codes(edges, n)).sum())
        total += hard.shape[1]
        n_true += int(edge_labels(ev, edges).sum())
        n_edges += edges.shape[1]
    nan = float("nan")
    return {"efficiency": kept / total if total else nan, "purity": n_true / n_edges if n_edges else nan,
            "edges_per_event": n_edges / max(len(events), 1), "true_edges_pt": total, "method": method,
            "pt_min": pt_min}


def node_features(c: HitCoordinates) -> np.ndarray:
    """(H, 3) float32 ``(r/1000, φ/π, z/1000)``."""
    return np.stack([c.r / 1000, c.phi / np.pi, c.z / 1000], 1).astype(np.float32)


def edge_features(c: HitCoordinates, edges: np.ndarray) -> np.ndarray:
    """(E, 4) float32 ``(Δr/100, 10 Δφ, Δz/100, Δη)`` of the edges ``src -> dst``."""
    s, d = edges
    eta = np.arcsinh(c.z / np.maximum(c.r, 1e-6))
    return np.stack([(c.r[d] - c.r[s]) / 100, 10 * delta_phi(c.phi[d], c.phi[s]), (c.z[d] - c.z[s]) / 100,
                     eta[d] - eta[s]], 1).astype(np.float32)


def event_graph(event: Event, mmap: ModuleMap, method: str = "geometric") -> Any:
    """One event as a ``torch_geometric.data.Data``: ``x`` (H, 3), ``edge_index`` (2, E), ``edge_attr`` (E, 4),
    ``y`` (E,) float edge truth (when the event has truth), ``hit_id`` (H,)."""
    from torch_geometric.data import Data

    c, edges = coordinates(event["hits"]), build_edges(event["hits"], mmap, method)
    g = Data(x=torch.from_numpy(node_features(c)), edge_index=torch.from_numpy(edges),
             edge_attr=torch.from_numpy(edge_features(c, edges)),
             hit_id=torch.as_tensor(np.asarray(event["hits"]["hit_id"], np.int64)))
    if "truth" in event and "particles" in event:
        g.y = torch.from_numpy(edge_labels(event, edges).astype(np.float32))
    return g


class _Tracking(Representation):
    """Shared options and fit of the tracking representations: the module map of the training events."""

    options: Mapping[str, Any] = {"graph_method": "geometric", "map_pt_min": 0.0, "cut_pt_min": 0.8,
                                  "graph_margin": 0.2, "seq_pt_min": 0.5, "seq_min_hits": 4}
    onnx_inputs = ()

    def check(self, config: RepresentationConfig) -> None:
        if config.graph_method not in METHODS:
            raise UsageError(f"representation: graph_method {config.graph_method!r} unknown "
                             f"(known: {', '.join(METHODS)})")
        if config.graph_margin < 0 or config.seq_min_hits < 3:
            raise UsageError("representation: graph_margin >= 0 and seq_min_hits >= 3 required")

    def fit(self, config: RepresentationConfig, data: Any) -> dict[str, Any]:
        mmap = ModuleMap.fit(data, config.map_pt_min, config.cut_pt_min, config.graph_margin)
        return {"module_map": mmap.to_dict()}

    def columns(self, config: RepresentationConfig, state: Mapping[str, Any], data: Any) -> dict[str, Tensor]:
        raise UsageError(f"representation {self.name!r} reads tracking events (use --task track), not jets")

    def dims(self, config: RepresentationConfig, state: Mapping[str, Any]) -> dict[str, Any]:
        return {"extra": {"node_features": 3, "edge_features": 4, "hit_features": 3}}


class HitGraphs(_Tracking):
    """``hitgraph``: one graph per event (:func:`event_graph`), for edge classifiers."""

    name = "hitgraph"


register_representation(HitGraphs())
