"""ParticleNet: dynamic graph CNN (EdgeConv blocks) on the jet as a point cloud.

Dense implementation on (B, P, ·) tensors: kNN runs over real particles only, edges are packed
(only real centre → real neighbour pairs are computed; while exporting, the real centres with all k
neighbour places), BatchNorm sees real particles/edges only, and padded slots are 0 after every block.
Mask convention: ``mask`` (B, P) bool, True = real.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from jetlab.models.layers import dense_knn, exporting, masked_apply, mlp, trim_padding
from jetlab.models.registry import InputDims, register_model
from jetlab.represent.graph import knn_indices

__all__ = ["feature_knn", "EdgeConvBlock", "ParticleNet"]


def feature_knn(feats: Tensor, mask: Tensor, k: int) -> Tensor:
    """(B, P, k) slot indices of the k nearest real particles in feature space (Euclidean), self excluded.

    ``feats`` (B, P, C), ``mask`` (B, P) bool, True = real; padded slots are never chosen. A particle
    with fewer than k real neighbours gets its nearest one repeated, or itself when alone (as
    :func:`jetlab.represent.graph.knn_indices`); callers mask those places with :func:`neighbour_mask`.
    Rows of padded slots are arbitrary.

    Example:
        >>> feats = torch.tensor([[[0.0], [1.0], [0.1], [0.2]]])
        >>> feature_knn(feats, torch.tensor([[True, True, False, True]]), k=2)[0, :2].tolist()
        [[3, 1], [3, 0]]
    """
    b, p = mask.shape
    with torch.no_grad():
        sq = feats.square().sum(-1)  # (B, P)
        d2 = sq[:, :, None] + sq[:, None, :] - 2 * feats @ feats.transpose(1, 2)  # (B, P, P)
        eye = torch.eye(p, dtype=torch.bool, device=mask.device)  # (P, P)
        d2 = d2.masked_fill(~mask[:, None, :] | eye, math.inf)  # (B, P, P)
        dist, idx = d2.topk(min(k, p), dim=-1, largest=False)  # (B, P, min(k, P)) nearest first
        own = torch.arange(p, device=mask.device).view(1, p, 1)  # (1, P, 1)
        nearest = torch.where(torch.isfinite(dist[..., :1]), idx[..., :1], own)  # (B, P, 1) self if alone
        idx = torch.where(torch.isfinite(dist), idx, nearest)  # (B, P, min(k, P))
        if k > p:
            idx = torch.cat([idx, idx[..., :1].expand(b, p, k - p)], dim=-1)  # (B, P, k)
    return idx


def neighbour_mask(mask: Tensor, k: int) -> Tensor:
    """(B, P, k) bool: place r of a real particle's neighbour list holds a real neighbour (r < n_jet - 1)."""
    n = mask.sum(dim=1)  # (B,)
    rank = torch.arange(k, device=mask.device)  # (k,)
    return mask[:, :, None] & (rank[None, None, :] < (n - 1)[:, None, None])  # (B, P, k)


