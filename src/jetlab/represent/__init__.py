"""Representations: pure, vectorized transforms from `Jets` to model inputs, computed on the fly.

=============== ====================================== ==================================================
name            builder                                 returns (mask: True = real particle)
=============== ====================================== ==================================================
``hlf``         :func:`hlf_matrix`                     (N, H) float32 (standardize with :class:`HLFScaler`)
``image``       :func:`jet_images`                     (N, 1, bins, bins) float32, ``[n, 0, i_eta, i_phi]``
``sequence``    :func:`particle_features`              x (N, P, F) float32, mask (N, P) bool
``cloud``       :func:`point_cloud`                    points (N, P, 2), x (N, P, F), mask (N, P)
``graph``       :func:`jet_graphs`                     ``torch_geometric.data.Batch`` with kNN edges
``efp``         :func:`efp_features`                   (N, G) float64 energy flow polynomials, d ≤ dmax
=============== ====================================== ==================================================

Every builder takes the `Jets` (or a slice of it) as its first argument and its options as keywords.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jetlab.represent.calo_image import shower_image  # noqa: F401 - registers ``calo_image``
from jetlab.represent.cloud import four_momenta, lorentz_scalars, point_cloud, relative_clouds
from jetlab.represent.efp import efp_features, n_efp_features
from jetlab.represent.graph import fully_connected_edges, jet_graphs, knn_indices, to_pyg
from jetlab.represent.hlf import HLFScaler, hlf_matrix
from jetlab.represent.image import jet_images
from jetlab.represent.maps import normalized_maps  # noqa: F401 - registers ``detector_map``
from jetlab.represent.sequence import COURSE7, FEATURES, default_features, particle_features
from jetlab.represent.shower_shapes import shower_features  # noqa: F401 - registers ``shower_shapes``
from jetlab.represent.voxels import from_normalized, to_normalized  # noqa: F401 - registers ``voxels``

__all__ = [
    "REPRESENTATIONS",
    "HLFScaler",
    "hlf_matrix",
    "jet_images",
    "particle_features",
    "default_features",
    "FEATURES",
    "COURSE7",
    "point_cloud",
    "relative_clouds",
    "lorentz_scalars",
    "four_momenta",
    "knn_indices",
    "to_pyg",
    "fully_connected_edges",
    "jet_graphs",
    "efp_features",
    "n_efp_features",
]

REPRESENTATIONS: dict[str, Callable[..., Any]] = {
    "hlf": hlf_matrix,
    "image": jet_images,
    "sequence": particle_features,
    "cloud": point_cloud,
    "graph": jet_graphs,
    "efp": efp_features,
}
