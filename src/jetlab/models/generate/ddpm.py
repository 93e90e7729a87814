"""``ddpm`` and ``ddpm_jets``: denoising diffusion (Ho, Jain, Abbeel, arXiv:2006.11239) with DDIM sampling
(Song, Meng, Ermon, arXiv:2010.02502), written once (:class:`Diffusion`) over any noise network.

Forward process, a Markov chain of T steps with variances β_1 … β_T (``linear``: Ho et al.'s β from 10⁻⁴ to
0.02; ``cosine``: Nichol & Dhariwal, arXiv:2102.09672)::

    q(x_t | x_{t−1}) = N(√(1 − β_t) x_{t−1}, β_t I),      α_t = 1 − β_t,   ᾱ_t = Π_{s ≤ t} α_s
    q(x_t | x_0)     = N(√ᾱ_t x_0, (1 − ᾱ_t) I)            (closed form: x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε)

Training: ``t ~ U{1..T}``, ``ε ~ N(0, I)``, ``L = ‖ε − ε_θ(x_t, t, cond)‖²`` (mean over the real entries).
Ancestral sampling from ``x_T ~ N(0, I)``, t = T … 1, with the posterior variance β̃_t::

    x_{t−1} = (x_t − β_t / √(1 − ᾱ_t) · ε_θ) / √α_t + σ_t z,    σ_t² = β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t)

DDIM over a subsequence τ_S > … > τ_1 of the steps (``sample_steps`` S, ᾱ_{τ_0} = 1)::

    x̂_0 = (x_t − √(1 − ᾱ_t) ε_θ) / √ᾱ_t
    x_prev = √ᾱ_prev x̂_0 + √(1 − ᾱ_prev − σ²) ε_θ + σ z,    σ = η √((1 − ᾱ_prev)/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_prev)

η = 0: deterministic given x_T; η = 1 with S = T: exactly the ancestral sampler above.

Defaults: T = 1000, linear β, DDIM with η = 0 and 50 steps (showers) or 20 (jets) — T network calls per
sample are minutes on a CPU; ``sampler: ddpm`` in the hyper-parameters samples ancestrally over all T steps.

The network ``ε_θ(x_t, t/T, *cond)``: showers (``ddpm``, on the ``voxels`` representation) use
:class:`~jetlab.models.generate.shower_base.VoxelNet` on the standardized transformed voxels (B, V),
conditioned on ln E_inc and the particle (samples clipped to each voxel's training range); jets
(``ddpm_jets``, on ``particles`` like ``flow_matching``) use flow matching's permutation-equivariant
:class:`~jetlab.models.generate.flow_matching.SetTransformerVelocity` on the standardized (Δη, Δφ, pT_rel)
clouds, conditioned on the class. Mask convention for clouds:
``mask`` (B, P) bool, True = real particle; noise, loss and samples live on real particles only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from jetlab.errors import UsageError
from jetlab.models.generate.flow_matching import SetTransformerVelocity
from jetlab.models.generate.generative import Batch, CloudGenerator, Parts
from jetlab.models.generate.shower_base import ShowerGenerator, VoxelNet
from jetlab.models.registry import InputDims, register_model

__all__ = ["beta_schedule", "Diffusion", "ShowerDDPM", "CloudDDPM", "ddpm", "ddpm_jets"]

SCHEDULES = ("linear", "cosine")
SAMPLERS = ("ddpm", "ddim")


def beta_schedule(kind: str, timesteps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> Tensor:
    """β_1 … β_T (T,) float64: ``linear`` from ``beta_start`` to ``beta_end``, or ``cosine`` (s = 0.008, β ≤ 0.999)."""
    if kind == "linear":
        return torch.linspace(beta_start, beta_end, timesteps, dtype=torch.float64)
    if kind == "cosine":
        s = 0.008
        f = torch.cos((torch.arange(timesteps + 1, dtype=torch.float64) / timesteps + s) / (1 + s) * math.pi / 2) ** 2
        alpha_bar = f / f[0]  # (T + 1,) ᾱ_0 = 1 … ᾱ_T
        return (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=0.999)
    raise UsageError(f"diffusion: schedule must be one of {', '.join(SCHEDULES)}, got {kind!r}")


class Diffusion(nn.Module):
    """DDPM over a noise network ``denoiser(x_t, t / T, *cond) → ε̂`` (same shape as x); see the module docstring.

    Timesteps are integers t = 1 … T; ``mask`` (optional, broadcastable to x, 1 = real entry) keeps padded
    entries at exactly 0. Random draws come from ``generator`` on the CPU (reproducible on any device).

    Example:
        >>> d = Diffusion(lambda x, t: torch.zeros_like(x), timesteps=10)
        >>> d.sample(torch.randn(4, 3), sampler="ddim", steps=5).shape
        torch.Size([4, 3])
    """

    betas: Tensor
    alpha_bar: Tensor

    def __init__(self, denoiser: Any, timesteps: int = 1000, schedule: str = "linear", beta_start: float = 1e-4,
                 beta_end: float = 0.02) -> None:
        super().__init__()
        if timesteps < 1:
            raise UsageError(f"diffusion: timesteps must be >= 1, got {timesteps}")
        self.denoiser, self.timesteps = denoiser, int(timesteps)
        betas = beta_schedule(schedule, self.timesteps, beta_start, beta_end)  # (T,)
        self.register_buffer("betas", betas, persistent=False)  # from the hyper-parameters, not the checkpoint
        self.register_buffer("alpha_bar", torch.cumprod(1 - betas, dim=0), persistent=False)  # (T,)

    def _bar(self, t: Tensor) -> Tensor:
        """ᾱ_t for integer t (0 → 1), float64."""
        return torch.where(t > 0, self.alpha_bar[(t - 1).clamp(min=0)], torch.ones_like(self.alpha_bar[0]))

    @staticmethod
    def _expand(v: Tensor, like: Tensor) -> Tensor:
        return v.to(like.dtype).reshape(-1, *([1] * (like.dim() - 1)))  # (B, 1, …)

    def q_step(self, x_prev: Tensor, t: int, noise: Tensor) -> Tensor:
        """One step of the chain: ``x_t = √(1 − β_t) x_{t−1} + √β_t ε``."""
        beta = float(self.betas[t - 1])
        return math.sqrt(1 - beta) * x_prev + math.sqrt(beta) * noise

    def q_sample(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """The closed form ``x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε`` for t (B,) long in 1 … T."""
        bar = self._expand(self._bar(t), x0)
        return bar.sqrt() * x0 + (1 - bar).sqrt() * noise

    def loss(self, x0: Tensor, *cond: Any, mask: Tensor | None = None) -> Tensor:
        """``‖ε − ε_θ(x_t, t, cond)‖²`` averaged over the (real) entries, t uniform in 1 … T."""
        t = torch.randint(1, self.timesteps + 1, (x0.shape[0],), device=x0.device)  # (B,)
        noise = torch.randn_like(x0)
        m = torch.ones_like(x0) if mask is None else mask.to(x0.dtype).expand_as(x0)
        noise = noise * m
        eps = self.denoiser(self.q_sample(x0, t, noise), t.to(x0.dtype) / self.timesteps, *cond)
        return (((eps - noise) ** 2) * m).sum() / m.sum().clamp(min=1)

    def _eps(self, x: Tensor, t: int, cond: tuple[Any, ...], m: Tensor) -> Tensor:
        step = torch.full((x.shape[0],), t / self.timesteps, device=x.device, dtype=x.dtype)  # (B,)
        return self.denoiser(x, step, *cond) * m

    def _z(self, x: Tensor, generator: torch.Generator | None, m: Tensor) -> Tensor:
        return torch.randn(x.shape, generator=generator).to(device=x.device, dtype=x.dtype) * m

    @torch.no_grad()
    def sample(self, x_t: Tensor, *cond: Any, sampler: str = "ddpm", steps: int | None = None, eta: float = 0.0,
               mask: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """x_0 from the noise ``x_t`` = x_T: ``ddpm`` (T ancestral steps) or ``ddim`` (``steps`` steps, η = ``eta``)."""
        m = torch.ones_like(x_t) if mask is None else mask.to(x_t.dtype).expand_as(x_t)
        x = x_t * m
        if sampler == "ddpm":
            return self._ancestral(x, cond, m, generator)
        if sampler == "ddim":
            return self._ddim(x, cond, m, self.timesteps if steps is None else int(steps), float(eta), generator)
        raise UsageError(f"diffusion: sampler must be one of {', '.join(SAMPLERS)}, got {sampler!r}")

    def _ancestral(self, x: Tensor, cond: tuple[Any, ...], m: Tensor, generator: torch.Generator | None) -> Tensor:
        for t in range(self.timesteps, 0, -1):
            beta, bar = float(self.betas[t - 1]), float(self.alpha_bar[t - 1])
            bar_prev = float(self.alpha_bar[t - 2]) if t > 1 else 1.0
            eps = self._eps(x, t, cond, m)
            mean = (x - beta / math.sqrt(1 - bar) * eps) / math.sqrt(1 - beta)
            sigma = math.sqrt(beta * (1 - bar_prev) / (1 - bar))  # β̃_t; 0 at t = 1
            x = mean + sigma * self._z(x, generator, m)
        return x

    def _ddim(self, x: Tensor, cond: tuple[Any, ...], m: Tensor, steps: int, eta: float,
              generator: torch.Generator | None) -> Tensor:
        if not 1 <= steps <= self.timesteps or eta < 0:
            raise UsageError(f"diffusion: DDIM needs 1 <= sample_steps <= {self.timesteps} and eta >= 0 "
                             f"(got {steps}, {eta})")
        taus = torch.linspace(1, self.timesteps, steps, dtype=torch.float64).round().long().unique().tolist()
        for i in range(len(taus) - 1, -1, -1):
            t, prev = taus[i], taus[i - 1] if i else 0
            bar, bar_prev = float(self.alpha_bar[t - 1]), float(self.alpha_bar[prev - 1]) if prev else 1.0
            eps = self._eps(x, t, cond, m)
            x0 = (x - math.sqrt(1 - bar) * eps) / math.sqrt(bar)
            sigma = eta * math.sqrt((1 - bar_prev) / (1 - bar) * (1 - bar / bar_prev))
            direction = math.sqrt(max(1 - bar_prev - sigma**2, 0.0)) * eps
            x = math.sqrt(bar_prev) * x0 + direction + sigma * self._z(x, generator, m)
        return x


class _Sampling:
    """The default sampler of a diffusion model: ``sampler``, DDIM's ``sample_steps`` (at most T) and ``eta``."""

    diffusion: Diffusion
    sample_steps: int

    @property
    def ddim_steps(self) -> int:
        return min(self.sample_steps, self.diffusion.timesteps)


