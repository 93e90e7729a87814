"""``calo_vae``: a conditional variational auto-encoder on the voxels (Kingma & Welling, arXiv:1312.6114).

On the standardized transformed voxels ``x̃ = (x − μ_vox) / σ_vox`` (B, V) and the condition
``h = MLP(c) + e_particle`` (``c`` the standardized ln E_inc)::

    (μ, log σ²) = Enc([x̃, h]),   z = μ + σ ⊙ ε,   x̂ = Dec([z, h])
    L = ( ½ ‖x̂ − x̃‖² + β · ½ Σ_d (μ² + σ² − 1 − log σ²) ) / V      (nats per voxel; β = 1: the ELBO)

Sampling: ``z ~ N(0, 1)``, ``x = μ_vox + σ_vox x̂`` clipped to each voxel's range in the training showers, back to
MeV through the representation's inverse transform. Training inputs are dequantized (``u + ε·U(0, 1)``).

Shapes: ``batch["x"]`` (B, V), ``batch["energy"]`` (B,) ln E/GeV, ``batch["label"]`` (B,).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from jetlab.errors import UsageError
from jetlab.models.generate.generative import Batch, Parts
from jetlab.models.generate.shower_base import ConditionEmbedding, ShowerGenerator
from jetlab.models.layers import dense_stack
from jetlab.models.registry import InputDims, register_model

__all__ = ["CaloVAE", "calo_vae"]


class CaloVAE(ShowerGenerator):
    """Conditional VAE on showers; see the module docstring.

    Arguments:
        hidden: widths of the encoder's hidden layers (the decoder mirrors them).
        latent: size of z. cond: condition width. beta: weight of the KL term.

    Example:
        >>> m = CaloVAE(3, {})
        >>> m.sample(3, torch.tensor([0, 0, 1]), energy=20.0)["x"].shape
        torch.Size([3, 504])
    """

    def __init__(self, n_classes: int, extra: Mapping[str, Any], hidden: Sequence[int] = (256, 128), latent: int = 32,
                 cond: int = 16, beta: float = 1.0, activation: str = "silu") -> None:
        super().__init__(n_classes, extra)
        if latent < 1 or cond < 1 or beta < 0 or not hidden:
            raise UsageError(f"calo_vae: latent, cond >= 1, beta >= 0 and at least one hidden layer required "
                             f"(got {latent}, {cond}, {beta}, {list(hidden)})")
        self.latent, self.beta = int(latent), float(beta)
        self.embed = ConditionEmbedding(n_classes, cond)
        enc, width = dense_stack(self.n_voxels + cond, hidden, activation)
        self.encoder = nn.Sequential(*enc, nn.Linear(width, 2 * latent))
        dec, width = dense_stack(latent + cond, tuple(reversed(tuple(hidden))), activation)
        self.decoder = nn.Sequential(*dec, nn.Linear(width, self.n_voxels))

    def training_loss(self, batch: Batch) -> Parts:
        x = self.inputs(batch)  # (B, V) dequantized, standardized
        h = self.embed(self.condition(batch["energy"]), batch["label"])  # (B, H)
        mu, logvar = self.encoder(torch.cat([x, h], dim=1)).chunk(2, dim=1)  # (B, d) each
        logvar = logvar.clamp(-10, 10)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)  # (B, d)
        recon = 0.5 * ((self.decoder(torch.cat([z, h], dim=1)) - x) ** 2).sum(dim=1).mean()
        kl = 0.5 * (mu**2 + logvar.exp() - 1.0 - logvar).sum(dim=1).mean()
        return (recon + self.beta * kl) / self.n_voxels, {"recon": recon, "kl": kl}

    @torch.no_grad()
    def sample(self, n: int, labels: Tensor, generator: torch.Generator | None = None,
               energy: Tensor | float | None = None) -> dict[str, Tensor]:
        like = self.embed.particle.weight
        ln_e = self.sample_log_energy(n, energy, generator, like)  # (n,)
        h = self.embed(self.condition(ln_e), labels)  # (n, H)
        z = self.noise((n, self.latent), generator, like)  # (n, d)
        return self.generated(self.decoder(torch.cat([z, h], dim=1)), ln_e)  # (n, V) standardized → MeV


@register_model("calo_vae",
                recipe={"representation": {"voxel_transform": "log"}, "optim": {"lr": 0.001, "scheduler": "none"},
                        "trainer": {"epochs": 50, "batch_size": 128}},
                family="generative", representation="voxels", task="generate", paper="arXiv:1312.6114",
                hidden=(256, 128), latent=32, cond=16, beta=1.0, activation="silu")
def calo_vae(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """Conditional VAE on the log-transformed, standardized voxels; condition ln E_inc and the particle."""
    return CaloVAE(n_classes, dims.extra, **hp)
