"""Building blocks shared by the model families: dense stacks, masked pooling and normalization.

Mask convention everywhere: ``mask`` (B, P) bool, True = real particle; padded slots never
influence a real output.

Two dense builders: :func:`dense_stack` (named activation, per-layer dropout; the course networks)
and :func:`mlp` (sizes including the input, optional BatchNorm, plain-Linear last layer for logits).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from jetlab.errors import UsageError

__all__ = ["ACTIVATIONS", "make_activation", "per_layer", "dense_stack", "mlp", "masked_sum", "masked_mean",
           "masked_max", "MaskedBatchNorm", "masked_apply", "trim_padding", "exporting", "dense_knn"]

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


def masked_sum(h: Tensor, mask: Tensor) -> Tensor:
    """Σ over real particles: h (B, P, C), mask (B, P) → (B, C)."""
    return (h * mask.unsqueeze(-1).to(h.dtype)).sum(dim=1)  # (B, C)


def masked_mean(h: Tensor, mask: Tensor) -> Tensor:
    """Mean over real particles (count clamped ≥ 1, so an empty jet gives 0): (B, P, C) → (B, C)."""
    count = mask.sum(dim=1, keepdim=True).clamp(min=1).to(h.dtype)  # (B, 1)
    return masked_sum(h, mask) / count  # (B, C)


class MaskedBatchNorm(nn.Module):
    """Batch normalization per feature over the real particles of a batch only.

    ``y = γ (x − μ) / sqrt(σ² + ε) + β`` with μ, σ² the mean and (biased) variance over every real
    particle of the batch in training (running estimates, momentum 0.1, in evaluation), as
    :class:`torch.nn.BatchNorm1d` would give if the padded slots did not exist. Padded slots are set to
    exactly 0 on output, so neither the padding width nor the padding content affects any result.

    Shapes:
        x (B, P, C), mask (B, P) bool, True = real → (B, P, C).
    """

    def __init__(self, n_features: int, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.weight = nn.Parameter(torch.ones(n_features))
        self.bias = nn.Parameter(torch.zeros(n_features))
        self.register_buffer("running_mean", torch.zeros(n_features))
        self.register_buffer("running_var", torch.ones(n_features))

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        m = mask.unsqueeze(-1).to(x.dtype)  # (B, P, 1)
        if self.training:
            n = m.sum().clamp(min=1)  # real particles in the batch
            mean = (x * m).sum(dim=(0, 1)) / n  # (C,)
            var = (((x - mean) * m) ** 2).sum(dim=(0, 1)) / n  # (C,)
            with torch.no_grad():
                self.running_mean.lerp_(mean, self.momentum)
                self.running_var.lerp_(var * n / (n - 1).clamp(min=1), self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        y = (x - mean) * torch.rsqrt(var + self.eps) * self.weight + self.bias  # (B, P, C)
        return y * m  # (B, P, C), padded slots exactly 0


def masked_max(h: Tensor, mask: Tensor) -> Tensor:
    """Max over real particles (padded slots set to −inf first); a jet with no real particle gives 0.

    Shapes:
        h (B, P, C), mask (B, P) bool, True = real → (B, C).
    """
    pooled = h.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(dim=1)  # (B, C)
    return torch.where(mask.any(dim=1, keepdim=True), pooled, torch.zeros_like(pooled))  # (B, C)


def exporting() -> bool:
    """True while ``torch.export`` / ONNX export traces a model: take the export path (same scores in eval mode).

    Trimming padding (a Python int from the data) cannot be traced; the dense paths compute every slot and
    zero the padded ones. Packing with ``nonzero`` exports (a data-dependent size, ONNX ``NonZero``) where its
    gain pays, as in ParticleNet's edge convolution (:meth:`jetlab.models.classify.particlenet.EdgeConvBlock._packed`).
    """
    return torch.compiler.is_exporting() or torch.onnx.is_in_onnx_export()


def dense_knn(points: Tensor, mask: Tensor, k: int) -> Tensor:
    """:func:`jetlab.represent.graph.knn_indices` over all P slots (no trimming): traceable, same real rows."""
    from jetlab.represent.graph import _knn

    b, p = mask.shape
    own = torch.arange(p, device=mask.device).view(1, p, 1).expand(b, p, k)  # (B, P, k)
    with torch.no_grad():
        return _knn(points, mask, k, own)  # (B, P, k)


def masked_apply(module: nn.Module, x: Tensor, mask: Tensor) -> Tensor:
    """``module`` on the real entries ``x[mask]`` (M, C) only, scattered back; 0 elsewhere.

    ``x`` (*S, C) with ``mask`` (*S) bool, True = real (e.g. S = (B, P) particles or (B, P, P) pairs).
    A BatchNorm inside ``module`` then sees real entries only, in training and in eval mode.

    Example:
        >>> x, mask = torch.ones(1, 3, 2), torch.tensor([[True, False, True]])
        >>> masked_apply(nn.Linear(2, 1, bias=False), x, mask).shape, masked_apply(nn.Identity(), x, mask)[0, 1]
        (torch.Size([1, 3, 1]), tensor([0., 0.]))
    """
    if exporting() and not module.training:  # dense: every slot, padded ones zeroed
        y = module(x.reshape(-1, x.shape[-1]))  # (B·P·…, C')
        return torch.where(mask.unsqueeze(-1), y.view(*mask.shape, -1), 0.0)  # (*S, C')
    y = module(x[mask])  # (M, C')
    return y.new_zeros(*mask.shape, y.shape[-1]).index_put((mask,), y)  # (*S, C')


def trim_padding(mask: Tensor, *tensors: Tensor) -> tuple[Tensor, ...]:
    """Drop the trailing slots that are padding in every jet: (B, P, ...) -> (B, n, ...); same outputs, less work.

    Example:
        >>> mask = torch.tensor([[True, False, False], [True, True, False]])
        >>> [t.shape for t in trim_padding(mask, torch.zeros(2, 3, 4))]
        [torch.Size([2, 2]), torch.Size([2, 2, 4])]
    """
    if exporting():  # an exported graph keeps P dynamic and never trims
        return (mask, *tensors)
    used = mask.any(dim=0).nonzero()  # (U, 1)
    n = int(used.max()) + 1 if used.numel() else 1
    return tuple(t[:, :n] for t in (mask, *tensors))


def mlp(sizes: Sequence[int], act: type[nn.Module] = nn.ReLU, norm: bool = False, dropout: float = 0.0,
        last_act: bool = True) -> nn.Sequential:
    """Linear (→ BatchNorm) → act (→ dropout) per step of ``sizes`` (input size first).

    With ``last_act=False`` the last step is a plain Linear (logits, or an embedding to add to).
    """
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        if i == len(sizes) - 2 and not last_act:
            layers.append(nn.Linear(a, b))
            break
        layers.append(nn.Linear(a, b, bias=not norm))
        layers += [nn.BatchNorm1d(b)] if norm else []
        layers += [act()] + ([nn.Dropout(dropout)] if dropout else [])
    return nn.Sequential(*layers)