def _check(name: str, sampler: str, sample_steps: int, eta: float) -> None:
    if sampler not in SAMPLERS or sample_steps < 1 or eta < 0:
        raise UsageError(f"{name}: sampler in {SAMPLERS}, sample_steps >= 1 and eta >= 0 required "
                         f"(got {sampler!r}, {sample_steps}, {eta})")


class ShowerDDPM(_Sampling, ShowerGenerator):
    """DDPM on the standardized transformed voxels, conditioned on ln E_inc and the particle.

    Arguments:
        dim, blocks, ff: :class:`VoxelNet` width, residual blocks, hidden width.
        timesteps, schedule: T and the β schedule. sampler, sample_steps, eta: the default sampler.

    Example:
        >>> m = ShowerDDPM(3, {}, timesteps=20, dim=32, ff=32)
        >>> m.sample(2, torch.tensor([0, 1]), energy=10.0)["x"].shape
        torch.Size([2, 504])
    """

    def __init__(self, n_classes: int, extra: Mapping[str, Any], dim: int = 128, blocks: int = 3, ff: int = 256,
                 timesteps: int = 1000, schedule: str = "linear", sampler: str = "ddim", sample_steps: int = 50,
                 eta: float = 0.0) -> None:
        super().__init__(n_classes, extra)
        _check("ddpm", sampler, sample_steps, eta)
        self.sampler, self.sample_steps, self.eta = sampler, int(sample_steps), float(eta)
        self.diffusion = Diffusion(VoxelNet(n_classes, self.n_voxels, dim, blocks, ff), timesteps, schedule)

    @property
    def net(self) -> VoxelNet:
        """The noise network ε_θ."""
        return self.diffusion.denoiser

    def training_loss(self, batch: Batch) -> Parts:
        x0 = self.inputs(batch)  # (B, V) dequantized, standardized
        loss = self.diffusion.loss(x0, self.condition(batch["energy"]), batch["label"])
        return loss, {"eps_mse": loss}

    @torch.no_grad()
    def sample(self, n: int, labels: Tensor, generator: torch.Generator | None = None,
               energy: Tensor | float | None = None, sampler: str | None = None,
               steps: int | None = None) -> dict[str, Tensor]:
        """``n`` showers; ``sampler``/``steps`` override the defaults (``steps``: DDIM's S)."""
        like = self.net.out.weight
        ln_e = self.sample_log_energy(n, energy, generator, like)  # (n,)
        x_t = self.noise((n, self.n_voxels), generator, like)  # (n, V) x_T
        x0 = self.diffusion.sample(x_t, self.condition(ln_e), labels, sampler=sampler or self.sampler,
                                   steps=steps or self.ddim_steps, eta=self.eta, generator=generator)
        return self.generated(x0, ln_e)


