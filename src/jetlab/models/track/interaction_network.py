"""An interaction-network edge classifier on hit graphs (``hitgraph`` representation).

``torch_geometric`` is imported when the network is built, not with this module (it takes seconds), so
its message-passing layer is made by :func:`interaction_layer` on first use.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import Tensor, nn

from jetlab.models.layers import mlp
from jetlab.models.registry import InputDims, register_model

__all__ = ["EdgeClassifier", "interaction_layer", "interaction_net_tracking"]


def _block(n_in: int, hidden: int) -> nn.Sequential:
    """Linear -> LayerNorm -> ReLU, twice: the update functions φ of the layer."""
    return nn.Sequential(nn.Linear(n_in, hidden), nn.LayerNorm(hidden), nn.ReLU(),
                         nn.Linear(hidden, hidden), nn.LayerNorm(hidden), nn.ReLU())


@functools.cache
def interaction_layer() -> type[nn.Module]:
    """The class ``InteractionLayer`` (a PyG ``MessagePassing``), defined when first asked for."""
    from torch_geometric.nn import MessagePassing

    class InteractionLayer(MessagePassing):
        """One interaction step on a directed hit graph (Battaglia et al., arXiv:1612.00222)::

            e_ij ← e_ij + φ_R([h_i, h_j, e_ij])                          relational model, edge i → j
            h_i  ← h_i + φ_O([h_i, Σ_{k→i} e_ki, Σ_{i→k} e_ik])          object model

        Incoming and outgoing edges are summed apart (a track hit has one of each). Residual updates.

        Shapes: ``h`` (N, H), ``edge_index`` (2, E) rows src, dst, ``e`` (E, H) -> (N, H), (E, H).
        """

        def __init__(self, hidden: int) -> None:
            super().__init__(aggr="add")
            self.relational = _block(3 * hidden, hidden)
            self.object = _block(3 * hidden, hidden)

        def forward(self, h: Tensor, edge_index: Tensor, e: Tensor) -> tuple[Tensor, Tensor]:
            src, dst = edge_index
            e = e + self.relational(torch.cat([h[src], h[dst], e], dim=-1))  # (E, H)
            n = (h.shape[0], h.shape[0])
            incoming = self.propagate(edge_index, e=e, size=n)  # (N, H) Σ over edges into i
            outgoing = self.propagate(edge_index.flip(0), e=e, size=n)  # (N, H) Σ over edges out of i
            return h + self.object(torch.cat([h, incoming, outgoing], dim=-1)), e

        def message(self, e: Tensor) -> Tensor:
            return e  # the updated edge state is the message

    return InteractionLayer


class EdgeClassifier(nn.Module):
    """Interaction-network edge classifier for tracking (DeZoort et al., arXiv:2103.16701; the GNN
    stage of Exa.TrkX, Ju et al., arXiv:2103.06995)::

        h_i = φ_x(x_i),  e_ij = φ_e(a_ij)                         encoders
        K times:  (h, e) ← InteractionLayer(h, e)                  message passing (shared weights if
                                                                   ``shared``), see :func:`interaction_layer`
        logit_ij = φ_C([h_i, h_j, e_ij])                           edge score σ(logit_ij): same particle?

    Input ``batch["graph"]``: ``x`` (N, F_x) hit features, ``edge_index`` (2, E), ``edge_attr`` (E, F_e)
    (:func:`jetlab.represent.hitgraph.event_graph`, batched). Returns the edge logits (E,).
    """

    def __init__(self, node_features: int = 3, edge_features: int = 4, hidden: int = 64, steps: int = 6,
                 shared: bool = True) -> None:
        super().__init__()
        layer = interaction_layer()
        self.node_encoder = _block(node_features, hidden)
        self.edge_encoder = _block(edge_features, hidden)
        self.layers = nn.ModuleList([layer(hidden)] if shared else [layer(hidden) for _ in range(steps)])
        self.steps = steps
        self.classifier = mlp((3 * hidden, hidden, hidden, 1), last_act=False)

    def forward(self, batch: dict[str, Any]) -> Tensor:
        g = batch["graph"]
        h, e = self.node_encoder(g.x), self.edge_encoder(g.edge_attr)  # (N, H), (E, H)
        for k in range(self.steps):
            h, e = self.layers[k % len(self.layers)](h, g.edge_index, e)
        src, dst = g.edge_index
        return self.classifier(torch.cat([h[src], h[dst], e], dim=-1)).squeeze(-1)  # (E,) logits


@register_model("interaction_net_tracking", family="gnn", representation="hitgraph", task="track",
                paper="arXiv:2103.16701", params=59_521,
                recipe={"representation": {"graph_method": "geometric"},
                        "optim": {"lr": 2e-3, "scheduler": "cosine"},
                        "trainer": {"epochs": 30, "batch_size": 1, "patience": 10}},
                hidden=64, steps=6, shared=True)
def interaction_net_tracking(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """Interaction network classifying the edges of a hit graph (true: consecutive hits of one particle)."""
    extra = dims.extra or {}
    return EdgeClassifier(extra.get("node_features", 3), extra.get("edge_features", 4), **hp)
