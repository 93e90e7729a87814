"""Jet graphs: k-nearest-neighbour edges in (Δη, Δφ) and batched PyTorch Geometric graphs.

Input convention (from :func:`jetlab.represent.cloud.point_cloud`, as torch tensors):
``points`` (B, P, 2) = (Δη, Δφ), ``x`` (B, P, F), ``mask`` (B, P) bool, True = real particle.
Distances use the wrapped Δφ difference: ``d²(i, j) = (η_i - η_j)² + wrap(φ_i - φ_j)²``.

Edges follow PyG's ``source_to_target`` flow: ``edge_index[0]`` is the neighbour j, ``edge_index[1]``
the centre i, so a message-passing layer aggregates over the k neighbours of each particle
(EdgeConv / ParticleNet, Wang et al. arXiv:1801.07829, Qu & Gouskos arXiv:1902.08570).

``torch_geometric`` is imported only when a graph is built (it takes seconds to import).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from jetlab.io.jets import Jets
from jetlab.represent.cloud import point_cloud

if TYPE_CHECKING:
    from torch_geometric.data import Batch

__all__ = ["knn_indices", "to_pyg", "fully_connected_edges", "jet_graphs"]


def _distance2(points: Tensor) -> Tensor:
    """(B, P, P) squared distances ``Δη² + wrap(Δφ)²`` between the (B, P, 2) points; no autograd."""
    eta, phi = points[..., 0], points[..., 1]  # (B, P) each
    d2 = (eta[:, :, None] - eta[:, None, :]).square_()  # (B, P, P)
    dphi = (phi[:, :, None] - phi[:, None, :]).abs_()  # (B, P, P) in [0, 2π)
    return d2.add_(torch.minimum(dphi, 2 * math.pi - dphi).square_())  # (B, P, P)


def knn_indices(points: Tensor, mask: Tensor, k: int) -> Tensor:
    """Slot indices of the k nearest real neighbours of every particle, excluding itself.

    Arguments:
        points: (B, P, 2) float (Δη, Δφ).
        mask: (B, P) bool, True = real particle; masked slots are never chosen as neighbours.
        k: neighbours per particle (>= 1).

    Returns:
        (B, P, k) long, nearest first. A real particle with fewer than k real neighbours repeats its
        nearest real neighbour in the missing places, or itself when it is alone in its jet. Rows of
        padded slots hold their own index (they are padding; use ``mask`` to drop them).
        Slots past the last real particle of the batch are skipped in the (B, P, P) distance matrix.

    Example:
        >>> pts = torch.tensor([[[0.0, 0.0], [0.1, 0.0], [0.5, 0.0]]])
        >>> knn_indices(pts, torch.tensor([[True, True, True]]), k=1).tolist()
        [[[1], [0], [1]]]
    """
    if k < 1:
        raise ValueError(f"knn_indices: k must be >= 1, got {k}")
    b, p = mask.shape
    own = torch.arange(p, device=mask.device).view(1, p, 1).expand(b, p, k)  # (B, P, k)
    used = mask.any(dim=0).nonzero()  # (U, 1) slots real in some jet
    n = int(used.max()) + 1 if used.numel() else 0  # slots >= n are padding everywhere
    with torch.no_grad():
        idx = _knn(points[:, :n], mask[:, :n], k, own[:, :n])  # (B, n, k)
    return torch.cat([idx, own[:, n:]], dim=1)  # (B, P, k)


def _knn(points: Tensor, mask: Tensor, k: int, own: Tensor) -> Tensor:
    """:func:`knn_indices` on (B, n, 2) points; ``own`` (B, n, k) holds each slot's own index."""
    b, n = mask.shape
    if n == 0:
        return own
    eye = torch.eye(n, dtype=torch.bool, device=mask.device)  # (n, n)
    d2 = _distance2(points).masked_fill_(~mask[:, None, :] | eye, math.inf)  # (B, n, n)
    dist, idx = d2.topk(min(k, n), dim=-1, largest=False)  # (B, n, min(k, n)) ascending
    if k > n:
        dist = torch.cat([dist, dist.new_full((b, n, k - n), math.inf)], dim=-1)  # (B, n, k)
        idx = torch.cat([idx, idx.new_zeros((b, n, k - n))], dim=-1)  # (B, n, k)
    nearest = torch.where(torch.isfinite(dist[..., :1]), idx[..., :1], own[..., :1])  # (B, n, 1)
    idx = torch.where(torch.isfinite(dist), idx, nearest)  # (B, n, k)
    return torch.where(mask[..., None], idx, own)  # (B, n, k)