class CloudDDPM(_Sampling, CloudGenerator):
    """DDPM on particle clouds (class-conditional); the noise network is flow matching's set transformer.

    Shapes: ``batch["x"]`` (B, P, F), ``batch["mask"]`` (B, P) bool, True = real, ``batch["label"]`` (B,).

    Example:
        >>> m = CloudDDPM(5, 3, 30, timesteps=10)
        >>> m.sample(2, torch.tensor([0, 1]))["x"].shape
        torch.Size([2, 30, 3])
    """

    def __init__(self, n_classes: int, n_features: int, max_particles: int, dim: int = 64, heads: int = 4,
                 layers: int = 3, ff: int = 128, timesteps: int = 1000, schedule: str = "linear",
                 sampler: str = "ddim", sample_steps: int = 20, eta: float = 0.0) -> None:
        super().__init__(n_classes, n_features, max_particles)
        _check("ddpm_jets", sampler, sample_steps, eta)
        if dim % heads:
            raise UsageError(f"ddpm_jets: dim must be divisible by heads (got {dim}, {heads})")
        self.sampler, self.sample_steps, self.eta = sampler, int(sample_steps), float(eta)
        self.diffusion = Diffusion(SetTransformerVelocity(n_classes, n_features, dim, heads, layers, ff), timesteps,
                                   schedule)

    @property
    def net(self) -> SetTransformerVelocity:
        """The noise network ε_θ."""
        return self.diffusion.denoiser

    def training_loss(self, batch: Batch) -> Parts:
        self.observe(batch)
        mask, labels = batch["mask"], batch["label"]  # (B, P), (B,)
        x0 = self.standardize(batch["x"], mask)  # (B, P, F)
        loss = self.diffusion.loss(x0, labels, mask, mask=mask.unsqueeze(-1))
        return loss, {"eps_mse": loss}

    @torch.no_grad()
    def sample(self, n: int, labels: Tensor, generator: torch.Generator | None = None, sampler: str | None = None,
               steps: int | None = None) -> dict[str, Tensor]:
        mask = self.sample_mask(labels, generator)  # (n, P)
        x_t = self.noise((n, self.max_particles, self.n_features), generator, self.net.out.weight)  # (n, P, F)
        x0 = self.diffusion.sample(x_t, labels, mask, sampler=sampler or self.sampler, steps=steps or self.ddim_steps,
                                   eta=self.eta, mask=mask.unsqueeze(-1), generator=generator)
        return {"x": self.destandardize(x0, mask), "mask": mask}


