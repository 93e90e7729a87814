"""Energy flow polynomials (EFPs), vectorized over padded batches of jets.

Komiske, Metodiev, Thaler, "Energy flow polynomials: a complete linear basis for jet substructure",
arXiv:1712.07124. A multigraph G with vertices 1..N and edges (k, l) (repeats allowed, no self-loops)
defines::

    EFP_G = Σ_{i1..iN} z_i1 ... z_iN  Π_{(k,l) ∈ G} θ_{ik il}

with the hadronic (z, θ) measure (energyflow's ``measure="hadr"``, ``normed=True``)::

    z_i  = pT_i / Σ_j pT_j
    θ_ij = ΔR_ij^β,   ΔR_ij² = (y_i - y_j)² + Δφ_ij²   (Δφ wrapped into [-π, π))

β = 1 by default. With ``normed=False`` the weights are the raw ``z_i = pT_i`` (energyflow's
``normed=False``, which jetnet's EFPs use): an EFP of a graph with N vertices then scales as
(pT scale)^N, so it sees a global pT scale that the normalized EFPs are blind to.

The angle coordinate ``y`` is whatever the caller passes: rapidity for massive particles
(energyflow's ``coords="ptyphim"``) or pseudorapidity η (identical for massless particles, and the
JetNet convention, where particles are given as (Δη, Δφ, pT_rel)).

The degree d of an EFP is its number of edges. Only connected ("prime") graphs are enumerated: a
disconnected graph's EFP is the product of its components' EFPs. The number of connected multigraphs
with d = 1, 2, 3, 4, 5 edges is 1, 2, 5, 12, 33 (OEIS A076864). Graphs are enumerated by adding one
edge at a time to the graphs of degree d - 1 (every connected multigraph arises so: drop a non-bridge
edge, or a leaf with its edge) and deduplicated by a brute-force canonical form (minimum over vertex
permutations of the sorted edge list; at most 6 vertices for d ≤ 5).

Evaluation: one ``np.einsum`` per graph with one subscript per vertex, over the (N, P) weights z and
the (N, P, P) matrices θ^m for each edge multiplicity m; the contraction order comes from
``np.einsum_path`` (for trees it reduces to matrix-vector products, O(N P²)). Padding slots get z = 0
and so drop out of every sum; jets are processed in chunks to bound memory.

Example:
    >>> [len(efp_graphs(d)) for d in range(1, 6)]
    [1, 3, 8, 20, 53]
    >>> efp_graphs(2)
    [((0, 1),), ((0, 1), (0, 1)), ((0, 1), (0, 2))]
"""

from __future__ import annotations

import itertools
from functools import cache

import numpy as np

from jetlab.physics.kinematics import delta_phi

__all__ = ["Graph", "efp_graphs", "efps", "graph_degree", "n_vertices"]

Graph = tuple[tuple[int, int], ...]
"""A multigraph as its sorted edges (a, b), a < b, on vertices 0..n-1 (all of them touched)."""

_CHUNK_ELEMENTS = 2_000_000  # jets x P x P held at once per θ matrix (16 MB in float64)
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def n_vertices(graph: Graph) -> int:
    """Number of vertices of ``graph`` (its largest vertex label + 1)."""
    return 1 + max(max(e) for e in graph)


def graph_degree(graph: Graph) -> int:
    """Degree d of the EFP of ``graph``: its number of edges."""
    return len(graph)


def _canonical(edges: Graph, n: int) -> Graph:
    """Minimum over the n! relabelings of the sorted edge list: equal iff the graphs are isomorphic."""
    best: Graph | None = None
    for perm in itertools.permutations(range(n)):
        cand = tuple(sorted((min(perm[a], perm[b]), max(perm[a], perm[b])) for a, b in edges))
        if best is None or cand < best:
            best = cand
    assert best is not None
    return best


@cache
def _connected_of_degree(d: int) -> tuple[Graph, ...]:
    """All connected multigraphs with exactly ``d`` edges, up to isomorphism, sorted (cached)."""
    if d < 1:
        raise ValueError(f"EFP degree must be >= 1, got {d}")
    if d == 1:
        return (((0, 1),),)
    found: set[Graph] = set()
    for g in _connected_of_degree(d - 1):
        n = n_vertices(g)
        new_edges = list(itertools.combinations(range(n), 2)) + [(v, n) for v in range(n)]  # inner or new leaf
        for e in new_edges:
            grown = g + (e,)
            found.add(_canonical(grown, n_vertices(grown)))
    return tuple(sorted(found, key=lambda g: (n_vertices(g), g)))