class EdgeConvBlock(nn.Module):
    """EdgeConv (Wang et al. arXiv:1801.07829) with ParticleNet's shortcut:

    ``x_i' = ReLU( mean_{j ∈ kNN(i)} h_Θ(x_i, x_j - x_i) + BN(W x_i) )``, h_Θ = (Linear, BN, ReLU) per ``dims``.

    Shapes: ``x`` (B, P, C), ``mask`` (B, P) bool (True = real), ``idx`` (B, P, k) neighbour slots
    (:func:`feature_knn` of ``x`` when None) -> (B, P, C'), 0 at padded slots. The mean runs over the real
    neighbours (min(k, n - 1) of them); a lone particle gets only the shortcut.
    """

    def __init__(self, k: int, in_dim: int, dims: Sequence[int]) -> None:
        super().__init__()
        self.k = k
        self.edge_mlp = mlp((2 * in_dim, *dims), norm=True)
        self.shortcut = nn.Sequential(nn.Linear(in_dim, dims[-1], bias=False), nn.BatchNorm1d(dims[-1]))

    def forward(self, x: Tensor, mask: Tensor, idx: Tensor | None = None) -> Tensor:
        b, p, c = x.shape
        if idx is None:
            idx = feature_knn(x, mask, self.k)  # (B, P, k)
        if exporting():
            return self._packed(x, mask, idx)
        bb, i, r = neighbour_mask(mask, self.k).nonzero(as_tuple=True)  # (E,) each: jet, centre, rank
        flat = x.reshape(b * p, c)  # (B·P, C)
        centre, nbr = bb * p + i, bb * p + idx[bb, i, r]  # (E,) each
        h = self.edge_mlp[1:](self._first_layer(flat, centre, nbr))  # (E, C')
        agg = h.new_zeros(b * p, h.shape[-1]).index_add(0, centre, h)  # (B·P, C')
        count = (mask.sum(1, keepdim=True) - 1).clamp(min=1, max=self.k)  # (B, 1)
        agg = agg.view(b, p, -1) / count[..., None]  # (B, P, C')
        out = torch.relu(agg + masked_apply(self.shortcut, x, mask))  # (B, P, C')
        return out * mask[..., None]  # (B, P, C')

    def _packed(self, x: Tensor, mask: Tensor, idx: Tensor) -> Tensor:
        """:meth:`forward` for export (eval mode, same outputs): the N real particles packed (``nonzero``, a
        data-dependent size the exported graph holds), each with all its k neighbour places.

        The first Linear's BatchNorm is folded into it (``s ⊙ Θ x + t``). Places r ≥ n - 1 repeat place 0
        (:func:`feature_knn`), so the sum over real neighbours is ``Σ_r h_r - (k - c) h_0``, c = min(k, n - 1):
        no (N, k, C') mask.
        """
        b, p, c = x.shape
        flat = x.reshape(b * p, c)  # (B·P, C)
        real = mask.reshape(-1).nonzero().squeeze(1)  # (N,) slots of real particles
        n = real.shape[0]
        nbr = (idx + (torch.arange(b, device=x.device) * p).view(b, 1, 1)).reshape(b * p, self.k)[real]  # (N, k)
        lin, bn = self.edge_mlp[0], self.edge_mlp[1]
        scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)  # (C',)
        w_a, w_b = (lin.weight * scale[:, None]).chunk(2, dim=1)  # (C', C) each
        xr = flat[real]  # (N, C)
        h = (xr @ (w_a - w_b).T + (bn.bias - bn.running_mean * scale))[:, None] + (flat @ w_b.T)[nbr]  # (N, k, C')
        h = self.edge_mlp[2:](h.reshape(n * self.k, -1)).view(n, self.k, -1)  # (N, k, C')
        size = mask.sum(1, keepdim=True).expand(b, p).reshape(-1)[real]  # (N,) particles in the jet
        c_real = (size - 1).clamp(max=self.k)[:, None]  # (N, 1) real neighbour places
        agg = (h.sum(1) - (self.k - c_real) * h[:, 0]) / c_real.clamp(min=1)  # (N, C')
        out = torch.relu(agg + self.shortcut(xr))  # (N, C')
        return out.new_zeros(b * p, out.shape[-1]).index_put((real,), out).view(b, p, -1)  # (B, P, C')

    def _first_layer(self, flat: Tensor, centre: Tensor, nbr: Tensor) -> Tensor:
        """``Θ [x_i ‖ x_j - x_i] = (Θ_a - Θ_b) x_i + Θ_b x_j``: the first Linear runs per particle, not per edge."""
        w_a, w_b = self.edge_mlp[0].weight.chunk(2, dim=1)  # (C', C) each
        return (flat @ (w_a - w_b).T)[centre] + (flat @ w_b.T)[nbr]  # (E, C')


