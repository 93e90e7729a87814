"""Set functions on jet constituents: ``deepsets``, ``pfn`` (Particle Flow) and ``efn`` (Energy Flow).

All three are ``ρ(pool_i φ(x_i))``: a per-particle network, a symmetric pooling over the real particles
and a per-jet network, hence invariant under particle permutations. Also home of the masked helpers
other set models reuse: :func:`masked_sum`, :func:`masked_mean` and :class:`MaskedBatchNorm`.

Mask convention everywhere: ``mask`` (B, P) bool, True = real particle; padded slots are zero in the
inputs and never reach an output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from jetlab.errors import UsageError
from jetlab.models.layers import MaskedBatchNorm, dense_stack, masked_mean, masked_sum
from jetlab.models.registry import InputDims, register_model

__all__ = ["ParticleNorm", "DeepSets", "ParticleFlowNetwork", "EnergyFlowNetwork", "deepsets", "pfn", "efn"]








class ParticleNorm(nn.Module):
    """Input normalization of particle features: ``"batch"`` (masked), ``"layer"`` (per particle) or ``"none"``.

    Shapes:
        x (B, P, F), mask (B, P) bool, True = real → (B, P, F).
    """

    KINDS = ("batch", "layer", "none")

    def __init__(self, kind: str, n_features: int) -> None:
        super().__init__()
        if kind not in self.KINDS:
            raise UsageError(f"norm {kind!r} unknown (known: {', '.join(self.KINDS)})")
        self.kind = kind
        self.norm: nn.Module = nn.Identity()
        if kind == "batch":
            self.norm = MaskedBatchNorm(n_features)
        elif kind == "layer":
            self.norm = nn.LayerNorm(n_features)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        if self.kind == "batch":
            return self.norm(x, mask)  # (B, P, F), padded slots 0
        return self.norm(x) * mask.unsqueeze(-1).to(x.dtype)  # (B, P, F), padded slots 0


class DeepSets(nn.Module):
    """Deep Sets (Zaheer et al., arXiv:1703.06114): ``logits = W · ρ(pool_{i real} φ(norm(x_i)))``.

    ``φ`` is a per-particle MLP, ``pool`` the masked mean (divided by the real count, clamped ≥ 1) or
    sum, ``ρ`` a per-jet MLP. ``norm="batch"`` is :class:`MaskedBatchNorm`: statistics over real particles
    only, unlike a plain BatchNorm over the zero-padded tensor (which would depend on the padding width).
    The course network is ``norm="batch", phi=(32, 32, 32), pool="mean", rho=(16,)`` on the 7 features
    ``etarel, phirel, pt, e, ptrel, erel, deltaR``.

    Shapes:
        ``batch["x"]`` (B, P, F), ``batch["mask"]`` (B, P) bool, True = real particle → logits (B, n_classes).

    Example:
        >>> import torch
        >>> m = DeepSets(7, 5).eval()
        >>> m({"x": torch.zeros(2, 4, 7), "mask": torch.ones(2, 4, dtype=torch.bool)}).shape
        torch.Size([2, 5])
    """

    POOLS = {"mean": masked_mean, "sum": masked_sum}

    def __init__(self, n_features: int, n_classes: int, phi: Sequence[int] = (32, 32, 32), rho: Sequence[int] = (16,),
                 pool: str = "mean", norm: str = "batch", activation: str = "relu", dropout: float = 0.0) -> None:
        super().__init__()
        if pool not in self.POOLS:
            raise UsageError(f"pool {pool!r} unknown (known: {', '.join(self.POOLS)})")
        self.pool = self.POOLS[pool]
        self.norm = ParticleNorm(norm, n_features)
        self.phi, width = dense_stack(n_features, phi, activation)
        self.rho, width = dense_stack(width, rho, activation, dropout)
        self.out = nn.Linear(width, n_classes)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        x, mask = batch["x"], batch["mask"]  # (B, P, F), (B, P)
        h = self.phi(self.norm(x, mask))  # (B, P, phi[-1])
        h = self.rho(self.pool(h, mask))  # (B, rho[-1])
        return self.out(h)  # (B, n_classes)


class ParticleFlowNetwork(DeepSets):
    """Particle Flow Network (Komiske, Metodiev, Thaler, arXiv:1810.05165): ``F(Σ_{i real} Φ(x_i))``.

    Deep Sets with a masked **sum** over all particle features; defaults from the paper (Φ = 100, 100,
    128 latent; F = 100, 100, 100). The registry default adds a masked BatchNorm on the inputs: without
    it the small-scale features (Δη, Δφ ~ 0.1) learn slowly (quickstart data: top AUC 0.81 -> 0.96).

    Shapes:
        ``batch["x"]`` (B, P, F), ``batch["mask"]`` (B, P) bool, True = real particle → logits (B, n_classes).
    """

    def __init__(self, n_features: int, n_classes: int, phi: Sequence[int] = (100, 100, 128),
                 f: Sequence[int] = (100, 100, 100), norm: str = "batch", activation: str = "relu",
                 dropout: float = 0.0) -> None:
        super().__init__(n_features, n_classes, phi, f, "sum", norm, activation, dropout)


class EnergyFlowNetwork(nn.Module):
    """Energy Flow Network (Komiske, Metodiev, Thaler, arXiv:1810.05165): ``F(Σ_i z_i Φ(Δη_i, Δφ_i))``.

    Φ sees only the angles and each particle enters linearly in its pT fraction ``z_i``, so the output is
    IRC safe by construction: a zero-energy particle adds nothing, and a collinear split
    ``z → z_a + z_b`` at the same angles gives the same sum. Φ therefore has no normalization across
    particles (batch statistics would let a soft particle change the output).

    Shapes:
        ``batch["points"]`` (B, P, 2) (Δη, Δφ), ``batch["z"]`` (B, P) pT fractions, ``batch["mask"]`` (B, P)
        bool, True = real particle → logits (B, n_classes). ``batch["x"]`` is not used.

    Example:
        >>> import torch
        >>> m = EnergyFlowNetwork(5)
        >>> b = {"points": torch.zeros(2, 4, 2), "z": torch.full((2, 4), 0.25), "mask": torch.ones(2, 4).bool()}
        >>> m(b).shape
        torch.Size([2, 5])
    """

    def __init__(self, n_classes: int, phi: Sequence[int] = (100, 100, 128), f: Sequence[int] = (100, 100, 100),
                 activation: str = "relu", dropout: float = 0.0) -> None:
        super().__init__()
        self.phi, width = dense_stack(2, phi, activation)
        self.f, width = dense_stack(width, f, activation, dropout)
        self.out = nn.Linear(width, n_classes)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        z = batch["z"] * batch["mask"].to(batch["z"].dtype)  # (B, P), 0 at padded slots
        h = self.phi(batch["points"])  # (B, P, L)
        pooled = torch.einsum("bp,bpl->bl", z, h)  # (B, L)  Σ_i z_i Φ(Δη_i, Δφ_i)
        return self.out(self.f(pooled))  # (B, n_classes)


# Permutation-invariant set model on the 64 hardest constituents.
@register_model("deepsets",
                recipe={"representation": {"max_particles": 64},
                        "optim": {"lr": 0.001, "scheduler": "plateau"},
                        "trainer": {"epochs": 30, "batch_size": 256, "patience": 8}},
                family="deepsets", representation="particles", symmetric=True,
                paper="arXiv:1703.06114", phi=(32, 32, 32), rho=(16,), pool="mean", norm="batch",
                activation="relu", dropout=0.0)
def deepsets(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """Deep Sets: per-particle φ, masked mean pooling, ρ (course: BN, φ 32×3, ρ 16)."""
    return DeepSets(dims.particle_features, n_classes, **hp)


# Permutation-invariant set model on the 64 hardest constituents.
@register_model("pfn",
                recipe={"representation": {"max_particles": 64},
                        "optim": {"lr": 0.001, "scheduler": "plateau"},
                        "trainer": {"epochs": 30, "batch_size": 256, "patience": 8}},
                family="deepsets", representation="particles", symmetric=True, paper="arXiv:1810.05165",
                phi=(100, 100, 128), f=(100, 100, 100), norm="batch", activation="relu", dropout=0.0)
def pfn(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """Particle Flow Network: F(Σ_i Φ(x_i)) over all particle features."""
    return ParticleFlowNetwork(dims.particle_features, n_classes, **hp)


# Permutation-invariant set model on the 64 hardest constituents.
@register_model("efn",
                recipe={"representation": {"max_particles": 64},
                        "optim": {"lr": 0.001, "scheduler": "plateau"},
                        "trainer": {"epochs": 30, "batch_size": 256, "patience": 8}},
                family="deepsets", representation="particles", symmetric=True, paper="arXiv:1810.05165",
                phi=(100, 100, 128), f=(100, 100, 100), activation="relu", dropout=0.0)
def efn(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """Energy Flow Network: F(Σ_i z_i Φ(Δη_i, Δφ_i)), IRC safe by construction."""
    return EnergyFlowNetwork(n_classes, **hp)