def efp_graphs(dmax: int = 5) -> list[Graph]:
    """All connected multigraphs with 1..``dmax`` edges, ordered by degree, then vertex count, then edges.

    Counts per degree d = 1..5: 1, 2, 5, 12, 33 (cumulative 1, 3, 8, 20, 53).
    """
    return [g for d in range(1, dmax + 1) for g in _connected_of_degree(d)]


def _einsum_spec(graph: Graph) -> tuple[str, list[int]]:
    """einsum subscripts for ``graph``: z per vertex, then θ^m per distinct edge; returns (spec, m per edge)."""
    n = n_vertices(graph)
    v = _LETTERS[1 : n + 1]  # 'a' is the jet index
    mult: dict[tuple[int, int], int] = {}
    for e in graph:
        mult[e] = mult.get(e, 0) + 1
    terms = [f"a{v[i]}" for i in range(n)] + [f"a{v[i]}{v[j]}" for i, j in mult]
    return ",".join(terms) + "->a", list(mult.values())


def _efps_chunk(z: np.ndarray, dr: np.ndarray, graphs: list[Graph], beta: float) -> np.ndarray:
    """EFPs (n, G) of one chunk: z (n, P) normalized weights (0 at padding), dr (n, P, P) ΔR."""
    powers: dict[int, np.ndarray] = {}
    out = np.empty((z.shape[0], len(graphs)))
    for k, g in enumerate(graphs):
        spec, mults = _einsum_spec(g)
        for m in mults:
            if m not in powers:
                powers[m] = dr ** (beta * m)  # (n, P, P) θ^m
        ops = [z] * n_vertices(g) + [powers[m] for m in mults]
        path = np.einsum_path(spec, *ops, optimize="greedy")[0]
        out[:, k] = np.einsum(spec, *ops, optimize=path)
    return out


def efps(
    pt: np.ndarray,
    y: np.ndarray,
    phi: np.ndarray,
    mask: np.ndarray | None = None,
    dmax: int = 5,
    beta: float = 1.0,
    normed: bool = True,
) -> np.ndarray:
    """All connected EFPs of degree 1..``dmax`` for padded jets, columns in :func:`efp_graphs` order.

    Arguments:
        pt, y, phi: (N, P) particle transverse momenta (with ``normed``, any positive scale: only
            z_i = pT_i/Σ pT enters), rapidities (or pseudorapidities) and azimuths.
        mask: (N, P) bool, True = real particle; None = all real. Padding never contributes.
        dmax: largest degree (number of edges).
        beta: angular exponent β > 0 in θ_ij = ΔR_ij^β.
        normed: z_i = pT_i / Σ_j pT_j if True (the default), else z_i = pT_i.

    Returns:
        (N, G) float64, G = len(efp_graphs(dmax)). Jets with Σ pT = 0 give 0.

    Example (two particles of pT 1 and 3 at ΔR = 0.5; the degree-1 EFP is Σ z_i z_j θ_ij):
        >>> pt, y, phi = np.array([[1.0, 3.0]]), np.array([[0.0, 0.5]]), np.zeros((1, 2))
        >>> efps(pt, y, phi, dmax=1).round(4).tolist(), efps(pt, y, phi, dmax=1, normed=False).tolist()
        ([[0.1875]], [[3.0]])
    """
    pt, y, phi = (np.asarray(a, dtype=np.float64) for a in (pt, y, phi))
    if pt.ndim != 2 or pt.shape != y.shape or pt.shape != phi.shape:
        raise ValueError(f"pt, y, phi must be (N, P) of equal shape, got {pt.shape}, {y.shape}, {phi.shape}")
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    real = np.ones(pt.shape, bool) if mask is None else np.asarray(mask, bool)
    w = np.where(real, pt, 0.0)  # (N, P)
    total = w.sum(axis=1, keepdims=True)  # (N, 1)
    z = np.divide(w, total, out=np.zeros_like(w), where=total > 0) if normed else w  # (N, P)
    graphs = efp_graphs(dmax)
    n, p = pt.shape
    out = np.empty((n, len(graphs)))
    step = max(1, _CHUNK_ELEMENTS // max(p * p, 1))
    for lo in range(0, n, step):
        s = slice(lo, lo + step)
        dy = y[s, :, None] - y[s, None, :]  # (n, P, P)
        dr = np.hypot(dy, delta_phi(phi[s, :, None], phi[s, None, :]))  # (n, P, P), 0 on the diagonal
        out[s] = _efps_chunk(z[s], dr, graphs, beta)
    return out
