"""Dense networks: the ``mlp`` on high-level features, and the dense stacks other families reuse.

:func:`dense_stack` is the one building block for every fully connected part of the zoo (the MLP
itself, CNN and RNN heads, the φ / ρ networks of Deep Sets, PFN and EFN). It acts on the last axis, so
it serves per-jet ``(B, C)`` and per-particle ``(B, P, C)`` inputs alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from jetlab.models.layers import dense_stack
from jetlab.models.registry import InputDims, register_model

__all__ = ["MLP", "mlp"]









class MLP(nn.Module):
    """Fully connected classifier on a per-jet feature vector.

    ``logits = W_out · h_L + b_out`` with ``h_l = dropout_l(act(W_l h_{l-1} + b_l))``, ``h_0 = x``.
    The course network (hls4ml MLP notebook) is ``hidden=(40, 20, 10, 5)`` with dropout 0.25 after the
    first three layers; softmax is left to the loss.

    Shapes:
        ``batch["x"]`` (B, H) standardized high-level features → logits (B, n_classes).
        No particles, so no mask.

    Example:
        >>> import torch
        >>> MLP(16, 5)({"x": torch.zeros(2, 16)}).shape
        torch.Size([2, 5])
    """

    def __init__(self, n_in: int, n_classes: int, hidden: Sequence[int] = (40, 20, 10, 5),
                 dropout: float | Sequence[float] = (0.25, 0.25, 0.25, 0.0), activation: str = "relu") -> None:
        super().__init__()
        self.body, width = dense_stack(n_in, hidden, activation, dropout)
        self.out = nn.Linear(width, n_classes)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        h = self.body(batch["x"])  # (B, hidden[-1])
        return self.out(h)  # (B, n_classes)


# Dense network on the course's 16 high-level features.
@register_model("mlp",
                recipe={"optim": {"lr": 0.001, "scheduler": "plateau"},
                        "trainer": {"epochs": 50, "batch_size": 128, "patience": 10}},
                family="mlp", representation="hlf", paper="",
                hidden=(40, 20, 10, 5), dropout=(0.25, 0.25, 0.25, 0.0), activation="relu")
def mlp(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """Dense network on high-level features (course: 16 → 40 → 20 → 10 → 5 → classes, dropout 0.25)."""
    return MLP(dims.hlf, n_classes, **hp)
