"""What every calorimeter-shower generator shares: the condition, the voxel statistics, the way back to MeV.

Shower generators (``kind = "showers"``) read the ``voxels`` representation (:mod:`jetlab.represent.voxels`):
``x`` (B, V) transformed energy fractions, ``energy`` (B,) ln(E/GeV), ``layers`` (B, L), ``label`` (B,) and
learn ``p(x | E, particle)``. Their API, beside the :class:`~jetlab.models.generate.generative.Generator` one::

    total, parts = model.training_loss(batch)                 # or the GAN's generator_loss / discriminator_loss
    out = model.sample(n, labels, generator, energy=E)        # {"x": (n, V) voxel energies in MeV, "energy": (n,) GeV}

``energy`` (n,) GeV; None draws ln E uniformly between the training showers' minimum and maximum.
The condition every network sees is ``c = (ln E − μ) / σ`` with μ, σ of the training showers
(fitted by the representation, passed in ``InputDims.extra``), and a learned embedding of the particle.

Voxel statistics (:class:`RunningMoments`, buffers saved with the model) are accumulated by :meth:`inputs`
on every training batch, as :class:`~jetlab.models.generate.generative.CloudGenerator` does for particles;
training inputs are dequantized first (:meth:`ShowerGenerator.dequantize`), so that a voxel never hit in the
training showers still has a spread, and standardizing it stays finite.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from jetlab.models.generate.flow_matching import FourierTime
from jetlab.models.generate.generative import Batch, Generator
from jetlab.represent.voxels import from_normalized, shower_dims

__all__ = ["RunningMoments", "ConditionEmbedding", "VoxelNet", "ShowerGenerator", "shower_extra"]


def shower_extra(extra: Mapping[str, Any]) -> dict[str, Any]:
    """``InputDims.extra`` of a shower dataset, or CaloGAN's defaults when built without data."""
    return dict(extra) if "voxels" in extra else shower_dims()


