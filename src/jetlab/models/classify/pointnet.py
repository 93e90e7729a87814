"""PointNet on jet constituents: a shared per-particle MLP and a masked max pooling (``pointnet``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from jetlab.models.layers import MaskedBatchNorm, dense_stack, make_activation, masked_max
from jetlab.models.registry import InputDims, register_model

__all__ = ["PointNet", "pointnet"]




class PointNet(nn.Module):
    """PointNet (Qi et al., arXiv:1612.00593) on particles, without the input/feature T-nets.

    ``g = max_{i real} h_L(x_i)`` with the shared per-particle MLP
    ``h_l = act(BN(W_l h_{l-1} + b_l))`` (a 1×1 convolution, written as ``Linear`` on the last axis; BN is
    :class:`~jetlab.models.classify.deepsets.MaskedBatchNorm`, statistics over real particles only), then the head
    ``logits = W · dropout(act(W_k g + b_k))...`` (no BatchNorm in the head, so a training batch of one
    jet works). Max pooling makes it permutation invariant.

    Shapes:
        ``batch["x"]`` (B, P, F), ``batch["mask"]`` (B, P) bool, True = real particle → logits (B, n_classes).

    Example:
        >>> import torch
        >>> m = PointNet(7, 5).eval()
        >>> m({"x": torch.zeros(2, 4, 7), "mask": torch.ones(2, 4, dtype=torch.bool)}).shape
        torch.Size([2, 5])
    """

    def __init__(self, n_features: int, n_classes: int, widths: Sequence[int] = (64, 128, 256),
                 head: Sequence[int] = (128, 64), dropout: float | Sequence[float] = 0.3,
                 activation: str = "relu") -> None:
        super().__init__()
        sizes = [n_features, *(int(w) for w in widths)]
        self.point_layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        self.point_norms = nn.ModuleList(MaskedBatchNorm(b) for b in sizes[1:])
        self.head, width = dense_stack(sizes[-1], head, activation, dropout)
        self.act = make_activation(activation)
        self.out = nn.Linear(width, n_classes)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        h, mask = batch["x"], batch["mask"]  # (B, P, F), (B, P)
        for linear, norm in zip(self.point_layers, self.point_norms, strict=True):
            h = self.act(norm(linear(h), mask))  # (B, P, C_l), padded slots 0 before activation
        g = masked_max(h, mask)  # (B, C_L)
        return self.out(self.head(g))  # (B, n_classes)


# Permutation-invariant set model on the 64 hardest constituents.
@register_model("pointnet",
                recipe={"representation": {"max_particles": 64},
                        "optim": {"lr": 0.001, "scheduler": "plateau"},
                        "trainer": {"epochs": 30, "batch_size": 256, "patience": 8}},
                family="pointnet", representation="particles", symmetric=True,
                paper="arXiv:1612.00593", widths=(64, 128, 256), head=(128, 64), dropout=0.3, activation="relu")
def pointnet(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """PointNet: shared per-particle MLP with masked BN, masked max pooling, MLP head."""
    return PointNet(dims.particle_features, n_classes, **hp)
