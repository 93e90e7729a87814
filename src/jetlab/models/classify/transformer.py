"""Set Transformer on the particles of a jet (the course notebook's network, in PyTorch).

Mask convention: ``mask`` (B, P) bool, True = real particle; padded particles are masked out as
attention keys (``key_padding_mask`` = ~mask), so they never change a real particle or the pooled jet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from jetlab.models.layers import mlp, trim_padding
from jetlab.models.registry import InputDims, register_model

__all__ = ["MAB", "SetTransformer"]


class MAB(nn.Module):
    """Multihead attention block (Lee et al. arXiv:1810.00825, eq. 6-7), post-LayerNorm:

    ``H = LN(X + Multihead(X, Y, Y))``, ``MAB(X, Y) = LN(H + rFF(H))``; SAB(X) = MAB(X, X).

    Shapes: ``x`` (B, Q, D) queries, ``y`` (B, P, D) keys/values, ``pad`` (B, P) bool, True = padding
    (ignored key) -> (B, Q, D).
    """

    def __init__(self, dim: int, heads: int, ff: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.ff = nn.Sequential(nn.Linear(dim, ff), nn.ReLU(), nn.Linear(ff, dim))
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)

    def forward(self, x: Tensor, y: Tensor, pad: Tensor) -> Tensor:
        h = self.norm1(x + self.attn(x, y, y, key_padding_mask=pad, need_weights=False)[0])  # (B, Q, D)
        return self.norm2(h + self.ff(h))  # (B, Q, D)


class SetTransformer(nn.Module):
    """Set Transformer (Lee et al., arXiv:1810.00825): SAB encoder, pooling by multihead attention.

    ``Z = SAB^L(Dense(x))``; ``PMA_k(Z) = MAB(S, rFF(Z))`` with k learned seeds S (k, D);
    ``out = Dense head(BN(flatten PMA))``. As in the course notebook: Dense 64, 3 blocks of 8 heads
    (head dim 8) with FF 128 → 64, one seed, BN, Dense 64, 64, 16 (LeakyReLU) → logits.

    Shapes: ``batch["x"]`` (B, P, F), ``batch["mask"]`` (B, P) bool, True = real particle.
    Returns logits (B, n_classes).
    """

    def __init__(self, n_features: int, n_classes: int, dim: int = 64, heads: int = 8, ff: int = 128,
                 blocks: int = 3, seeds: int = 1, head: Sequence[int] = (64, 64, 16)) -> None:
        super().__init__()
        self.embed = nn.Linear(n_features, dim)
        self.encoder = nn.ModuleList(MAB(dim, heads, ff) for _ in range(blocks))
        self.seeds = nn.Parameter(torch.randn(1, seeds, dim) * dim**-0.5)
        self.pool_ff = nn.Sequential(nn.Linear(dim, ff), nn.ReLU(), nn.Linear(ff, dim))
        self.pool = MAB(dim, heads, ff)
        self.norm = nn.BatchNorm1d(seeds * dim)
        self.head = mlp((seeds * dim, *head, n_classes), act=nn.LeakyReLU, last_act=False)

    def forward(self, batch: dict[str, Any]) -> Tensor:
        mask, x = trim_padding(batch["mask"], batch["x"])  # (B, P), (B, P, F)
        pad = ~mask  # (B, P) True = padding
        z = self.embed(x)  # (B, P, D)
        for sab in self.encoder:
            z = sab(z, z, pad)  # (B, P, D)
        s = self.seeds.expand(z.shape[0], -1, -1)  # (B, k, D)
        pooled = self.pool(s, self.pool_ff(z), pad)  # (B, k, D)
        return self.head(self.norm(pooled.flatten(1)))  # (B, n_classes)


# Set Transformer (MAB blocks, pooling by multi-head attention).
@register_model("set_transformer",
                recipe={"representation": {"max_particles": 64},
                        "optim": {"optimizer": "adamw", "lr": 0.0005, "weight_decay": 0.0001, "scheduler": "plateau"},
                        "trainer": {"epochs": 20, "batch_size": 128, "patience": 6, "gradient_clip": 1.0}},
                family="transformer", representation="particles", symmetric=True,
                paper="arXiv:1810.00825", dim=64, heads=8, ff=128, blocks=3, seeds=1, head=(64, 64, 16))
def set_transformer(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """Set Transformer: 3 self-attention blocks (8 heads, dim 64), one-seed attention pooling, dense head."""
    return SetTransformer(dims.particle_features, n_classes, **hp)
