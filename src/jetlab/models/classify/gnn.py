"""Graph networks on jets: GCN and GAT on the kNN graph, and the fully connected interaction network.

Also the masking helpers shared by the set and graph models (ParticleNet, ParT): they run per-particle
or per-pair layers on the real entries only, so BatchNorm statistics never see padding and padded slots
stay exactly 0. Mask convention everywhere: ``mask`` (B, P) bool, True = real particle.

``torch_geometric`` is imported when a GCN/GAT is built, not with this module (it takes seconds).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from jetlab.models.layers import exporting, masked_apply, mlp, trim_padding
from jetlab.models.registry import InputDims, register_model

__all__ = ["GraphConvNet", "InteractionNetwork"]








class GraphConvNet(nn.Module):
    """Message passing on the kNN jet graph, then one vector per jet (GCN or GAT).

    GCN (Kipf & Welling, arXiv:1609.02907): ``h_i' = σ(Σ_{j∈N(i)∪{i}} W h_j / sqrt(d_i d_j))``.
    GAT (Veličković et al., arXiv:1710.10903): ``h_i' = σ(‖_heads Σ_j α_ij W h_j)``,
    ``α_ij = softmax_j LeakyReLU(aᵀ[W h_i ‖ W h_j])``.

    Input: ``batch["graph"]`` (torch_geometric Batch of the real particles only: ``x`` (M, F),
    ``edge_index`` (2, E) kNN edges j → i, ``batch`` (M,)) and ``batch["mask"]`` (B, P) for B.
    Node features are batch-normalized (real particles only), convolved, pooled per jet
    (mean or sum, 0 for an empty jet) and classified: logits (B, n_classes).
    """

    def __init__(self, n_features: int, n_classes: int, conv: str = "gcn", hidden: Sequence[int] = (64, 64, 64),
                 heads: int = 1, fc: Sequence[int] = (64,), pool: str = "mean", dropout: float = 0.1) -> None:
        super().__init__()
        from torch_geometric.nn import GATConv, GCNConv

        if pool not in ("mean", "add"):
            raise ValueError(f"GraphConvNet: pool must be 'mean' or 'add', got {pool!r}")
        self.pool, self.input_bn = pool, nn.BatchNorm1d(n_features)
        sizes = (n_features, *hidden)
        if conv == "gcn":
            self.convs = nn.ModuleList(GCNConv(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        else:
            self.convs = nn.ModuleList(GATConv(a, b // heads, heads=heads) for a, b in zip(sizes[:-1], sizes[1:]))
        self.act = nn.ReLU() if conv == "gcn" else nn.ELU()
        self.drop = nn.Dropout(dropout)
        self.head = mlp((hidden[-1], *fc, n_classes), dropout=dropout, last_act=False)

    def forward(self, batch: dict[str, Any]) -> Tensor:
        from torch_geometric.nn import global_add_pool, global_mean_pool

        g = batch["graph"]
        h = self.input_bn(g.x)  # (M, F)
        for conv in self.convs:
            h = self.drop(self.act(conv(h, g.edge_index)))  # (M, H)
        pool = global_mean_pool if self.pool == "mean" else global_add_pool
        b = batch["mask"].shape[0]
        jets = pool(h, g.batch, size=b + 1)[:b]  # (B, H); jet B collects padded slots of an exported dense graph
        return self.head(jets)  # (B, n_classes)


class InteractionNetwork(nn.Module):
    """JEDI-net: an interaction network on the fully connected graph of a jet's particles.

    Moreno et al., arXiv:1908.05318 (after Battaglia et al., arXiv:1612.00222)::

        e_ij = f_R(x_i, x_j)              for every ordered pair of distinct real particles
        o_i  = f_O(x_i, Σ_j e_ij)         per real particle
        out  = φ_C(Σ_i o_i)               logits

    Shapes: ``batch["x"]`` (B, P, F), ``batch["mask"]`` (B, P) bool, True = real particle; pairs with
    padding are never formed and padded particles never enter the sums. Inputs are batch-normalized
    over real particles. Returns (B, n_classes).
    """

    def __init__(self, n_features: int, n_classes: int, edge_dims: Sequence[int] = (64, 32, 16),
                 node_dims: Sequence[int] = (64, 32, 16), head_dims: Sequence[int] = (64, 32)) -> None:
        super().__init__()
        self.input_bn = nn.BatchNorm1d(n_features)
        self.f_r = mlp((2 * n_features, *edge_dims))
        self.f_o = mlp((n_features + edge_dims[-1], *node_dims))
        self.phi_c = mlp((node_dims[-1], *head_dims, n_classes), last_act=False)

    def forward(self, batch: dict[str, Any]) -> Tensor:
        mask, x = trim_padding(batch["mask"], batch["x"])  # (B, P), (B, P, F)
        x = masked_apply(self.input_bn, x, mask)  # (B, P, F)
        eye = torch.eye(mask.shape[1], dtype=torch.bool, device=mask.device)  # (P, P)
        if exporting():  # dense: all P² pairs, those with padding (or i = j) zeroed
            pairs = torch.cat([x[:, :, None].expand(-1, -1, x.shape[1], -1),
                               x[:, None].expand(-1, x.shape[1], -1, -1)], dim=-1)  # (B, P, P, 2F)
            agg = masked_apply(self.f_r, pairs, mask[:, :, None] & mask[:, None, :] & ~eye).sum(2)  # (B, P, De)
            return self.phi_c(masked_apply(self.f_o, torch.cat([x, agg], dim=-1), mask).sum(dim=1))  # (B, C)
        b, i, j = (mask[:, :, None] & mask[:, None, :] & ~eye).nonzero(as_tuple=True)  # (E,) each
        e = self.f_r(torch.cat([x[b, i], x[b, j]], dim=-1))  # (E, De)
        agg = e.new_zeros(*mask.shape, e.shape[-1]).index_put((b, i), e, accumulate=True)  # (B, P, De)
        o = masked_apply(self.f_o, torch.cat([x, agg], dim=-1), mask)  # (B, P, Do)
        return self.phi_c(o.sum(dim=1))  # (B, n_classes)


# Graph network on the kNN particle graph (k = 16 in Δη-Δφ).
@register_model("gcn",
                recipe={"representation": {"max_particles": 64, "k": 16},
                        "optim": {"lr": 0.001, "scheduler": "plateau"},
                        "trainer": {"epochs": 20, "batch_size": 128, "patience": 6}},
                family="gnn", representation="graph", symmetric=True, paper="arXiv:1609.02907", params=13_727,
                hidden=(64, 64, 64), fc=(64,), pool="mean", dropout=0.1)
def gcn(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """Graph convolutional network (GCNConv) on the kNN jet graph, mean-pooled per jet."""
    return GraphConvNet(dims.particle_features, n_classes, conv="gcn", **hp)


# Graph network on the kNN particle graph (k = 16 in Δη-Δφ).
@register_model("gat",
                recipe={"representation": {"max_particles": 64, "k": 16},
                        "optim": {"lr": 0.001, "scheduler": "plateau"},
                        "trainer": {"epochs": 20, "batch_size": 128, "patience": 6}},
                family="gnn", representation="graph", symmetric=True, paper="arXiv:1710.10903", params=14_111,
                hidden=(64, 64, 64), heads=4, fc=(64,), pool="mean", dropout=0.1)
def gat(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """Graph attention network (GATConv, 4 heads concatenated) on the kNN jet graph, mean-pooled per jet."""
    return GraphConvNet(dims.particle_features, n_classes, conv="gat", **hp)


# JEDI-net interaction network: all particle pairs, so the 32 hardest constituents.
@register_model("interaction_net",
                recipe={"representation": {"max_particles": 32},
                        "optim": {"lr": 0.001, "scheduler": "plateau"},
                        "trainer": {"epochs": 20, "batch_size": 128, "patience": 6}},
                family="gnn", representation="particles", symmetric=True,
                paper="arXiv:1908.05318", edge_dims=(64, 32, 16), node_dims=(64, 32, 16), head_dims=(64, 32))
def interaction_net(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """JEDI-net interaction network: edge MLP on all particle pairs, node MLP, sum over particles."""
    return InteractionNetwork(dims.particle_features, n_classes, **hp)