def _node_ids(mask: Tensor) -> tuple[Tensor, Tensor]:
    """Global node id of every slot (B, P) (-1 at padding) and graph offsets ``ptr`` (B + 1,)."""
    counts = mask.sum(dim=1)  # (B,)
    ptr = torch.cat([counts.new_zeros(1), counts.cumsum(0)])  # (B + 1,)
    node = mask.flatten().long().cumsum(0).view_as(mask) - 1  # (B, P)
    return torch.where(mask, node, -1), ptr


def to_pyg(points: Tensor, x: Tensor, mask: Tensor, k: int = 16, y: Tensor | None = None) -> Batch:
    """A batched PyG graph of the real particles of B jets, with kNN edges inside each jet.

    Arguments:
        points: (B, P, 2) (Δη, Δφ); x: (B, P, F) node features; mask: (B, P) bool, True = real.
        k: neighbours per node (see :func:`knn_indices` for jets with fewer than k + 1 particles).
        y: optional (B,) per-jet labels, stored as ``batch.y``.

    Returns:
        ``torch_geometric.data.Batch`` with M = ``mask.sum()`` nodes in jet order: ``x`` (M, F),
        ``pos`` (M, 2), ``edge_index`` (2, M·k) (row 0 = neighbour, row 1 = centre, both in the same
        jet), ``batch`` (M,), ``ptr`` (B + 1,). Jets without particles are empty graphs;
        ``get_example`` / ``to_data_list`` work as after ``Batch.from_data_list``.
    """
    from torch_geometric.data import Batch, Data

    points, x = torch.as_tensor(points, dtype=torch.float32), torch.as_tensor(x, dtype=torch.float32)
    mask = torch.as_tensor(mask, dtype=torch.bool)
    b, p = mask.shape
    node, ptr = _node_ids(mask)  # (B, P), (B + 1,)
    nbr = knn_indices(points, mask, k)  # (B, P, k) slot indices
    src = node.gather(1, nbr.flatten(1)).view(b, p, k)[mask]  # (M, k) global id of neighbour j
    dst = node[mask][:, None].expand(-1, k)  # (M, k) global id of centre i
    counts = ptr[1:] - ptr[:-1]  # (B,)
    out = Batch(_base_cls=Data)
    out.x, out.pos = x[mask], points[mask]  # (M, F), (M, 2)
    out.edge_index = torch.stack([src.flatten(), dst.flatten()])  # (2, M * k)
    out.batch = torch.arange(b, device=mask.device).repeat_interleave(counts)  # (M,)
    out.ptr = ptr  # (B + 1,)
    zeros = torch.zeros(b, dtype=torch.long, device=mask.device)
    slices = {"x": ptr, "pos": ptr, "edge_index": ptr * k}
    incs = {"x": zeros, "pos": zeros, "edge_index": ptr[:-1]}
    if y is not None:
        out.y = torch.as_tensor(y)  # (B,)
        slices["y"], incs["y"] = torch.arange(b + 1, device=mask.device), zeros
    out._num_graphs, out._slice_dict, out._inc_dict = b, slices, incs
    return out


def fully_connected_edges(mask: Tensor) -> Tensor:
    """(2, E) edges j -> i between all ordered pairs of distinct real particles of the same jet.

    Node ids are global, as in :func:`to_pyg` (real particles numbered in jet order); for interaction
    networks (Moreno et al., arXiv:1908.05318). E = Σ_jets n (n - 1).

    Example:
        >>> fully_connected_edges(torch.tensor([[True, True, False], [True, False, False]])).tolist()
        [[1, 0], [0, 1]]
    """
    mask = torch.as_tensor(mask, dtype=torch.bool)
    node, _ = _node_ids(mask)  # (B, P)
    eye = torch.eye(mask.shape[1], dtype=torch.bool, device=mask.device)  # (P, P)
    jet, i, j = (mask[:, :, None] & mask[:, None, :] & ~eye).nonzero(as_tuple=True)  # (E,) each
    return torch.stack([node[jet, j], node[jet, i]])  # (2, E)


def jet_graphs(
    jets: Jets, k: int = 16, features: Sequence[str] | None = None, max_particles: int | None = None
) -> Batch:
    """Jets -> batched kNN graph (:func:`point_cloud` then :func:`to_pyg`), labels in ``batch.y``.

    Builds (B, P, P) distance matrices: call it on a mini-batch, not on a whole dataset at once.
    """
    points, x, mask = point_cloud(jets, features, max_particles)  # (N, P, 2), (N, P, F), (N, P)
    labels = torch.from_numpy(np.asarray(jets.labels, np.int64))  # (N,)
    return to_pyg(torch.from_numpy(points), torch.from_numpy(x), torch.from_numpy(mask), k, labels)
