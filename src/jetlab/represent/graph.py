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
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from jetlab.errors import UsageError
from jetlab.io.jets import Jets
from jetlab.represent.cloud import Particles, point_cloud
from jetlab.represent.registry import RepresentationConfig, register_representation

if TYPE_CHECKING:
    from torch_geometric.data import Batch

__all__ = ["knn_indices", "to_pyg", "fully_connected_edges", "jet_graphs", "Graphs"]


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
        (B, P, k) long, nearest first (equally distant ones in slot order on CPU). A real particle with
        fewer than k real neighbours repeats its nearest real neighbour in the missing places, or itself
        when it is alone in its jet. Rows of
        padded slots hold their own index (they are padding; use ``mask`` to drop them).
        Slots past the last real particle of the batch are skipped in the (B, P, P) distance matrix.

    Example:
        >>> pts = torch.tensor([[[0.0, 0.0], [0.1, 0.0], [0.5, 0.0]]])
        >>> knn_indices(pts, torch.tensor([[True, True, True]]), k=1).tolist()
        [[[1], [0], [1]]]
    """
    if k < 1:
        raise ValueError(f"knn_indices: k must be >= 1, got {k}")
    if _numpy_ok(points):
        return torch.from_numpy(_knn_slots(points.numpy(), mask.numpy(), k))
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
    if _numpy_ok(points):
        return torch.from_numpy(_knn_numpy(points.numpy(), mask.numpy(), k))
    eye = torch.eye(n, dtype=torch.bool, device=mask.device)  # (n, n)
    d2 = _distance2(points).masked_fill_(~mask[:, None, :] | eye, math.inf)  # (B, n, n)
    dist, idx = d2.topk(min(k, n), dim=-1, largest=False)  # (B, n, min(k, n)) ascending
    if k > n:
        dist = torch.cat([dist, dist.new_full((b, n, k - n), math.inf)], dim=-1)  # (B, n, k)
        idx = torch.cat([idx, idx.new_zeros((b, n, k - n))], dim=-1)  # (B, n, k)
    nearest = torch.where(torch.isfinite(dist[..., :1]), idx[..., :1], own[..., :1])  # (B, n, 1)
    idx = torch.where(torch.isfinite(dist), idx, nearest)  # (B, n, k)
    return torch.where(mask[..., None], idx, own)  # (B, n, k)


def _numpy_ok(points: Tensor) -> bool:
    """Eager CPU float tensors (the data loader, CPU training) take the numpy path; GPU and tracing stay in torch."""
    tracing = (torch.compiler.is_compiling() or torch.compiler.is_exporting() or torch.jit.is_tracing()
               or torch.onnx.is_in_onnx_export())
    return points.device.type == "cpu" and points.dtype in (torch.float32, torch.float64) and not tracing


def _knn_slots(points: np.ndarray, mask: np.ndarray, k: int) -> np.ndarray:
    """:func:`knn_indices` in numpy: (B, P, k) int64 from (B, P, 2) points and (B, P) mask."""
    b, p = mask.shape
    out = np.empty((b, p, k), np.int64)
    out[:] = np.arange(p)[None, :, None]  # (B, P, k) own index: the rows of padded slots
    used = np.flatnonzero(mask.any(axis=0))  # slots real in some jet
    n = int(used[-1]) + 1 if used.size else 0  # slots >= n are padding everywhere
    if n:
        out[:, :n] = _knn_numpy(points[:, :n], mask[:, :n], k)
    return out


def _knn_numpy(points: np.ndarray, mask: np.ndarray, k: int) -> np.ndarray:
    """:func:`_knn` in numpy, for eager CPU calls (the data loader): same distances, and ties in slot order.

    numpy's argsort is several times faster than torch's CPU ``topk``, and single-threaded numpy pays no
    thread-pool wake-up per operation (which dominates on busy machines). Rows with a tie among their k + 1
    nearest are sorted again stably.
    """
    b, n = mask.shape
    eta, phi = points[..., 0], points[..., 1]  # (B, n) each
    d2 = np.square(eta[:, :, None] - eta[:, None, :])  # (B, n, n)
    dphi = np.abs(phi[:, :, None] - phi[:, None, :])  # (B, n, n) in [0, 2π)
    d2 += np.square(np.minimum(dphi, 2 * math.pi - dphi))  # (B, n, n)
    np.putmask(d2, ~mask[:, None, :] | np.eye(n, dtype=bool), np.inf)  # (B, n, n) no padding, no self
    m = min(k + 1, n)
    idx = np.argsort(d2, axis=-1)[..., :m]  # (B, n, m) ties in any order
    rows = np.arange(b * n).reshape(b, n, 1) * n  # (B, n, 1) flat offset of every row
    dist = np.take(d2, idx + rows)  # (B, n, m)
    tied = ((dist[..., 1:] == dist[..., :-1]) & np.isfinite(dist[..., 1:])).any(axis=-1)  # (B, n)
    if tied.any():
        idx[tied] = np.argsort(d2[tied], axis=-1, kind="stable")[..., :m]
        dist[tied] = np.take(d2, idx[tied] + rows[tied])
    idx, finite = idx[..., :k], np.isfinite(dist[..., :k])  # (B, n, min(k, n)) each
    if k > n:
        idx = np.concatenate([idx, np.zeros((b, n, k - n), idx.dtype)], axis=-1)  # (B, n, k)
        finite = np.concatenate([finite, np.zeros((b, n, k - n), bool)], axis=-1)  # (B, n, k)
    own = np.arange(n)[None, :, None]  # (1, n, 1)
    nearest = np.where(finite[..., :1], idx[..., :1], own)  # (B, n, 1)
    idx = np.where(finite, idx, nearest)  # (B, n, k)
    return np.where(mask[..., None], idx, own).astype(np.int64)  # (B, n, k)


def _node_ids(mask: Tensor) -> tuple[Tensor, Tensor]:
    """Global node id of every slot (B, P) (-1 at padding) and graph offsets ``ptr`` (B + 1,)."""
    counts = mask.sum(dim=1)  # (B,)
    ptr = torch.cat([counts.new_zeros(1), counts.cumsum(0)])  # (B + 1,)
    node = mask.flatten().long().cumsum(0).view_as(mask) - 1  # (B, P)
    return torch.where(mask, node, -1), ptr


def to_pyg(points: Tensor | np.ndarray, x: Tensor | np.ndarray, mask: Tensor | np.ndarray, k: int = 16,
           y: Tensor | np.ndarray | None = None, neighbours: Tensor | np.ndarray | None = None) -> Batch:
    """A batched PyG graph of the real particles of B jets, with kNN edges inside each jet.

    Arguments:
        points: (B, P, 2) (Δη, Δφ); x: (B, P, F) node features; mask: (B, P) bool, True = real
            (torch tensors or NumPy arrays).
        k: neighbours per node (see :func:`knn_indices` for jets with fewer than k + 1 particles).
        y: optional (B,) per-jet labels, stored as ``batch.y``.
        neighbours: optional (B, P, k) :func:`knn_indices` of these jets, computed before (e.g. once per
            dataset); None computes them here.

    Returns:
        ``torch_geometric.data.Batch`` with M = ``mask.sum()`` nodes in jet order: ``x`` (M, F),
        ``pos`` (M, 2), ``edge_index`` (2, M·k) (row 0 = neighbour, row 1 = centre, both in the same
        jet), ``batch`` (M,), ``ptr`` (B + 1,). Jets without particles are empty graphs;
        ``get_example`` / ``to_data_list`` work as after ``Batch.from_data_list``.
    """
    from torch_geometric.data import Batch, Data

    device = mask.device if isinstance(mask, Tensor) else torch.device("cpu")
    points, x, mask = _array(points, np.float32), _array(x, np.float32), _array(mask, np.bool_)
    b, p = mask.shape
    counts = mask.sum(axis=1)  # (B,)
    ptr = np.concatenate([[0], np.cumsum(counts)])  # (B + 1,)
    node = np.cumsum(mask.ravel()) - 1  # (B·P,) global node id of every real slot
    jet = np.repeat(np.arange(b), counts)  # (M,) jet of every node
    slots = _knn_slots(points, mask, k) if neighbours is None else _array(neighbours, np.int64)  # (B, P, k)
    nbr = slots[mask]  # (M, k) slot ids of the neighbours
    src = node[nbr + (jet * p)[:, None]]  # (M, k) global id of neighbour j
    dst = np.repeat(np.arange(len(jet)), k)  # (M·k,) global id of centre i

    def tensor(a: np.ndarray) -> Tensor:
        return torch.from_numpy(a).to(device)

    out = Batch(_base_cls=Data)
    out.x, out.pos = tensor(x[mask]), tensor(points[mask])  # (M, F), (M, 2)
    out.edge_index = tensor(np.stack([src.ravel(), dst]))  # (2, M * k)
    out.batch, out.ptr = tensor(jet), tensor(ptr)  # (M,), (B + 1,)
    zeros = torch.zeros(b, dtype=torch.long, device=device)
    slices = {"x": out.ptr, "pos": out.ptr, "edge_index": out.ptr * k}
    incs = {"x": zeros, "pos": zeros, "edge_index": out.ptr[:-1]}
    if y is not None:
        out.y = torch.as_tensor(y)  # (B,)
        slices["y"], incs["y"] = torch.arange(b + 1, device=device), zeros
    out._num_graphs, out._slice_dict, out._inc_dict = b, slices, incs
    return out


def _array(a: Tensor | np.ndarray, dtype: type) -> np.ndarray:
    a = a.detach().cpu().numpy() if isinstance(a, Tensor) else np.asarray(a)
    return a.astype(dtype, copy=False)


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


class Graphs(Particles):
    """``graph``: the ``particles`` keys plus ``graph``, a PyG batch with kNN edges in (Δη, Δφ).

    The columns keep each jet's k neighbour slots as ``knn`` (B, P, k); :meth:`assemble` builds the PyG
    graph of the batch from them.
    """

    name = "graph"
    options: Mapping[str, Any] = {"features": None, "max_particles": 64, "k": 16}

    def check(self, config: RepresentationConfig) -> None:
        super().check(config)
        if config.k < 1:
            raise UsageError(f"representation: k >= 1 required, got {config.k}")

    def columns(self, config: RepresentationConfig, state: Mapping[str, Any], data: Jets) -> dict[str, Tensor]:
        cols = super().columns(config, state, data)
        small = torch.int16 if config.max_particles < 2**15 else torch.int64
        cols["knn"] = knn_indices(cols["points"], cols["mask"], config.k).to(small)  # (B, P, k)
        return cols

    def assemble(self, config: RepresentationConfig, batch: dict[str, Any]) -> dict[str, Any]:
        knn = batch.pop("knn")
        batch["graph"] = to_pyg(batch["points"], batch["x"], batch["mask"], k=config.k, neighbours=knn)
        return batch


register_representation(Graphs())
