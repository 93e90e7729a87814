"""``hitseq``: the hit sequences of particles in tracking events, for recurrent track followers (HEP.TrkX).

A particle's sequence is its hits ordered by distance from its production vertex (the order of
:func:`jetlab.represent.hitgraph.true_edges`); features per hit ``(r/1000, φ − φ_first, z/1000)``. The
representation shares the options and the module-map fit of ``hitgraph``
(:class:`~jetlab.represent.hitgraph._Tracking`).
"""

from __future__ import annotations

import numpy as np

from jetlab.physics.kinematics import delta_phi
from jetlab.represent.hitgraph import Event, HitCoordinates, _particle_order, _Tracking, coordinates, particle_pt
from jetlab.represent.registry import register_representation

__all__ = ["particle_sequences", "sequence_features", "HitSequences"]


def particle_sequences(event: Event, pt_min: float = 0.0, min_hits: int = 4, per_layer: bool = False
                       ) -> list[np.ndarray]:
    """Hit rows of each particle with pT > ``pt_min`` and ``min_hits`` to 64 hits, nearest its vertex first;
    ``per_layer``: only the first hit of each run of hits on one layer (one hit per layer crossed)."""
    seq, pid = _particle_order(event)
    if per_layer:
        layer = coordinates(event["hits"]).layer[seq]
        first = np.r_[True, (pid[1:] != pid[:-1]) | (layer[1:] != layer[:-1])]
        seq, pid = seq[first], pid[first]
    pt = particle_pt(event)[seq]
    start = np.flatnonzero(np.r_[True, pid[1:] != pid[:-1]])
    groups = np.split(seq, start[1:])
    return [g for g, s0 in zip(groups, start) if pid[s0] != 0 and pt[s0] > pt_min and min_hits <= len(g) <= 64]


def sequence_features(c: HitCoordinates, rows: np.ndarray) -> np.ndarray:
    """(T, 3) float32 ``(r/1000, φ - φ_first, z/1000)`` of the hits ``rows`` (φ relative to the first hit)."""
    return np.stack([c.r[rows] / 1000, delta_phi(c.phi[rows], c.phi[rows[0]]), c.z[rows] / 1000], 1
                    ).astype(np.float32)



class HitSequences(_Tracking):
    """``hitseq``: the hit sequences of particles (:func:`particle_sequences`), for recurrent followers."""

    name = "hitseq"


register_representation(HitSequences())