class RunningMoments(nn.Module):
    """Σx, Σx², N, min and max of observed rows of D features (buffers) → mean and standard deviation (D,), (D,).

    Before two rows are seen: mean 0, std 1. Each std is floored at ``floor`` and at ``relative`` times the mean
    std over the features (so that a nearly constant feature, a voxel the showers rarely reach, is not
    blown up to unit variance).
    """

    total: Tensor
    squares: Tensor
    count: Tensor
    lowest: Tensor
    highest: Tensor

    def __init__(self, n_features: int, floor: float = 1e-3, relative: float = 0.0) -> None:
        super().__init__()
        self.floor, self.relative = float(floor), float(relative)
        self.register_buffer("total", torch.zeros(n_features, dtype=torch.float64))
        self.register_buffer("squares", torch.zeros(n_features, dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("lowest", torch.full((n_features,), torch.inf))
        self.register_buffer("highest", torch.full((n_features,), -torch.inf))

    @torch.no_grad()
    def update(self, x: Tensor) -> None:
        """Add rows x (B, D)."""
        x = x.detach().to(self.total.dtype)
        self.total += x.sum(dim=0)
        self.squares += (x**2).sum(dim=0)
        self.count += x.shape[0]
        self.lowest = torch.minimum(self.lowest, x.min(dim=0).values.float())
        self.highest = torch.maximum(self.highest, x.max(dim=0).values.float())

    def stats(self) -> tuple[Tensor, Tensor]:
        if self.count < 2:
            return torch.zeros_like(self.total).float(), torch.ones_like(self.total).float()
        mean = self.total / self.count  # (D,)
        std = (self.squares / self.count - mean**2).clamp(min=0).sqrt()  # (D,)
        return mean.float(), std.clamp(min=max(self.floor, self.relative * float(std.mean()))).float()

    def standardize(self, x: Tensor) -> Tensor:
        mean, std = self.stats()
        return (x - mean) / std  # (B, D)

    def destandardize(self, x: Tensor) -> Tensor:
        mean, std = self.stats()
        return x * std + mean  # (B, D)

    def clip(self, x: Tensor) -> Tensor:
        """``x`` (B, D) clipped to the range observed per feature (unchanged before any row)."""
        if self.count < 1:
            return x
        return torch.minimum(torch.maximum(x, self.lowest), self.highest)


class ConditionEmbedding(nn.Module):
    """``h = MLP(c) + e_particle``: the standardized ln E (B, 1) and labels (B,) → (B, D)."""

    def __init__(self, n_classes: int, dim: int) -> None:
        super().__init__()
        self.energy = nn.Sequential(nn.Linear(1, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.particle = nn.Embedding(n_classes, dim)

    def forward(self, c: Tensor, labels: Tensor) -> Tensor:
        return self.energy(c) + self.particle(labels.long())  # (B, D)


class VoxelNet(nn.Module):
    """A time- and condition-dependent residual MLP on voxels, the noise / velocity network of diffusion and
    flow matching: ``x`` (B, V), ``t`` (B,) in [0, 1], ``c`` (B, 1), labels (B,) → (B, V).

    ``e = τ(t) + h(c, particle)``, ``h⁰ = W x``, per block ``hˡ⁺¹ = hˡ + MLP(LayerNorm(hˡ + e))``, out
    ``W' LN(h) + g(e) ⊙ x`` with a per-voxel gain ``g`` (linear in e): at high noise the noise (or velocity)
    to predict is mostly the input itself, a path the hidden width D < V could not carry.
    """

    def __init__(self, n_classes: int, n_voxels: int, dim: int = 128, blocks: int = 3, ff: int = 256) -> None:
        super().__init__()
        self.inp, self.out = nn.Linear(n_voxels, dim), nn.Linear(dim, n_voxels)
        self.time, self.cond = FourierTime(dim), ConditionEmbedding(n_classes, dim)
        self.blocks = nn.ModuleList(nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, ff), nn.SiLU(), nn.Linear(ff, dim))
                                    for _ in range(blocks))
        self.norm = nn.LayerNorm(dim)
        self.gain = nn.Linear(dim, n_voxels)

    def forward(self, x: Tensor, t: Tensor, c: Tensor, labels: Tensor) -> Tensor:
        e = self.time(t) + self.cond(c, labels)  # (B, D)
        h = self.inp(x)  # (B, D)
        for block in self.blocks:
            h = h + block(h + e)  # (B, D)
        return self.out(self.norm(h)) + self.gain(e) * x  # (B, V)


class ShowerGenerator(Generator):
    """Base of the shower generators; ``extra`` is ``InputDims.extra`` of the ``voxels`` representation.

    Attributes: ``n_voxels`` V, ``n_layers`` L, ``layer_sizes`` (a·b per layer), ``transform``, ``eps``,
    ``voxel_stats`` (:class:`RunningMoments` of ``x``).
    """

    kind = "showers"

    def __init__(self, n_classes: int, extra: Mapping[str, Any]) -> None:
        super().__init__(n_classes)
        extra = shower_extra(extra)
        self.geometry, self.transform, self.eps = str(extra["geometry"]), str(extra["transform"]), float(extra["eps"])
        self.layer_shapes = [tuple(int(v) for v in s) for s in extra["layer_shapes"]]
        self.layer_sizes = [a * b for a, b in self.layer_shapes]
        self.n_voxels, self.n_layers = int(extra["voxels"]), len(self.layer_sizes)
        self.ln_e_mean, self.ln_e_std, self.ln_e_min, self.ln_e_max = (float(v) for v in extra["log_energy"])
        self.floor = float(extra.get("floor", 0.0))  # smallest hit fraction of the training showers
        self.voxel_stats = RunningMoments(self.n_voxels, relative=0.5)

    # ------------------------------------------------------------------ condition
    def condition(self, ln_e: Tensor) -> Tensor:
        """``c = (ln E − μ) / σ``: (B,) → (B, 1)."""
        return ((ln_e - self.ln_e_mean) / self.ln_e_std).unsqueeze(-1).to(torch.float32)

    def sample_log_energy(self, n: int, energy: Tensor | float | None, generator: torch.Generator | None,
                          like: Tensor) -> Tensor:
        """ln E (n,) of ``energy`` (n,) or a number in GeV; None: uniform in ln E over the training range."""
        if energy is None:
            u = torch.rand(n, generator=generator)
            ln_e = self.ln_e_min + (self.ln_e_max - self.ln_e_min) * u
        else:
            ln_e = torch.log(torch.as_tensor(energy, dtype=torch.float32).expand(n))
        return ln_e.to(device=like.device, dtype=torch.float32)

    # ------------------------------------------------------------------ data statistics and units
    def dequantize(self, x: Tensor) -> Tensor:
        """``x`` of ``u + ε·U(0, 1)`` (fresh noise per call): no voxel is constant (an empty one varies by
        ln(1 + U) in the log transform), and the inverse transform still maps every empty voxel to 0."""
        noise = self.eps * torch.rand_like(x)
        return x + noise if self.transform == "fraction" else torch.log(torch.exp(x) + noise)

    def inputs(self, batch: Batch) -> Tensor:
        """The network's view of ``batch["x"]``: dequantized and standardized (B, V); in training mode the
        voxel moments are updated first (the statistics the sampler inverts)."""
        x = self.dequantize(batch["x"])  # (B, V)
        if self.training:
            self.voxel_stats.update(x)
        return self.voxel_stats.standardize(x)

    def to_mev(self, x: Tensor, ln_e: Tensor) -> Tensor:
        """Voxel energies (B, V) MeV from the representation's ``x`` (B, V) and ln E (B,)."""
        return from_normalized(x, torch.exp(ln_e), self.transform, self.eps, self.floor)

    def generated(self, x: Tensor, ln_e: Tensor) -> dict[str, Tensor]:
        """The :meth:`sample` result from standardized network outputs (B, V): destandardized, clipped to each
        voxel's range in the training showers (no deposit beyond the largest seen, as image diffusion models
        clip to the pixel range), back to MeV."""
        return self.output(self.to_mev(self.voxel_stats.clip(self.voxel_stats.destandardize(x)), ln_e), ln_e)

    def fractions(self, x: Tensor) -> Tensor:
        """Energy fractions u = v / E (B, V) from the representation's ``x`` (the inverse at E = 1 MeV)."""
        return from_normalized(x, torch.full_like(x[:, 0], 1e-3), self.transform, self.eps)

    def split_layers(self, v: Tensor) -> list[Tensor]:
        """(B, V) → one (B, a·b) tensor per layer, in voxel order."""
        return list(torch.split(v, self.layer_sizes, dim=1))

    def layer_sums(self, v: Tensor) -> Tensor:
        """(B, V) → (B, L) sums per layer."""
        return torch.stack([part.sum(dim=1) for part in self.split_layers(v)], dim=1)

    def noise(self, shape: tuple[int, ...], generator: torch.Generator | None, like: Tensor) -> Tensor:
        """Standard normal noise drawn on the CPU from ``generator`` (reproducible on any device)."""
        return torch.randn(*shape, generator=generator).to(device=like.device, dtype=like.dtype)

    def output(self, voxels: Tensor, ln_e: Tensor) -> dict[str, Tensor]:
        """The :meth:`sample` result: voxels (n, V) MeV, never negative, and the incident energies (n,) GeV."""
        return {"x": voxels.clamp(min=0), "energy": torch.exp(ln_e)}

    def sample(self, n: int, labels: Tensor, generator: torch.Generator | None = None,
               energy: Tensor | float | None = None) -> dict[str, Tensor]:
        """``n`` showers of particles ``labels`` (n,) at ``energy`` (n,) GeV; see the module docstring."""
        raise NotImplementedError

