"""``gan``: a class-conditional, permutation-equivariant set GAN for particle clouds (EPiC-GAN, arXiv:2301.08128).

Both networks are stacks of EPiC layers (equivariant point cloud layers): a global vector ``g`` (B, G)
exchanges information with the per-particle vectors ``h_i`` (B, P, L) only through masked pooling, so the
generator is permutation-equivariant and the discriminator permutation-invariant over real particles::

    g' = g + MLP_g([mean_i h_i, Σ_i h_i / P, g])       h_i' = h_i + MLP_h([h_i, g'])

Training uses the non-saturating loss (Goodfellow et al., arXiv:1406.2661)::

    L_D = E_real softplus(−D(x, c)) + E_fake softplus(D(G(z, c), c))        L_G = E_fake softplus(−D(G(z, c), c))

Stabilization: **spectral normalization** (Miyato et al., arXiv:1802.05957) on every linear layer of the
discriminator, chosen over an R1 / gradient penalty because it costs one power iteration per layer and
step (no double back-propagation, which roughly doubles the discriminator step on CPU), is unaffected by
the padded slots, and has no penalty weight to tune. Class conditioning: the class embedding is added to
the generator's global vector, and the discriminator is a projection discriminator (Miyato & Koyama,
arXiv:1802.05637): ``D(x, c) = ψ(g_x) + ⟨e_c, g_x⟩``.

Mask convention: ``mask`` (B, P) bool, True = real particle; fake jets get the real batch's mask in
training (so multiplicity is not something D can use), and in sampling a mask drawn from the learned
per-class multiplicity (see :class:`jetlab.models.generate.generative.CloudGenerator`; ``discriminator_loss`` calls
``observe``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from jetlab.errors import UsageError
from jetlab.models.generate.generative import Batch, CloudGenerator, Parts
from jetlab.models.layers import masked_mean, masked_sum
from jetlab.models.registry import InputDims, register_model

__all__ = ["EPiCLayer", "EPiCGenerator", "EPiCDiscriminator", "SetGAN", "gan"]


def _linear(n_in: int, n_out: int, sn: bool) -> nn.Module:
    layer = nn.Linear(n_in, n_out)
    return spectral_norm(layer) if sn else layer


def _mlp2(n_in: int, hidden: int, n_out: int, sn: bool) -> nn.Sequential:
    return nn.Sequential(_linear(n_in, hidden, sn), nn.LeakyReLU(0.1), _linear(hidden, n_out, sn))


class EPiCLayer(nn.Module):
    """One EPiC layer (Buhmann, Kasieczka, Thaler, arXiv:2301.08128), residual in both g and h.

    Shapes:
        h (B, P, L), g (B, G), mask (B, P) bool, True = real → (h', g'); h' padded slots are 0.
    """

    def __init__(self, local: int, glob: int, hidden: int, sn: bool = False) -> None:
        super().__init__()
        self.global_mlp = _mlp2(2 * local + glob, hidden, glob, sn)
        self.local_mlp = _mlp2(local + glob, hidden, local, sn)

    def forward(self, h: Tensor, g: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        pooled = torch.cat([masked_mean(h, mask), masked_sum(h, mask) / h.shape[1], g], dim=1)  # (B, 2L + G)
        g = g + self.global_mlp(pooled)  # (B, G)
        g_rep = g.unsqueeze(1).expand(-1, h.shape[1], -1)  # (B, P, G)
        h = h + self.local_mlp(torch.cat([h, g_rep], dim=2))  # (B, P, L)
        return h * mask.unsqueeze(-1), g


class EPiCGenerator(nn.Module):
    """Noise per particle ``ε_i`` (B, P, L) and global noise ``z`` (B, G) → standardized particles (B, P, F).

    ``g = W z + e_c + w · n/P``, ``h_i = W' ε_i``, then EPiC layers and a linear map of ``h_i`` to F features.
    """

    def __init__(self, n_classes: int, n_features: int, local: int, glob: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.local, self.glob = local, glob
        self.embed = nn.Embedding(n_classes, glob)
        self.in_local, self.in_global = nn.Linear(local, local), nn.Linear(glob, glob)
        self.in_count = nn.Linear(1, glob)
        self.layers = nn.ModuleList(EPiCLayer(local, glob, hidden) for _ in range(layers))
        self.out = nn.Linear(local, n_features)

    def forward(self, eps: Tensor, z: Tensor, labels: Tensor, mask: Tensor) -> Tensor:
        frac = mask.sum(dim=1, keepdim=True).to(z.dtype) / mask.shape[1]  # (B, 1)
        g = self.in_global(z) + self.embed(labels) + self.in_count(frac)  # (B, G)
        h = self.in_local(eps) * mask.unsqueeze(-1)  # (B, P, L)
        for layer in self.layers:
            h, g = layer(h, g, mask)
        return self.out(h) * mask.unsqueeze(-1)  # (B, P, F)


class EPiCDiscriminator(nn.Module):
    """Standardized particles (B, P, F), labels (B,), mask (B, P) → logit (B,); spectral norm throughout."""

    def __init__(self, n_classes: int, n_features: int, local: int, glob: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.in_local = _linear(n_features, local, True)
        self.in_global = _linear(2 * local + 1, glob, True)
        self.layers = nn.ModuleList(EPiCLayer(local, glob, hidden, sn=True) for _ in range(layers))
        self.head = _mlp2(2 * local + glob, hidden, 1, True)
        self.to_proj = _linear(2 * local + glob, glob, True)
        self.embed = spectral_norm(nn.Embedding(n_classes, glob))

    def forward(self, x: Tensor, labels: Tensor, mask: Tensor) -> Tensor:
        frac = mask.sum(dim=1, keepdim=True).to(x.dtype) / mask.shape[1]  # (B, 1)
        h = self.in_local(x) * mask.unsqueeze(-1)  # (B, P, L)
        g = self.in_global(torch.cat([masked_mean(h, mask), masked_sum(h, mask) / h.shape[1], frac], dim=1))  # (B, G)
        for layer in self.layers:
            h, g = layer(h, g, mask)
        feat = torch.cat([masked_mean(h, mask), masked_sum(h, mask) / h.shape[1], g], dim=1)  # (B, 2L + G)
        proj = (self.embed(labels) * self.to_proj(feat)).sum(dim=1)  # (B,) projection term ⟨e_c, g_x⟩
        return self.head(feat).squeeze(-1) + proj  # (B,)


class SetGAN(CloudGenerator):
    """EPiC-GAN with a projection discriminator and spectral norm; see the module docstring for the equations.

    ``generator`` and ``discriminator`` are the two parameter groups (one optimizer each, manual optimization).

    Shapes:
        ``batch["x"]`` (B, P, F), ``batch["mask"]`` (B, P) bool, True = real, ``batch["label"]`` (B,).

    Example:
        >>> m = SetGAN(5, 3, 30)
        >>> m.sample(2, torch.tensor([0, 4]))["x"].shape
        torch.Size([2, 30, 3])
    """

    def __init__(self, n_classes: int, n_features: int, max_particles: int, local: int = 32, glob: int = 16,
                 hidden: int = 64, layers: int = 3, disc_layers: int = 2) -> None:
        super().__init__(n_classes, n_features, max_particles)
        if min(local, glob, hidden, layers, disc_layers) < 1:
            raise UsageError("gan: local, glob, hidden, layers and disc_layers must all be >= 1")
        self.generator = EPiCGenerator(n_classes, n_features, local, glob, hidden, layers)
        self.discriminator = EPiCDiscriminator(n_classes, n_features, local, glob, hidden, disc_layers)

    def generate(self, labels: Tensor, mask: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Standardized fake particles (B, P, F) for labels (B,) and masks (B, P)."""
        b, p = mask.shape
        like = self.generator.out.weight
        eps = self.noise((b, p, self.generator.local), generator, like)  # (B, P, L)
        z = self.noise((b, self.generator.glob), generator, like)  # (B, G)
        return self.generator(eps, z, labels, mask)  # (B, P, F)

    def discriminator_loss(self, batch: Batch) -> Parts:
        """``L_D``: real jets vs detached fakes with the same labels and masks; updates the statistics."""
        self.observe(batch)
        mask, labels = batch["mask"], batch["label"]  # (B, P), (B,)
        real = self.standardize(batch["x"], mask)  # (B, P, F)
        with torch.no_grad():
            fake = self.generate(labels, mask)  # (B, P, F)
        d_real, d_fake = self.discriminator(real, labels, mask), self.discriminator(fake, labels, mask)  # (B,)
        loss_real, loss_fake = F.softplus(-d_real).mean(), F.softplus(d_fake).mean()
        return loss_real + loss_fake, {"d_real": loss_real, "d_fake": loss_fake}

    def generator_loss(self, batch: Batch) -> Parts:
        """``L_G`` (non-saturating) on fakes with the batch's labels and masks."""
        mask, labels = batch["mask"], batch["label"]
        d_fake = self.discriminator(self.generate(labels, mask), labels, mask)  # (B,)
        loss = F.softplus(-d_fake).mean()
        return loss, {"g": loss}

    @torch.no_grad()
    def sample(self, n: int, labels: Tensor, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        mask = self.sample_mask(labels, generator)  # (n, P)
        return {"x": self.destandardize(self.generate(labels, mask, generator), mask), "mask": mask}


# Generator of particle clouds: the 30 hardest constituents as (Δη, Δφ, pT/pT_jet), JetNet-style.
@register_model("gan",
                recipe={"representation": {"features": ("etarel", "phirel", "ptrel"), "max_particles": 30},
                        "optim": {"lr": 0.0002, "scheduler": "none"},
                        "trainer": {"epochs": 30, "batch_size": 256}},
                family="generative", representation="particles", task="generate", paper="arXiv:2301.08128",
                local=32, glob=16, hidden=64, layers=3, disc_layers=2)
def gan(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """Class-conditional EPiC set GAN; spectral-norm projection discriminator, non-saturating loss."""
    return SetGAN(n_classes, dims.particle_features, dims.max_particles, **hp)
