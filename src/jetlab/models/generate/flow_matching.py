"""``flow_matching``: conditional flow matching for particle clouds with a permutation-equivariant transformer.

Flow matching (Lipman et al., arXiv:2210.02747) with the straight (rectified / optimal-transport) path
between noise ``x₀ ~ N(0, 1)`` and a standardized jet ``x₁``, per real particle::

    x_t = (1 − t) x₀ + t x₁,   t ~ U(0, 1)          L = E ‖v_θ(x_t, t, c) − (x₁ − x₀)‖²

averaged over real particles and features. Sampling integrates ``dx/dt = v_θ(x, t, c)`` from ``t = 0`` to
``1`` with ``steps`` Euler or midpoint steps (``steps`` network calls for Euler, ``2·steps`` for midpoint),
deterministically given the initial noise.

The backbone, in the spirit of PC-JeDi (Leigh et al., arXiv:2303.05376) and EPiC-FM (arXiv:2310.00049),
is a transformer encoder *without positional encoding* and with a key-padding mask, so it is
permutation-equivariant over real particles and blind to the padded slots. The time embedding (Fourier
features of t → MLP), the class embedding and ``n/P`` are summed into one conditioning vector added to
every token before every layer.

Registered as ``flow_matching``; ``diffusion`` is its deprecated alias for one release (this is not a
diffusion model: a DDPM arrives with the calorimeter work). Runs whose config says ``diffusion`` load.

Mask convention: ``mask`` (B, P) bool, True = real particle; samples draw n from the learned per-class
multiplicity (see :class:`jetlab.models.generate.generative.CloudGenerator`; ``training_loss`` calls ``observe``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from jetlab.errors import UsageError
from jetlab.models.generate.generative import Batch, CloudGenerator, Parts
from jetlab.models.layers import masked_mean
from jetlab.models.registry import InputDims, register_alias, register_model

__all__ = ["FourierTime", "SetTransformerVelocity", "FlowMatching", "flow_matching"]


class FourierTime(nn.Module):
    """``t`` (B,) → ``MLP([sin(2π f_k t), cos(2π f_k t)])`` (B, D) with fixed frequencies f_k = 1..D/2."""

    freqs: Tensor

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("freqs", torch.arange(1, dim // 2 + 1, dtype=torch.float32))
        self.mlp = nn.Sequential(nn.Linear(2 * (dim // 2), dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: Tensor) -> Tensor:
        angle = 2 * math.pi * t.unsqueeze(-1) * self.freqs  # (B, D/2)
        return self.mlp(torch.cat([angle.sin(), angle.cos()], dim=-1))  # (B, D)


class SetTransformerVelocity(nn.Module):
    """Velocity ``v_θ(x_t, t, c)``: (B, P, F), (B,), (B,), mask (B, P) → (B, P, F), padded slots 0.

    ``h⁰ = W x_t``; per layer ``h ← Encoder_l(h + cond, key_padding_mask = ~mask)`` with
    ``cond = τ(t) + e_c + w · n/P`` (B, D); output ``W' h``. Pre-norm layers, GELU, no dropout.
    """

    def __init__(self, n_classes: int, n_features: int, dim: int, heads: int, layers: int, ff: int) -> None:
        super().__init__()
        self.inp, self.out = nn.Linear(n_features, dim), nn.Linear(dim, n_features)
        self.time, self.embed, self.count = FourierTime(dim), nn.Embedding(n_classes, dim), nn.Linear(1, dim)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(dim, heads, ff, dropout=0.0, activation="gelu", batch_first=True,
                                       norm_first=True) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor, t: Tensor, labels: Tensor, mask: Tensor) -> Tensor:
        frac = mask.sum(dim=1, keepdim=True).to(x.dtype) / mask.shape[1]  # (B, 1)
        cond = (self.time(t) + self.embed(labels) + self.count(frac)).unsqueeze(1)  # (B, 1, D)
        pad = ~mask  # (B, P) True = ignore
        pad[:, 0] &= mask.any(dim=1)  # a jet without particles keeps one key, so softmax stays finite
        h = self.inp(x)  # (B, P, D)
        for layer in self.layers:
            h = layer(h + cond, src_key_padding_mask=pad)  # (B, P, D)
        return self.out(self.norm(h)) * mask.unsqueeze(-1)  # (B, P, F)


class FlowMatching(CloudGenerator):
    """Class-conditional flow matching on particle clouds; see the module docstring for the equations.

    Arguments:
        dim, heads, layers, ff: transformer width, attention heads, encoder layers, feed-forward width.
        steps: default number of ODE steps in :meth:`sample` (overridable per call).
        solver: ``"euler"`` or ``"midpoint"``.

    Shapes:
        ``batch["x"]`` (B, P, F), ``batch["mask"]`` (B, P) bool, True = real, ``batch["label"]`` (B,).

    Example:
        >>> m = FlowMatching(5, 3, 30, steps=4)
        >>> m.sample(2, torch.tensor([0, 1]))["mask"].shape
        torch.Size([2, 30])
    """

    def __init__(self, n_classes: int, n_features: int, max_particles: int, dim: int = 64, heads: int = 4,
                 layers: int = 3, ff: int = 128, steps: int = 20, solver: str = "euler") -> None:
        super().__init__(n_classes, n_features, max_particles)
        if steps < 1 or solver not in ("euler", "midpoint") or dim % heads:
            raise UsageError(f"flow_matching: steps >= 1, solver in ('euler', 'midpoint') and dim divisible by heads "
                             f"required (got steps={steps}, solver={solver!r}, dim={dim}, heads={heads})")
        self.steps, self.solver = int(steps), solver
        self.velocity = SetTransformerVelocity(n_classes, n_features, dim, heads, layers, ff)

    def training_loss(self, batch: Batch) -> Parts:
        self.observe(batch)
        mask, labels = batch["mask"], batch["label"]  # (B, P), (B,)
        x1 = self.standardize(batch["x"], mask)  # (B, P, F)
        x0 = torch.randn_like(x1) * mask.unsqueeze(-1)  # (B, P, F)
        t = torch.rand(x1.shape[0], device=x1.device)  # (B,)
        xt = x0 + t.view(-1, 1, 1) * (x1 - x0)  # (B, P, F)
        err = (self.velocity(xt, t, labels, mask) - (x1 - x0)) ** 2  # (B, P, F)
        per_jet = masked_mean(err.mean(dim=2, keepdim=True), mask).squeeze(-1)  # (B,)
        weight = mask.sum(dim=1).to(err.dtype)  # (B,) so the mean is over real particles, not jets
        loss = (per_jet * weight).sum() / weight.sum().clamp(min=1)
        return loss, {"fm": loss}

    @torch.no_grad()
    def integrate(self, x: Tensor, labels: Tensor, mask: Tensor, steps: int) -> Tensor:
        """Solve ``dx/dt = v_θ`` from t = 0 to 1 in ``steps`` steps: (B, P, F) → (B, P, F)."""
        dt = 1.0 / steps
        for k in range(steps):
            t = torch.full((x.shape[0],), k * dt, device=x.device, dtype=x.dtype)  # (B,)
            v = self.velocity(x, t, labels, mask)  # (B, P, F)
            if self.solver == "midpoint":
                v = self.velocity(x + 0.5 * dt * v, t + 0.5 * dt, labels, mask)
            x = x + dt * v
        return x

    @torch.no_grad()
    def sample(self, n: int, labels: Tensor, generator: torch.Generator | None = None,
               steps: int | None = None) -> dict[str, Tensor]:
        """``n`` jets; ``steps`` ODE steps (default ``self.steps``); deterministic given ``generator``."""
        steps = self.steps if steps is None else int(steps)
        if steps < 1:
            raise UsageError(f"flow_matching: steps must be >= 1, got {steps}")
        mask = self.sample_mask(labels, generator)  # (n, P)
        x0 = self.noise((n, self.max_particles, self.n_features), generator, self.velocity.out.weight)
        x1 = self.integrate(x0 * mask.unsqueeze(-1), labels, mask, steps)  # (n, P, F)
        return {"x": self.destandardize(x1, mask), "mask": mask}


# Generator of particle clouds: the 30 hardest constituents as (Δη, Δφ, pT/pT_jet), JetNet-style.
@register_model("flow_matching",
                recipe={"representation": {"features": ("etarel", "phirel", "ptrel"), "max_particles": 30},
                        "optim": {"lr": 0.001, "scheduler": "none"},
                        "trainer": {"epochs": 30, "batch_size": 256}},
                family="generative", representation="particles", task="generate",
                paper="arXiv:2210.02747", dim=64, heads=4, layers=3, ff=128, steps=20, solver="euler")
def flow_matching(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """Class-conditional flow matching on particle clouds; equivariant transformer, Euler/midpoint ODE sampler."""
    return FlowMatching(n_classes, dims.particle_features, dims.max_particles, **hp)


register_alias("diffusion", "flow_matching", until="the next release")
