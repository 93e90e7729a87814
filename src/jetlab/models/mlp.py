"""Dense networks: the ``mlp`` on high-level features, and the dense stacks other families reuse.

:func:`dense_stack` is the one building block for every fully connected part of the zoo (the MLP
itself, CNN and RNN heads, the φ / ρ networks of Deep Sets, PFN and EFN). It acts on the last axis, so
it serves per-jet ``(B, C)`` and per-particle ``(B, P, C)`` inputs alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from jetlab.errors import UsageError
from jetlab.models.registry import InputDims, register_model

__all__ = ["MLP", "ACTIVATIONS", "make_activation", "per_layer", "dense_stack", "mlp"]

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh,
}  # fmt: skip


def make_activation(name: str) -> nn.Module:
    """A fresh activation module by name (``relu``, ``leaky_relu``, ``elu``, ``gelu``, ``silu``, ``tanh``)."""
    if name not in ACTIVATIONS:
        raise UsageError(f"activation {name!r} unknown (known: {', '.join(ACTIVATIONS)})")
    return ACTIVATIONS[name]()


def per_layer(value: float | Sequence[float], n: int, what: str = "dropout") -> tuple[float, ...]:
    """One value per layer: a number applies to all ``n`` layers; a sequence must have length ``n``.

    Example:
        >>> per_layer(0.25, 3), per_layer([0.25, 0.0], 2)
        ((0.25, 0.25, 0.25), (0.25, 0.0))
    """
    if isinstance(value, (int, float)):
        return (float(value),) * n
    values = tuple(float(v) for v in value)
    if len(values) != n:
        raise UsageError(f"{what}: {len(values)} values given for {n} layers ({list(values)})")
    return values


def dense_stack(n_in: int, widths: Sequence[int], activation: str = "relu",
                dropout: float | Sequence[float] = 0.0) -> tuple[nn.Sequential, int]:
    """``[Linear → activation → Dropout]`` per width; returns the stack and its output width.

    Dropout layers with probability 0 are left out. With no widths the stack is the identity.

    Example:
        >>> stack, width = dense_stack(16, (40, 20), dropout=(0.25, 0.0))
        >>> width, [type(m).__name__ for m in stack]
        (20, ['Linear', 'ReLU', 'Dropout', 'Linear', 'ReLU'])
    """
    layers: list[nn.Module] = []
    for width, p in zip(widths, per_layer(dropout, len(widths)), strict=True):
        layers += [nn.Linear(n_in, int(width)), make_activation(activation)]
        if p > 0:
            layers.append(nn.Dropout(p))
        n_in = int(width)
    return nn.Sequential(*layers), n_in


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


@register_model("mlp", family="mlp", representation="hlf", paper="",
                hidden=(40, 20, 10, 5), dropout=(0.25, 0.25, 0.25, 0.0), activation="relu")
def mlp(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """Dense network on high-level features (course: 16 → 40 → 20 → 10 → 5 → classes, dropout 0.25)."""
    return MLP(dims.hlf, n_classes, **hp)
