"""Vision Transformers on jet images: ``vit`` (patches of the image) and ``vit_hybrid`` (patches of a conv stem).

Both read ``batch["x"]`` (B, 1, n, n), the pT-fraction image of :mod:`jetlab.represent.image`, or (B, C, n, n)
with C = ``dims.image_channels`` (a shower's layers, :mod:`jetlab.represent.calo_image`). Images have
no padding, so no mask is involved: every patch is a real token. The layout and initialization follow timm's
``VisionTransformer`` on ``torch.nn`` alone (timm needs torchvision, which jetlab does not depend on).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from jetlab.errors import UsageError
from jetlab.models.layers import make_activation
from jetlab.models.registry import InputDims, register_model

__all__ = ["patchify", "EncoderBlock", "VisionTransformer", "vit", "vit_hybrid"]


def patchify(x: Tensor, p: int) -> Tensor:
    """Cut images into non-overlapping ``p``×``p`` patches, each flattened channel-major.

    Shapes: x (B, C, H, W) with H, W multiples of p → (B, N, C·p²), N = (H/p)·(W/p), patches in row order.

    Example:
        >>> patchify(torch.arange(16.0).reshape(1, 1, 4, 4), 2)[0, 1].tolist()
        [2.0, 3.0, 6.0, 7.0]
    """
    b, c, h, w = x.shape
    x = x.reshape(b, c, h // p, p, w // p, p)  # (B, C, H/p, p, W/p, p)
    x = x.permute(0, 2, 4, 1, 3, 5)  # (B, H/p, W/p, C, p, p)
    return x.reshape(b, (h // p) * (w // p), c * p * p)  # (B, N, C·p²)


class EncoderBlock(nn.Module):
    """Pre-norm transformer encoder block (arXiv:2010.11929 eq. 2-3) with LayerScale (arXiv:2103.17239).

    ``z' = z + γ₁ ⊙ MSA(LN(z))``, ``z_out = z' + γ₂ ⊙ MLP(LN(z'))``, with ``MLP = Linear(D, rD) → GELU →
    Linear(rD, D)``, ``MSA`` h heads of ``softmax(Q Kᵀ / √(D/h)) V`` concatenated and projected, and learned
    per-channel γ (D,) starting at ``layer_scale`` (γ = 1 is the plain ViT block). A small start keeps each
    block near the identity early on, so training needs no learning-rate warm-up.

    Shapes: z (B, T, D) → (B, T, D).
    """

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0, dropout: float = 0.0,
                 layer_scale: float = 1e-2) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim),
                                 nn.Dropout(dropout))
        self.drop = nn.Dropout(dropout)
        self.gamma1 = nn.Parameter(torch.full((dim,), float(layer_scale)))
        self.gamma2 = nn.Parameter(torch.full((dim,), float(layer_scale)))

    def forward(self, z: Tensor) -> Tensor:
        h = self.norm1(z)  # (B, T, D)
        z = z + self.gamma1 * self.drop(self.attn(h, h, h, need_weights=False)[0])  # (B, T, D)
        return z + self.gamma2 * self.mlp(self.norm2(z))  # (B, T, D)


def _stem(c_in: int, channels: Sequence[int], strides: Sequence[int], activation: str) -> nn.Sequential:
    """``[conv3×3 (stride s, padding 1, no bias) → BN → activation]`` per channel count: the hybrid's stem."""
    layers: list[nn.Module] = []
    for c_out, s in zip(channels, strides, strict=True):
        layers += [nn.Conv2d(c_in, int(c_out), 3, stride=int(s), padding=1, bias=False), nn.BatchNorm2d(int(c_out)),
                   make_activation(activation)]
        c_in = int(c_out)
    return nn.Sequential(*layers)


class VisionTransformer(nn.Module):
    """Vision Transformer (Dosovitskiy et al., arXiv:2010.11929), optionally on a convolutional stem (hybrid).

    With ``f = stem(BN(x))`` (the stem is the identity when ``stem`` is empty) cut into N patches ``f_p^i``
    of p×p cells (eq. 1-4)::

        z_0 = [x_class; f_p^1 E; ...; f_p^N E] + E_pos          E (C·p², D), E_pos (1 + N, D) learned
        z_l = EncoderBlock(z_{l-1}),  l = 1..L                   pre-norm MSA and MLP, see EncoderBlock
        logits = W LN(z_L^0) + b                                 read out at the class token

    ``BN`` standardizes the pixels per channel, as natural-image ViTs see standardized pixels: jet images
    hold pT fractions (mean ~1/n², most cells 0), at which scale the patch embedding barely moves the tokens
    and the plain model does not even fit 32 jets. Weights start as in timm's ViT (linear weights truncated
    normal, std 0.02, zero biases; class token and positions std 0.02).

    The hybrid's stem is ``[conv3×3 → BN → act]`` per entry of ``stem`` (stride ``stem_strides``), so its
    patches are patches of a feature map (s = ⌈n / Π strides⌉ cells a side) rather than of pixels. Positional
    embeddings are learned for one image size: the model accepts only the ``image_bins`` it was built for, and
    a side s not divisible by ``patch_size`` raises :class:`UsageError`.

    Shapes:
        ``batch["x"]`` (B, C_in, n, n) → patches (B, N, C·p²), N = (s/p)² → tokens (B, 1 + N, D)
        → logits (B, n_classes). No mask (images are not padded).

    Example:
        >>> VisionTransformer(16, 5, patch_size=4, dim=8, depth=1, heads=2)({"x": torch.zeros(2, 1, 16, 16)}).shape
        torch.Size([2, 5])
    """

    def __init__(self, image_bins: int, n_classes: int, patch_size: int = 4, dim: int = 64, depth: int = 4,
                 heads: int = 4, mlp_ratio: float = 4.0, dropout: float = 0.0, stem: Sequence[int] = (),
                 stem_strides: Sequence[int] = (), activation: str = "relu", layer_scale: float = 1e-2,
                 in_chans: int = 1, name: str = "vit") -> None:
        super().__init__()
        if len(stem) != len(stem_strides):
            raise UsageError(f"{name}: stem {list(stem)} and stem_strides {list(stem_strides)} need equal lengths")
        side = int(image_bins)
        for s in stem_strides:
            side = -(-side // int(s))  # a 3×3 convolution with padding 1 and stride s: ⌈side / s⌉
        if side % int(patch_size):
            where = f"the stem's {side}×{side} map (image_bins {image_bins})" if stem else f"image_bins {image_bins}"
            raise UsageError(f"{name}: {where} is not divisible by patch_size {patch_size}")
        self.patch_size = int(patch_size)
        self.norm_in = nn.BatchNorm2d(in_chans)
        self.stem = _stem(in_chans, stem, stem_strides, activation)
        c = int(stem[-1]) if stem else in_chans
        n_patches = (side // self.patch_size) ** 2
        self.embed = nn.Linear(c * self.patch_size**2, dim)  # E
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))  # x_class
        self.pos = nn.Parameter(torch.zeros(1, 1 + n_patches, dim))  # E_pos
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.Sequential(*(EncoderBlock(dim, heads, mlp_ratio, dropout, layer_scale) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, n_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """timm's ViT initialization: linear and attention weights N(0, 0.02²) truncated at ±2, zero biases."""
        nn.init.trunc_normal_(self.cls, std=0.02)
        nn.init.trunc_normal_(self.pos, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):  # E, the MLPs, the attention's output projection, the head
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.MultiheadAttention):  # the fused Q, K, V projection
                nn.init.trunc_normal_(m.in_proj_weight, std=0.02)
                nn.init.zeros_(m.in_proj_bias)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        f = self.stem(self.norm_in(batch["x"]))  # (B, C, s, s)
        tokens = self.embed(patchify(f, self.patch_size))  # (B, N, D)
        cls = self.cls.expand(tokens.shape[0], -1, -1)  # (B, 1, D)
        z = self.drop(torch.cat([cls, tokens], dim=1) + self.pos)  # (B, 1 + N, D)
        z = self.blocks(z)  # (B, 1 + N, D)
        return self.head(self.norm(z[:, 0]))  # (B, n_classes)


RECIPE = {"representation": {"image_bins": 40},
          "optim": {"optimizer": "adamw", "lr": 0.001, "weight_decay": 0.05, "scheduler": "cosine"},
          "trainer": {"epochs": 30, "batch_size": 128, "patience": 8, "gradient_clip": 1.0}}


# 40x40 jet images cut into 4x4 patches: 10x10 = 100 tokens (16x16 images, as in the tests: 4x4 tokens).
@register_model("vit", recipe=RECIPE, family="transformer", representation="image", paper="arXiv:2010.11929",
                patch_size=4, dim=64, depth=4, heads=4, mlp_ratio=4.0, dropout=0.1, layer_scale=1e-2)
def vit(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """Vision Transformer on jet images: 4×4 patches, class token, 4 pre-norm blocks (dim 64, 4 heads)."""
    return VisionTransformer(dims.image_bins, n_classes, name="vit", in_chans=dims.image_channels, **hp)


# Conv stem 16@3x3, 32@3x3 stride 2 (40 -> 20), then 2x2 patches of the feature map: the same 10x10 tokens.
@register_model("vit_hybrid", recipe=RECIPE, family="transformer", representation="image",
                paper="arXiv:2010.11929", stem=(16, 32), stem_strides=(1, 2), activation="relu",
                patch_size=2, dim=64, depth=4, heads=4, mlp_ratio=4.0, dropout=0.1, layer_scale=1e-2)
def vit_hybrid(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """Hybrid ViT: a two-layer conv stem (stride 2), then 2×2 patches of its map into the ViT encoder."""
    return VisionTransformer(dims.image_bins, n_classes, name="vit_hybrid", in_chans=dims.image_channels, **hp)
