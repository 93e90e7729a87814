"""Particle Transformer (ParT): self-attention over particles biased by pairwise interactions.

Mask convention: ``mask`` (B, P) bool, True = real particle. Padded particles are -inf attention keys,
never form pairs, and are excluded from every BatchNorm statistic, so outputs do not depend on padding.
The pair features live in :mod:`jetlab.physics.pairs`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from jetlab.models.layers import exporting, masked_apply, mlp, trim_padding
from jetlab.models.registry import InputDims, register_model
from jetlab.physics.pairs import pair_features_at

__all__ = ["PairEmbedding", "BiasedAttention", "ParticleBlock", "ClassBlock", "ParticleTransformer", "WEAVER_EXTRAS"]

#: The options that, all on, give weaver-core's ParticleTransformer (v1 defaults) parameter for parameter.
WEAVER_EXTRAS = ("scale_attn", "scale_fc", "scale_heads", "scale_resids", "pair_bias", "pair_out_norm")
_EXTRAS_OFF = dict.fromkeys(WEAVER_EXTRAS, False)


class PairEmbedding(nn.Module):
    """Interaction matrix U (B, H, P, P): a pointwise MLP over the 4 pair features of every pair.

    ``U_ab = MLP(BN(ln Δ, ln kT, ln z, ln m²)_ab)`` per head, computed once for a < b on real pairs only
    (packed with ``nonzero``, also in an exported graph) and mirrored (U is symmetric); self-pairs and
    pairs with padding get U = 0. Input ``p4`` (B, P, 4) (E, px, py, pz), ``mask`` (B, P) bool, True = real.

    Options as weaver-core's ``PairEmbed`` (both off by default): ``bias`` keeps a bias on each hidden
    linear layer ahead of its BatchNorm (weaver's ``Conv1d``; the BatchNorm subtracts it, so it adds
    parameters, not function); ``out_norm`` adds a BatchNorm over the H outputs (on real pairs).
    """

    def __init__(self, dims: Sequence[int], heads: int, bias: bool = False, out_norm: bool = False) -> None:
        super().__init__()
        hidden = mlp((4, *dims), act=nn.GELU, norm=True)
        if bias:
            for i, layer in enumerate(hidden):
                if isinstance(layer, nn.Linear):
                    hidden[i] = nn.Linear(layer.in_features, layer.out_features)
        out = [nn.BatchNorm1d(heads)] if out_norm else []
        self.net = nn.Sequential(nn.BatchNorm1d(4), hidden, nn.Linear(dims[-1], heads), *out)

    def forward(self, p4: Tensor, mask: Tensor) -> Tensor:
        b, p = mask.shape
        lower = torch.ones(p, p, dtype=torch.bool, device=mask.device).tril(-1)  # (P, P)
        real = mask[:, :, None] & mask[:, None, :] & lower  # (B, P, P) a > b, both real
        jet, a, c = real.nonzero().unbind(1)  # (M,) each: the real pairs (a, c) of jet
        if exporting():
            torch._check(jet.shape[0] != 0)  # lets BatchNorm trace; M = 0 still runs (tests/test_export.py)
        feats = pair_features_at(p4.reshape(b * p, 4), jet * p + a, jet * p + c)  # (M, 4)
        u = self.net(feats)  # (M, H)
        u = u.new_zeros(b, p, p, u.shape[-1]).index_put((jet, a, c), u)  # (B, P, P, H)
        return (u + u.transpose(1, 2)).permute(0, 3, 1, 2)  # (B, H, P, P)


class BiasedAttention(nn.Module):
    """Multi-head attention with an additive logit bias: ``softmax(Q Kᵀ / sqrt(d) + U + M) V``.

    ``x`` (B, Q, D) queries, ``kv`` (B, P, D) keys/values, ``bias`` (B, H, Q, P) or (B, 1, Q, P)
    float holding U and M (M = -inf at padded keys) -> (B, Q, D).
    """

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.q, self.kv, self.out = nn.Linear(dim, dim), nn.Linear(dim, 2 * dim), nn.Linear(dim, dim)

    def _split(self, t: Tensor) -> Tensor:
        b, n, d = t.shape
        return t.view(b, n, self.heads, d // self.heads).transpose(1, 2)  # (B, H, N, d_h)

    def forward(self, x: Tensor, kv: Tensor, bias: Tensor) -> Tensor:
        b, q, d = x.shape
        k, v = self.kv(kv).chunk(2, dim=-1)  # (B, P, D) each
        drop = self.dropout if self.training else 0.0
        qh, kh, vh = self._split(self.q(x)), self._split(k), self._split(v)  # (B, H, Q|P, d_h)
        if exporting():  # the same attention spelled out: the exporter's SDPA decomposition breaks the reshape below
            logits = qh @ kh.transpose(-2, -1) / math.sqrt(qh.shape[-1]) + bias  # (B, H, Q, P)
            # -inf -> the lowest float: a query with no real key (padding of an empty jet) gets finite weights,
            # not NaN, so 0-weighted padding stays 0 downstream; rows with a real key are unchanged
            o = torch.softmax(logits.clamp(min=torch.finfo(logits.dtype).min), dim=-1) @ vh
        else:
            o = F.scaled_dot_product_attention(qh, kh, vh, bias, drop)  # (B, H, Q, d_h)
        return self.out(o.transpose(1, 2).reshape(b, q, d))  # (B, Q, D)


class ParticleBlock(nn.Module):
    """Pre-LN transformer block (ParT particle attention block)::

        x ← x + Drop(N_a(s ⊙ Attn(LN(x), bias)))
        x ← w ⊙ x + Drop(W₂ N_f(GELU(W₁ LN(x))))

    ``x`` (B, P, D), ``bias`` (B, H, P, P) -> (B, P, D). weaver-core's extras, each off by default
    (then N_a, N_f are identities and s = w = 1, with no parameters): ``scale_attn`` makes N_a a
    LayerNorm(D) on the attention output, ``scale_fc`` makes N_f a LayerNorm(ffn_ratio·D) on the FF hidden
    layer, ``scale_heads`` learns s (H,), one scale per head repeated over its D/H channels of the
    *projected* attention output (where weaver-core 0.5 applies it), ``scale_resids`` learns w (D,) on
    the FF residual (weaver's ``w_resid``; the attention residual stays unweighted, as there).
    """

    def __init__(self, dim: int, heads: int, ffn_ratio: int, dropout: float, attn_dropout: float,
                 activation_dropout: float = 0.0, scale_attn: bool = False, scale_fc: bool = False,
                 scale_heads: bool = False, scale_resids: bool = False) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = BiasedAttention(dim, heads, attn_dropout)
        hidden = [nn.Dropout(activation_dropout)] if activation_dropout > 0 else []
        fc_norm = [nn.LayerNorm(ffn_ratio * dim)] if scale_fc else []
        self.ff = nn.Sequential(nn.Linear(dim, ffn_ratio * dim), nn.GELU(), *hidden, *fc_norm,
                                nn.Linear(ffn_ratio * dim, dim))
        self.drop = nn.Dropout(dropout)
        self.attn_norm = nn.LayerNorm(dim) if scale_attn else nn.Identity()
        self.head_scale = nn.Parameter(torch.ones(heads)) if scale_heads else None
        self.resid_scale = nn.Parameter(torch.ones(dim)) if scale_resids else None

    def attend(self, x: Tensor, bias: Tensor, queries: int | None = None) -> Tensor:
        """``x_q + Drop(N_a(s ⊙ Attn(LN(x)_q, LN(x), bias)))``, q the first ``queries`` slots (None: all): (B, Q, D)."""
        h, q = self.norm1(x), slice(None, queries)  # (B, P, D)
        a = self.attn(h[:, q], h, bias)  # (B, Q, D)
        if self.head_scale is not None:
            a = a * self.head_scale.repeat_interleave(a.shape[-1] // self.head_scale.shape[0])  # (B, Q, D)
        return x[:, q] + self.drop(self.attn_norm(a))  # (B, Q, D)

    def feed(self, x: Tensor) -> Tensor:
        """``w ⊙ x + Drop(FF(LN(x)))``: (B, Q, D)."""
        resid = x if self.resid_scale is None else x * self.resid_scale  # (B, Q, D)
        return resid + self.drop(self.ff(self.norm2(x)))  # (B, Q, D)

    def forward(self, x: Tensor, bias: Tensor) -> Tensor:
        return self.feed(self.attend(x, bias))  # (B, P, D)


class ClassBlock(ParticleBlock):
    """Class attention (CaiT-style): the class token attends over itself and the particles.

    ``x`` = [c ‖ h] (B, 1 + P, D) -> the updated class token (B, 1, D); ``bias`` (B, 1, 1, 1 + P) masks padding.
    """

    def forward(self, x: Tensor, bias: Tensor) -> Tensor:
        return self.feed(self.attend(x, bias, queries=1))  # (B, 1, D)


class ParticleTransformer(nn.Module):
    """Particle Transformer (Qu, Li & Qian, arXiv:2202.03772).

    ``h⁰ = Embed(BN(x))``; ``U = PairEmbed(ln Δ, ln kT, ln z, ln m²)`` (B, H, P, P);
    ``hˡ = ParticleBlock(hˡ⁻¹)`` with attention ``softmax(Q Kᵀ / sqrt(d) + U) V`` (L times);
    ``c ← ClassBlock(c, [c ‖ h^L])`` with a learned class token c; ``logits = Linear(LN(c))``.
    No positional encoding: the output is invariant under permutations of the particles. Dropout
    ``dropout`` on residual branches (ParT: 0.1), ``activation_dropout`` on the FF hidden layer and
    ``attn_dropout`` on attention weights (ParT: 0.1 each; default 0 here: on a CPU they make a training
    step up to 1.7x slower, as dropout masks of (B, H, P, P) and (B, P, 4D) are costly).

    weaver-core's ``ParticleTransformer`` (v1) adds, on top of this, norms and learned scalings that jetlab
    offers as options, all off by default (no parameters, same outputs and checkpoints as before); all of
    :data:`WEAVER_EXTRAS` on gives weaver's architecture parameter for parameter: ``scale_attn``,
    ``scale_fc``, ``scale_heads``, ``scale_resids`` in every particle and class block (see
    :class:`ParticleBlock`, 11·D + H parameters per block), ``pair_bias`` and ``pair_out_norm`` in the pair
    embedding (see :class:`PairEmbedding`). What stays different is not architecture: weaver's input
    BatchNorm counts padded slots, and its ``trim`` drops a random share of the particles in training.

    Shapes: ``batch["x"]`` (B, P, F), ``batch["p4"]`` (B, P, 4) (E, px, py, pz), ``batch["mask"]``
    (B, P) bool, True = real particle. Returns logits (B, n_classes).
    """

    def __init__(self, n_features: int, n_classes: int, embed_dims: Sequence[int] = (64, 64),
                 pair_embed_dims: Sequence[int] = (32, 32), num_heads: int = 4, num_layers: int = 4,
                 num_cls_layers: int = 1, ffn_ratio: int = 4, dropout: float = 0.1, attn_dropout: float = 0.0,
                 activation_dropout: float = 0.0, *, scale_attn: bool = False, scale_fc: bool = False,
                 scale_heads: bool = False, scale_resids: bool = False, pair_bias: bool = False,
                 pair_out_norm: bool = False) -> None:
        super().__init__()
        dim = embed_dims[-1]
        extras = {"scale_attn": scale_attn, "scale_fc": scale_fc, "scale_heads": scale_heads,
                  "scale_resids": scale_resids}
        self.input_bn = nn.BatchNorm1d(n_features)
        sizes = (n_features, *embed_dims)
        self.embed = nn.Sequential(*(nn.Sequential(nn.LayerNorm(a), nn.Linear(a, b), nn.GELU())
                                     for a, b in zip(sizes[:-1], sizes[1:])))
        self.pair_embed = PairEmbedding(pair_embed_dims, num_heads, bias=pair_bias, out_norm=pair_out_norm)
        self.blocks = nn.ModuleList(ParticleBlock(dim, num_heads, ffn_ratio, dropout, attn_dropout, activation_dropout,
                                                  **extras) for _ in range(num_layers))
        self.cls_blocks = nn.ModuleList(ClassBlock(dim, num_heads, ffn_ratio, 0.0, 0.0, **extras)
                                        for _ in range(num_cls_layers))
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.norm, self.head = nn.LayerNorm(dim), nn.Linear(dim, n_classes)

    def forward(self, batch: dict[str, Any]) -> Tensor:
        mask, x, p4 = trim_padding(batch["mask"], batch["x"], batch["p4"])  # (B, P), (B, P, F), (B, P, 4)
        keys = torch.zeros_like(mask, dtype=x.dtype).masked_fill(~mask, -math.inf)[:, None, None]  # (B, 1, 1, P)
        h = self.embed(masked_apply(self.input_bn, x, mask))  # (B, P, D)
        u = self.pair_embed(p4, mask) + keys  # (B, H, P, P)
        for block in self.blocks:
            h = block(h, u)  # (B, P, D)
        c = self.cls_token.expand(h.shape[0], -1, -1)  # (B, 1, D)
        cls_keys = F.pad(keys, (1, 0))  # (B, 1, 1, 1 + P) the class token is always a key
        for block in self.cls_blocks:
            c = block(torch.cat([c, h], dim=1), cls_keys)  # (B, 1, D)
        return self.head(self.norm(c[:, 0]))  # (B, n_classes)


# Particle Transformer with pairwise interaction features.
@register_model("part",
                recipe={"representation": {"max_particles": 64},
                        "optim": {"optimizer": "adamw", "lr": 0.0005, "weight_decay": 0.01, "scheduler": "plateau"},
                        "trainer": {"epochs": 20, "batch_size": 128, "patience": 6, "gradient_clip": 1.0}},
                family="transformer", representation="particles", symmetric=True, paper="arXiv:2202.03772",
                embed_dims=(64, 64), pair_embed_dims=(32, 32), num_heads=4, num_layers=4, num_cls_layers=1,
                ffn_ratio=4, dropout=0.1, attn_dropout=0.0, activation_dropout=0.0, **_EXTRAS_OFF)
def part(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """Particle Transformer: 4 particle blocks with pair-interaction attention bias, 1 class block (dim 64)."""
    return ParticleTransformer(dims.particle_features, n_classes, **hp)


# Particle Transformer with pairwise interaction features.
@register_model("part_lite",
                recipe={"representation": {"max_particles": 64},
                        "optim": {"optimizer": "adamw", "lr": 0.0005, "weight_decay": 0.01, "scheduler": "plateau"},
                        "trainer": {"epochs": 20, "batch_size": 128, "patience": 6, "gradient_clip": 1.0}},
                family="transformer", representation="particles", symmetric=True,
                paper="arXiv:2202.03772", embed_dims=(32, 32), pair_embed_dims=(16, 16), num_heads=4, num_layers=2,
                num_cls_layers=1, ffn_ratio=2, dropout=0.1, attn_dropout=0.0, activation_dropout=0.0,
                **_EXTRAS_OFF)
def part_lite(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """Particle Transformer, small: 2 particle blocks (dim 32), pair embedding (16, 16), 1 class block."""
    return ParticleTransformer(dims.particle_features, n_classes, **hp)