@register_model("ddpm",
                recipe={"representation": {"voxel_transform": "log"}, "optim": {"lr": 0.0005, "scheduler": "none"},
                        "trainer": {"epochs": 50, "batch_size": 128}},
                family="generative", representation="voxels", task="generate", paper="arXiv:2006.11239",
                dim=128, blocks=3, ff=256, timesteps=1000, schedule="linear", sampler="ddim", sample_steps=50, eta=0.0)
def ddpm(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """DDPM on showers (ε-prediction, linear/cosine β, ancestral or DDIM sampling), conditioned on E_inc."""
    return ShowerDDPM(n_classes, dims.extra, **hp)


# Generator of particle clouds: the 30 hardest constituents as (Δη, Δφ, pT/pT_jet), JetNet-style.
@register_model("ddpm_jets",
                recipe={"representation": {"features": ("etarel", "phirel", "ptrel"), "max_particles": 30},
                        "optim": {"lr": 0.001, "scheduler": "none"},
                        "trainer": {"epochs": 30, "batch_size": 256}},
                family="generative", representation="particles", task="generate", paper="arXiv:2006.11239",
                dim=64, heads=4, layers=3, ff=128, timesteps=1000, schedule="linear", sampler="ddim",
                sample_steps=20, eta=0.0)
def ddpm_jets(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """DDPM on particle clouds with flow matching's equivariant set transformer as the noise network."""
    return CloudDDPM(n_classes, dims.particle_features, dims.max_particles, **hp)