class ParticleNet(nn.Module):
    """ParticleNet (Qu & Gouskos, arXiv:1902.08570): EdgeConv blocks with dynamic kNN graphs.

    ``x⁰ = BN(x)``; ``xᵇ = EdgeConv_b(xᵇ⁻¹)`` with kNN on (Δη, Δφ) for b = 1 and on ``xᵇ⁻¹`` after;
    fusion ``f = ReLU(BN(W [x¹ ‖ … ‖ x^L]))`` (as in weaver; ``fusion=False``: ``f = x^L`` as in the
    paper, whose parameter counts, 366k and 26k for 7 features, are without it); ``out = FC(mean_{real i} f_i)``.

    Shapes: ``batch["x"]`` (B, P, F), ``batch["points"]`` (B, P, 2), ``batch["mask"]`` (B, P) bool,
    True = real particle. Returns logits (B, n_classes). Padding never enters a kNN, a BatchNorm
    statistic or the pooling, so outputs do not depend on it (nor, in eval mode, on the other jets).
    """

    def __init__(self, n_features: int, n_classes: int, k: int = 16,
                 blocks: Sequence[Sequence[int]] = ((64, 64, 64), (128, 128, 128), (256, 256, 256)),
                 fc: Sequence[int] = (256,), dropout: float = 0.1, fusion: bool = True) -> None:
        super().__init__()
        self.input_bn = nn.BatchNorm1d(n_features)
        ins = [n_features] + [d[-1] for d in blocks[:-1]]
        self.blocks = nn.ModuleList(EdgeConvBlock(k, a, d) for a, d in zip(ins, blocks))
        cat = sum(d[-1] for d in blocks)
        fused = min(max(cat // 128 * 128, 128), 1024) if fusion else blocks[-1][-1]
        self.fusion = mlp((cat, fused), norm=True) if fusion else None
        self.head = mlp((fused, *fc, n_classes), dropout=dropout, last_act=False)

    def forward(self, batch: dict[str, Any]) -> Tensor:
        mask, x, points = trim_padding(batch["mask"], batch["x"], batch["points"])  # (B, P), (B, P, F), (B, P, 2)
        x = masked_apply(self.input_bn, x, mask)  # (B, P, F)
        outs = []
        for n, block in enumerate(self.blocks):
            knn = dense_knn if exporting() else knn_indices
            idx = knn(points, mask, block.k) if n == 0 else None  # (B, P, k) in (Δη, Δφ) first
            x = block(x, mask, idx)  # (B, P, C_b)
            outs.append(x)
        f = masked_apply(self.fusion, torch.cat(outs, dim=-1), mask) if self.fusion is not None else x  # (B, P, C_f)
        pooled = f.sum(1) / mask.sum(1, keepdim=True).clamp(min=1)  # (B, C_f)
        return self.head(pooled)  # (B, n_classes)


# ParticleNet: EdgeConv with dynamic kNN (the paper uses 100 particles, batch 384).
@register_model("particlenet",
                recipe={"representation": {"max_particles": 64},
                        "optim": {"optimizer": "adamw", "lr": 0.001, "weight_decay": 0.0001, "scheduler": "plateau"},
                        "trainer": {"epochs": 20, "batch_size": 128, "patience": 6}},
                family="gnn", representation="particles", symmetric=True,
                paper="arXiv:1902.08570", k=16, blocks=((64, 64, 64), (128, 128, 128), (256, 256, 256)),
                fc=(256,), dropout=0.1, fusion=True)
def particlenet(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """ParticleNet: the paper's three EdgeConv blocks (k=16, dynamic kNN), then fusion and FC 256."""
    return ParticleNet(dims.particle_features, n_classes, **hp)


# ParticleNet: EdgeConv with dynamic kNN (the paper uses 100 particles, batch 384).
@register_model("particlenet_lite",
                recipe={"representation": {"max_particles": 64},
                        "optim": {"optimizer": "adamw", "lr": 0.001, "weight_decay": 0.0001, "scheduler": "plateau"},
                        "trainer": {"epochs": 20, "batch_size": 128, "patience": 6}},
                family="gnn", representation="particles", symmetric=True,
                paper="arXiv:1902.08570", k=7, blocks=((32, 32, 32), (64, 64, 64)), fc=(128,), dropout=0.1,
                fusion=True)
def particlenet_lite(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """ParticleNet-Lite: two EdgeConv blocks (k=7), fusion, FC 128."""
    return ParticleNet(dims.particle_features, n_classes, **hp)
