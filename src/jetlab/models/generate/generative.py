"""Generative models of jets: the :class:`Generator` API, a set VAE (``vae_gen``) and a conditional flow (``flow``).

Every generator is conditional on the jet class (``batch["label"]`` (B,), 0..n_classes−1) and has one
uniform API the generative task relies on::

    total, parts = model.training_loss(batch)       # likelihood / score models: scalar to minimize + parts
    out = model.sample(n, labels, generator=g)      # {"x": (n, P, F), "mask": (n, P)} or {"x": (n, H)}
    model.kind                                      # "cloud" (particles) or "hlf" (tabular per-jet features)

The GAN (:mod:`jetlab.models.generate.set_gan`) has ``generator_loss`` / ``discriminator_loss`` instead of
``training_loss``; the flow-matching model is in :mod:`jetlab.models.generate.flow_matching`.

Particle clouds (:class:`CloudGenerator`) follow the batch contract of :mod:`jetlab.data.batches`:
``x`` (B, P, F) zero-padded, ``mask`` (B, P) bool, True = real particle, real particles first. Two
statistics are learned from the data, not by gradient descent, and saved with the model as buffers:

* ``multiplicity`` (n_classes, P + 1): counts of jets with n real particles, per class. A sampled jet
  draws its n from its class's row (or, for a class never seen, from all classes; with no data at all,
  uniformly from 1..P) and gets ``mask = [True] * n + [False] * (P − n)``.
* ``feature_sum``, ``feature_sq``, ``feature_count``: Σx, Σx², N over real particles, giving the per-feature
  mean and standard deviation with which the networks see standardized particles.

Both are updated by :meth:`CloudGenerator.observe` (a no-op in evaluation mode), which ``training_loss``
(and the GAN's ``discriminator_loss``) call on every training batch; call ``observe`` yourself to set them
from data without training.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
import zuko
from torch import Tensor, nn

from jetlab.errors import UsageError
from jetlab.models.layers import dense_stack, masked_mean
from jetlab.models.registry import InputDims, register_model

__all__ = ["Generator", "CloudGenerator", "masked_chamfer", "SetVAE", "HLFFlow", "vae_gen", "flow"]

Batch = dict[str, Any]
Parts = tuple[Tensor, dict[str, Tensor]]


class Generator(nn.Module):
    """Base class of the class-conditional generators (``kind`` "cloud" or "hlf").

    Subclasses implement :meth:`sample` and either :meth:`training_loss` (likelihood and score models) or
    the GAN's pair ``generator_loss`` / ``discriminator_loss``.
    """

    kind: str = "cloud"

    def __init__(self, n_classes: int) -> None:
        super().__init__()
        if n_classes < 1:
            raise UsageError(f"{type(self).__name__}: n_classes must be >= 1, got {n_classes}")
        self.n_classes = int(n_classes)

    def training_loss(self, batch: Batch) -> Parts:
        """``(total, parts)`` for one batch; the GAN uses ``generator_loss``/``discriminator_loss`` instead."""
        raise NotImplementedError(f"{type(self).__name__} has no single training loss")

    def sample(self, n: int, labels: Tensor, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """``n`` jets of classes ``labels`` (n,) long; deterministic given a seeded ``generator``."""
        raise NotImplementedError


class CloudGenerator(Generator):
    """Base class of particle-cloud generators: learned multiplicity and feature standardization.

    Arguments:
        n_classes: number of jet classes to condition on.
        n_features: particle features F (3 for ``("etarel", "phirel", "ptrel")``).
        max_particles: slots P per jet.
    """

    kind = "cloud"
    multiplicity: Tensor
    feature_sum: Tensor
    feature_sq: Tensor
    feature_count: Tensor

    def __init__(self, n_classes: int, n_features: int, max_particles: int) -> None:
        super().__init__(n_classes)
        self.n_features, self.max_particles = int(n_features), int(max_particles)
        self.register_buffer("multiplicity", torch.zeros(n_classes, max_particles + 1))  # counts of n per class
        self.register_buffer("feature_sum", torch.zeros(n_features))
        self.register_buffer("feature_sq", torch.zeros(n_features))
        self.register_buffer("feature_count", torch.zeros(()))

    @torch.no_grad()
    def observe(self, batch: Batch) -> None:
        """Add the batch's multiplicities (per class) and particle feature moments; no-op in eval mode."""
        if not self.training:
            return
        x, mask, labels = batch["x"], batch["mask"], batch["label"]  # (B, P, F), (B, P), (B,)
        counts = mask.sum(dim=1).long()  # (B,)
        flat = labels.long() * (self.max_particles + 1) + counts  # (B,) index into (C, P + 1)
        hist = torch.bincount(flat, minlength=self.multiplicity.numel()).view_as(self.multiplicity)
        self.multiplicity += hist.to(self.multiplicity.dtype)
        real = x[mask].to(self.feature_sum.dtype)  # (M, F)
        self.feature_sum += real.sum(dim=0)
        self.feature_sq += (real**2).sum(dim=0)
        self.feature_count += real.shape[0]

    def feature_stats(self) -> tuple[Tensor, Tensor]:
        """Per-feature mean and standard deviation (F,), (F,) of the observed particles (0 and 1 before any)."""
        n = self.feature_count.clamp(min=1)
        mean = self.feature_sum / n  # (F,)
        std = (self.feature_sq / n - mean**2).clamp(min=0).sqrt()  # (F,)
        if self.feature_count < 2:
            return torch.zeros_like(mean), torch.ones_like(std)
        return mean, std.clamp(min=1e-6)

    def standardize(self, x: Tensor, mask: Tensor) -> Tensor:
        """``(x − μ) / σ`` on real particles, 0 on padded slots: (B, P, F) → (B, P, F)."""
        mean, std = self.feature_stats()
        return (x - mean) / std * mask.unsqueeze(-1)  # (B, P, F)

    def destandardize(self, x: Tensor, mask: Tensor) -> Tensor:
        """``μ + σ x`` on real particles, exactly 0 on padded slots: (B, P, F) → (B, P, F)."""
        mean, std = self.feature_stats()
        return (x * std + mean) * mask.unsqueeze(-1)  # (B, P, F)

    def sample_mask(self, labels: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Masks (n, P) bool with n real particles first, n drawn from the class's observed multiplicities."""
        probs = self.multiplicity[labels.long()].clone()  # (n, P + 1)
        probs[:, 0] = 0  # at least one particle per generated jet
        unseen = probs.sum(dim=1) == 0  # (n,) classes never observed
        pooled = self.multiplicity.sum(dim=0)  # (P + 1,)
        pooled[0] = 0
        if pooled.sum() == 0:
            pooled[1:] = 1  # nothing observed: uniform over 1..P
        probs[unseen] = pooled
        n_real = torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(1).to(labels.device)  # (n,)
        slots = torch.arange(self.max_particles, device=labels.device)  # (P,)
        return slots.unsqueeze(0) < n_real.unsqueeze(1)  # (n, P)

    def noise(self, shape: Sequence[int], generator: torch.Generator | None, like: Tensor) -> Tensor:
        """Standard normal noise of ``shape``, drawn on the CPU from ``generator`` (reproducible on any device)."""
        return torch.randn(*shape, generator=generator).to(device=like.device, dtype=like.dtype)


def masked_chamfer(recon: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Chamfer distance (Fan et al., arXiv:1612.00603) between two sets sharing one mask.

    ``d = (1/n) Σ_{x real} min_{y real} ‖x − y‖² + (1/n) Σ_{y real} min_{x real} ‖x − y‖²`` per jet, with
    the real slots of both ``recon`` and ``target`` given by ``mask``.

    Shapes:
        recon (B, P, F), target (B, P, F), mask (B, P) bool, True = real → (B,).
    """
    d = torch.cdist(recon, target) ** 2  # (B, P, P)
    pair = mask.unsqueeze(2) & mask.unsqueeze(1)  # (B, P, P)
    d = d.masked_fill(~pair, float("inf"))
    to_target = d.min(dim=2).values.nan_to_num(posinf=0.0)  # (B, P) each decoded to nearest real
    to_recon = d.min(dim=1).values.nan_to_num(posinf=0.0)  # (B, P) each real to nearest decoded
    return (masked_mean(to_target.unsqueeze(-1), mask) + masked_mean(to_recon.unsqueeze(-1), mask)).squeeze(-1)


class SetVAE(CloudGenerator):
    """Class-conditional set VAE for particle clouds (VAE: arXiv:1312.6114; Deep Sets encoder: arXiv:1703.06114).

    Encoder (permutation-invariant): ``h = mean_{i real} φ(x̃_i)``, ``(μ, log σ²) = W [h, e_c]`` with
    ``x̃`` the standardized particles and ``e_c`` a learned class embedding. Decoder: ``[z, e_c, n/P]`` →
    dense stack → P slots of F features; the first n slots are the jet. Loss per jet::

        recon = d(x̂_{1..n}, x̃_{1..n})        (masked Chamfer, or masked MSE on the ordered slots)
        KL = ½ Σ_d (μ² + σ² − 1 − log σ²)      total = mean(recon + β · KL)

    Sampling: ``z ~ N(0, 1)``, n from the class's multiplicity (see :class:`CloudGenerator`).

    Shapes:
        ``batch["x"]`` (B, P, F), ``batch["mask"]`` (B, P) bool, True = real, ``batch["label"]`` (B,).

    Example:
        >>> m = SetVAE(5, 3, 30)
        >>> out = m.sample(4, torch.zeros(4, dtype=torch.long))
        >>> out["x"].shape, out["mask"].shape
        (torch.Size([4, 30, 3]), torch.Size([4, 30]))
    """

    def __init__(self, n_classes: int, n_features: int, max_particles: int, phi: Sequence[int] = (64, 64),
                 decoder: Sequence[int] = (128, 128), latent: int = 16, embed: int = 8, beta: float = 0.01,
                 recon: str = "chamfer", activation: str = "gelu") -> None:
        super().__init__(n_classes, n_features, max_particles)
        if recon not in ("chamfer", "mse") or latent < 1 or beta < 0:
            raise UsageError(f"vae_gen: recon in ('chamfer', 'mse'), latent >= 1, beta >= 0 required "
                             f"(got {recon!r}, {latent}, {beta})")
        self.recon, self.beta, self.latent = recon, float(beta), int(latent)
        self.embed = nn.Embedding(n_classes, embed)
        self.phi, width = dense_stack(n_features, phi, activation)
        self.to_stats = nn.Linear(width + embed, 2 * latent)
        body, width = dense_stack(latent + embed + 1, decoder, activation)
        self.decoder = nn.Sequential(*body, nn.Linear(width, max_particles * n_features))

    def encode(self, x: Tensor, mask: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """(μ, log σ²), each (B, d), from standardized particles x (B, P, F)."""
        h = masked_mean(self.phi(x), mask)  # (B, C)
        mu, logvar = self.to_stats(torch.cat([h, self.embed(labels)], dim=1)).chunk(2, dim=1)  # (B, d) each
        return mu, logvar.clamp(-10, 10)

    def decode(self, z: Tensor, labels: Tensor, mask: Tensor) -> Tensor:
        """Standardized particles (B, P, F), padded slots 0, from z (B, d), labels (B,), mask (B, P)."""
        frac = mask.sum(dim=1, keepdim=True).to(z.dtype) / self.max_particles  # (B, 1)
        out = self.decoder(torch.cat([z, self.embed(labels), frac], dim=1))  # (B, P·F)
        return out.view(-1, self.max_particles, self.n_features) * mask.unsqueeze(-1)  # (B, P, F)

    def training_loss(self, batch: Batch) -> Parts:
        self.observe(batch)
        mask, labels = batch["mask"], batch["label"]  # (B, P), (B,)
        x = self.standardize(batch["x"], mask)  # (B, P, F)
        mu, logvar = self.encode(x, mask, labels)  # (B, d), (B, d)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)  # (B, d)
        recon = self.decode(z, labels, mask)  # (B, P, F)
        if self.recon == "chamfer":
            rec = masked_chamfer(recon, x, mask)  # (B,)
        else:
            rec = masked_mean(((recon - x) ** 2).mean(dim=2, keepdim=True), mask).squeeze(-1)  # (B,)
        kl = 0.5 * (mu**2 + logvar.exp() - 1.0 - logvar).sum(dim=1)  # (B,)
        rec, kl = rec.mean(), kl.mean()
        return rec + self.beta * kl, {"recon": rec, "kl": kl}

    @torch.no_grad()
    def sample(self, n: int, labels: Tensor, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        mask = self.sample_mask(labels, generator)  # (n, P)
        z = self.noise((n, self.latent), generator, like=self.embed.weight)  # (n, d)
        return {"x": self.destandardize(self.decode(z, labels, mask), mask), "mask": mask}


class HLFFlow(Generator):
    """Class-conditional normalizing flow on tabular per-jet features (HLF, or any per-jet quantities).

    ``x = f_c^{-1}(u)``, ``u ~ N(0, 1_H)``, with ``f_c`` a zuko neural spline flow (Durkan et al.,
    arXiv:1906.04032) or masked autoregressive flow (Papamakarios et al., arXiv:1705.07057) whose
    context is the one-hot class ``c``. Loss: ``−log p(x | c) = −log N(f_c(x)) − log |det ∂f_c/∂x|``,
    averaged over the batch (nats per jet).

    Shapes:
        ``batch["x"]`` (B, H) standardized features, ``batch["label"]`` (B,) → ``sample`` gives ``{"x": (n, H)}``.

    Example:
        >>> m = HLFFlow(5, 16)
        >>> m.sample(3, torch.tensor([0, 1, 2]))["x"].shape
        torch.Size([3, 16])
    """

    kind = "hlf"

    def __init__(self, n_classes: int, n_features: int, transform: str = "nsf", transforms: int = 3,
                 hidden: Sequence[int] = (64, 64), bins: int = 8) -> None:
        super().__init__(n_classes)
        self.n_features = int(n_features)
        if transform == "nsf":
            self.flow: zuko.flows.Flow = zuko.flows.NSF(n_features, n_classes, bins=bins, transforms=transforms,
                                                       hidden_features=tuple(hidden))
        elif transform == "maf":
            self.flow = zuko.flows.MAF(n_features, n_classes, transforms=transforms, hidden_features=tuple(hidden))
        else:
            raise UsageError(f"flow: transform must be 'nsf' or 'maf', got {transform!r}")

    def context(self, labels: Tensor) -> Tensor:
        """One-hot class context (B, n_classes)."""
        return F.one_hot(labels.long(), self.n_classes).float()

    def training_loss(self, batch: Batch) -> Parts:
        nll = -self.flow(self.context(batch["label"])).log_prob(batch["x"]).mean()  # ()
        return nll, {"nll": nll}

    @torch.no_grad()
    def sample(self, n: int, labels: Tensor, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        dist = self.flow(self.context(labels))  # batch shape (n,)
        u = torch.randn(n, self.n_features, generator=generator).to(labels.device)  # (n, H)
        return {"x": dist.transform.inv(u)}  # (n, H)


# Generator of particle clouds: the 30 hardest constituents as (Δη, Δφ, pT/pT_jet), JetNet-style.
@register_model("vae_gen",
                recipe={"representation": {"features": ("etarel", "phirel", "ptrel"), "max_particles": 30},
                        "optim": {"lr": 0.001, "scheduler": "none"},
                        "trainer": {"epochs": 30, "batch_size": 256}},
                family="generative", representation="particles", task="generate",
                paper="arXiv:1312.6114", phi=(64, 64), decoder=(128, 128), latent=16, embed=8, beta=0.01,
                recon="chamfer", activation="gelu")
def vae_gen(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """Class-conditional set VAE on particle clouds: Deep Sets encoder, dense decoder, Chamfer loss."""
    return SetVAE(n_classes, dims.particle_features, dims.max_particles, **hp)


# Normalizing flow on the standardized high-level features, conditional on the class.
@register_model("flow",
                recipe={"optim": {"lr": 0.001, "scheduler": "plateau"}, "trainer": {"epochs": 30, "batch_size": 256}},
                family="generative", representation="hlf", task="generate", paper="arXiv:1906.04032",
                transform="nsf", transforms=3, hidden=(64, 64), bins=8)
def flow(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """Class-conditional neural spline flow (zuko; or MAF) on high-level features; loss −log p(x | c)."""
    return HLFFlow(n_classes, dims.hlf, **hp)
