"""``calogan``: the lecture's CaloGAN (Paganini, de Oliveira, Nachman, arXiv:1705.02355), small enough for a CPU.

One generator per calorimeter layer, chained: layer k's generator sees the noise, the condition and
layer k−1's generated image, so the longitudinal development is generated in order::

    û_0 = G_0(z, h),   û_k = G_k(z, h, P_k φ(û_{k−1})),   G_k = s_k · ReLU(MLP_k(·))       (B, a_k·b_k)

with ``û`` the voxel energy fractions v / E_inc, ``h`` the embedding of the standardized ln E_inc and the
particle, ``φ(u) = ln(1 + u / δ)`` a compression of the deposits, ``s_k = 0.1 / (a_k·b_k)`` a fixed output
scale and ReLU giving exactly empty cells (sparsity). The discriminator sees per-layer features and the
energy terms, as CaloGAN's does::

    D(u, E) = head([f_0(φ(u_0)), …, f_{L−1}(φ(u_{L−1})), e, std_batch(e), h]),
    e = ln([E_0 … E_{L−1}, Σ E_k] / E_inc + 10⁻⁶)

(spectral norm on every layer; ``std_batch`` the minibatch standard deviation of the energy terms, in the
spirit of CaloGAN's minibatch discrimination on energies). Losses (non-saturating GAN, fakes generated at
the batch's incident energies and particles)::

    L_D = softplus(−D(real)) + softplus(D(fake))
    L_G = softplus(−D(fake)) + λ_E |⟨ŝ⟩ − ⟨s⟩| / ⟨s⟩ + λ_inc ⟨ReLU(ŝ − 1)⟩,     s = Σ_i u_i = E_visible / E_inc

the energy-sum constraint (the batch's mean generated response, total over E_inc, matches the real one:
the sampling fraction) and the incident-energy constraint (no shower deposits more than E_inc).
The two parameter groups are ``generator`` and ``discriminator`` (one optimizer each).

Shapes: ``batch["x"]`` (B, V), ``batch["energy"]`` (B,) ln E/GeV, ``batch["layers"]`` (B, L), ``batch["label"]`` (B,).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from jetlab.errors import UsageError
from jetlab.models.generate.generative import Batch, Parts
from jetlab.models.generate.shower_base import ConditionEmbedding, ShowerGenerator
from jetlab.models.registry import InputDims, register_model

__all__ = ["LayerGenerator", "CaloGANGenerator", "CaloGANDiscriminator", "CaloGAN", "calogan"]


def compress(u: Tensor, delta: float) -> Tensor:
    """``φ(u) = ln(1 + u / δ)``: deposits on a log scale, 0 for an empty cell."""
    return torch.log1p(u.clamp(min=0) / delta)


class LayerGenerator(nn.Module):
    """``G_k``: noise (B, Z), condition (B, H) and the previous layer (B, n_{k−1}) or None → fractions (B, n_k)."""

    def __init__(self, n_in: int, n_prev: int, prev: int, hidden: int, n_out: int, delta: float) -> None:
        super().__init__()
        self.delta, self.scale = delta, 0.1 / n_out
        self.prev = nn.Linear(n_prev, prev) if n_prev else None
        width = n_in + (prev if n_prev else 0)
        self.net = nn.Sequential(nn.Linear(width, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden),
                                 nn.LeakyReLU(0.2), nn.Linear(hidden, n_out))

    def forward(self, z: Tensor, h: Tensor, previous: Tensor | None) -> Tensor:
        parts = [z, h]
        if self.prev is not None and previous is not None:
            parts.append(self.prev(compress(previous, self.delta)))  # (B, prev) layer-to-layer conditioning
        return self.scale * F.relu(self.net(torch.cat(parts, dim=1)))  # (B, n_k)


class CaloGANGenerator(nn.Module):
    """The chain of :class:`LayerGenerator` (one per layer) with its own condition embedding."""

    def __init__(self, n_classes: int, sizes: list[int], latent: int, cond: int, prev: int, hidden: int,
                 delta: float) -> None:
        super().__init__()
        self.latent = latent
        self.embed = ConditionEmbedding(n_classes, cond)
        self.layers = nn.ModuleList(LayerGenerator(latent + cond, sizes[k - 1] if k else 0, prev, hidden, n, delta)
                                    for k, n in enumerate(sizes))

    def forward(self, z: Tensor, c: Tensor, labels: Tensor) -> Tensor:
        h = self.embed(c, labels)  # (B, H)
        out: list[Tensor] = []
        for g in self.layers:
            out.append(g(z, h, out[-1] if out else None))  # (B, n_k)
        return torch.cat(out, dim=1)  # (B, V)


def _sn_mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(spectral_norm(nn.Linear(n_in, hidden)), nn.LeakyReLU(0.2),
                         spectral_norm(nn.Linear(hidden, n_out)), nn.LeakyReLU(0.2))


class CaloGANDiscriminator(nn.Module):
    """Per-layer features, energy terms and their minibatch spread, condition → logit (B,)."""

    def __init__(self, n_classes: int, sizes: list[int], cond: int, hidden: int, features: int, delta: float) -> None:
        super().__init__()
        self.sizes, self.delta = sizes, delta
        self.embed = ConditionEmbedding(n_classes, cond)
        self.per_layer = nn.ModuleList(_sn_mlp(n, hidden, features) for n in sizes)
        n_energy = len(sizes) + 1
        self.head = nn.Sequential(_sn_mlp(len(sizes) * features + 2 * n_energy + cond, hidden, hidden),
                                  spectral_norm(nn.Linear(hidden, 1)))

    def forward(self, u: Tensor, c: Tensor, labels: Tensor) -> Tensor:
        layers = torch.split(u, self.sizes, dim=1)
        feats = [f(compress(x, self.delta)) for f, x in zip(self.per_layer, layers)]  # (B, F) each
        sums = torch.stack([x.sum(dim=1) for x in layers], dim=1)  # (B, L) layer fractions
        e = torch.log(torch.cat([sums, sums.sum(dim=1, keepdim=True)], dim=1).clamp(min=0) + 1e-6)  # (B, L + 1)
        spread = e.std(dim=0, keepdim=True).expand_as(e) if e.shape[0] > 1 else torch.zeros_like(e)
        return self.head(torch.cat([*feats, e, spread, self.embed(c, labels)], dim=1)).squeeze(-1)  # (B,)


class CaloGAN(ShowerGenerator):
    """CaloGAN conditioned on E_inc and the particle; see the module docstring for the equations.

    Arguments:
        latent, cond, prev, hidden: noise size, condition width, width of the previous-layer input, generator width.
        disc_hidden, disc_features: discriminator width and per-layer feature size.
        delta: δ of the deposit compression φ (energy fraction).
        energy_weight, incident_weight: λ_E and λ_inc of the generator's energy terms.

    Example:
        >>> m = CaloGAN(3, {})
        >>> m.sample(2, torch.tensor([0, 1]), energy=torch.tensor([10.0, 50.0]))["x"].shape
        torch.Size([2, 504])
    """

    def __init__(self, n_classes: int, extra: Mapping[str, Any], latent: int = 32, cond: int = 16, prev: int = 32,
                 hidden: int = 128, disc_hidden: int = 64, disc_features: int = 32, delta: float = 1e-4,
                 energy_weight: float = 1.0, incident_weight: float = 1.0) -> None:
        super().__init__(n_classes, extra)
        if min(latent, cond, prev, hidden, disc_hidden, disc_features) < 1 or delta <= 0:
            raise UsageError("calogan: sizes must be >= 1 and delta > 0")
        self.energy_weight, self.incident_weight = float(energy_weight), float(incident_weight)
        self.generator = CaloGANGenerator(n_classes, self.layer_sizes, latent, cond, prev, hidden, delta)
        self.discriminator = CaloGANDiscriminator(n_classes, self.layer_sizes, cond, disc_hidden, disc_features, delta)

    def generate(self, ln_e: Tensor, labels: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Fake energy fractions (B, V) at ln E (B,) for particles (B,)."""
        z = self.noise((ln_e.shape[0], self.generator.latent), generator, ln_e)  # (B, Z)
        return self.generator(z, self.condition(ln_e), labels)  # (B, V)

    def discriminator_loss(self, batch: Batch) -> Parts:
        ln_e, labels, c = batch["energy"], batch["label"], self.condition(batch["energy"])
        real = self.fractions(batch["x"])  # (B, V)
        with torch.no_grad():
            fake = self.generate(ln_e, labels)  # (B, V)
        d_real, d_fake = self.discriminator(real, c, labels), self.discriminator(fake, c, labels)  # (B,)
        loss_real, loss_fake = F.softplus(-d_real).mean(), F.softplus(d_fake).mean()
        return loss_real + loss_fake, {"d_real": loss_real, "d_fake": loss_fake}

    def generator_loss(self, batch: Batch) -> Parts:
        ln_e, labels = batch["energy"], batch["label"]
        fake = self.generate(ln_e, labels)  # (B, V)
        adversarial = F.softplus(-self.discriminator(fake, self.condition(ln_e), labels)).mean()
        s_fake, s_real = fake.sum(dim=1), batch["layers"].sum(dim=1)  # (B,) total / E_inc
        energy = (s_fake.mean() - s_real.mean()).abs() / s_real.mean().clamp(min=1e-6)
        incident = F.relu(s_fake - 1.0).mean()
        total = adversarial + self.energy_weight * energy + self.incident_weight * incident
        return total, {"g": adversarial, "energy_sum": energy, "incident": incident}

    @torch.no_grad()
    def sample(self, n: int, labels: Tensor, generator: torch.Generator | None = None,
               energy: Tensor | float | None = None) -> dict[str, Tensor]:
        ln_e = self.sample_log_energy(n, energy, generator, self.generator.embed.particle.weight)  # (n,)
        u = self.generate(ln_e, labels, generator)  # (n, V)
        return self.output(u * (1000.0 * torch.exp(ln_e)).unsqueeze(1), ln_e)


@register_model("calogan",
                recipe={"representation": {"voxel_transform": "fraction"}, "optim": {"lr": 0.0002, "scheduler": "none"},
                        "trainer": {"epochs": 50, "batch_size": 128}},
                family="generative", representation="voxels", task="generate", paper="arXiv:1705.02355",
                latent=32, cond=16, prev=32, hidden=128, disc_hidden=64, disc_features=32, delta=1e-4,
                energy_weight=1.0, incident_weight=1.0)
def calogan(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """CaloGAN: per-layer generators chained layer to layer, energy-sum and E_inc terms, per-layer discriminator."""
    return CaloGAN(n_classes, dims.extra, **hp)
