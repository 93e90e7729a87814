"""``calo_flow``: CaloFlow-style two-flow shower generator (Krause & Shih, arXiv:2106.05285), built on zuko.

Flow 1 learns the layer energies given the incident energy, flow 2 the shape of each layer given all layer
energies; the product is the shower likelihood, as in CaloFlow::

    p(u | E) = p₁(y₁ | E) · p₂(y₂ | y₁, E)
    y₁ = standardize(ln(E_k / E_inc + 10⁻⁸))                                  (B, L)   layer energies
    y₂ = standardize(logit(α + (1 − 2α) û_i)),   û_i = u_i / Σ_{j ∈ layer(i)} u_j   (B, V)   normalized voxels

with ``u`` the voxel energy fractions dequantized by ``u + δ·U(0, 1)`` (CaloFlow adds uniform noise of 1 keV;
here δ = ``noise`` in units of E_inc), α = 10⁻⁶. Both flows are conditioned on the standardized ln E_inc and the
one-hot particle; flow 2 also on y₁. Loss: ``−ln p₁ − ln p₂`` in nats per shower (the constant Jacobian of the
fixed transforms left out). Flow 1 is a neural spline flow (Durkan et al., arXiv:1906.04032) over the L layer
energies; flow 2 a masked autoregressive flow (MAF, arXiv:1705.07057) or NSF with ``passes`` MADE passes
(2: coupling layers, so sampling costs one pass per transform; None: fully autoregressive, V passes).

Sampling: y₁ → E_k; y₂ → û, clamped to [0, 1], each layer renormalized to sum 1; u = û · E_k, fractions
below δ set to 0 (the dequantization level).

Shapes: ``batch["x"]`` (B, V), ``batch["energy"]`` (B,) ln E/GeV, ``batch["layers"]`` (B, L), ``batch["label"]`` (B,).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
import zuko
from torch import Tensor, nn

from jetlab.errors import UsageError
from jetlab.models.generate.generative import Batch, Parts
from jetlab.models.generate.shower_base import RunningMoments, ShowerGenerator
from jetlab.models.registry import InputDims, register_model

__all__ = ["CaloFlow", "calo_flow"]

ALPHA = 1e-6
LAYER_EPS = 1e-8


def _flow(kind: str, features: int, context: int, transforms: int, hidden: Sequence[int], bins: int,
          passes: int | None) -> zuko.flows.Flow:
    common = {"transforms": transforms, "hidden_features": tuple(hidden), "passes": passes}
    if kind == "nsf":
        return zuko.flows.NSF(features, context, bins=bins, **common)
    if kind == "maf":
        return zuko.flows.MAF(features, context, **common)
    raise UsageError(f"calo_flow: flow kind must be 'nsf' or 'maf', got {kind!r}")


class CaloFlow(ShowerGenerator):
    """Flow 1 (layer energies | E) and flow 2 (normalized voxels | layer energies, E); see the module docstring.

    Arguments:
        transforms1, hidden1, bins1: flow 1 (NSF) depth, MADE widths and spline bins.
        flow2, transforms2, hidden2, bins2, passes2: flow 2 kind (``maf`` | ``nsf``), depth, widths, bins, passes.
        noise: dequantization level δ (energy fraction).

    ``voxel_stats`` here standardizes y₂ (the logit voxels), ``layer_stats`` y₁.

    Example:
        >>> m = CaloFlow(3, {})
        >>> out = m.sample(2, torch.tensor([0, 1]), energy=torch.tensor([5.0, 80.0]))
        >>> out["x"].shape, bool((out["x"] >= 0).all())
        (torch.Size([2, 504]), True)
    """

    index: Tensor  # (V,) the layer of each voxel

    def __init__(self, n_classes: int, extra: Mapping[str, Any], transforms1: int = 4,
                 hidden1: Sequence[int] = (64, 64), bins1: int = 8, flow2: str = "maf", transforms2: int = 4,
                 hidden2: Sequence[int] = (128, 128), bins2: int = 8, passes2: int | None = 2,
                 noise: float = 1e-7) -> None:
        super().__init__(n_classes, extra)
        if not 0 < noise < 1e-2:
            raise UsageError(f"calo_flow: noise must be in (0, 0.01), got {noise}")
        self.noise_level = float(noise)
        context = 1 + n_classes
        self.flow1 = _flow("nsf", self.n_layers, context, transforms1, hidden1, bins1, None)
        self.flow2 = _flow(flow2, self.n_voxels, context + self.n_layers, transforms2, hidden2, bins2, passes2)
        self.layer_stats = RunningMoments(self.n_layers)
        index = torch.repeat_interleave(torch.arange(self.n_layers), torch.tensor(self.layer_sizes))  # (V,) layers
        self.register_buffer("index", index, persistent=False)

    def context(self, ln_e: Tensor, labels: Tensor) -> Tensor:
        """[c, one-hot particle] (B, 1 + C)."""
        return torch.cat([self.condition(ln_e), F.one_hot(labels.long(), self.n_classes).float()], dim=1)

    def targets(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """(ln layer fractions (B, L), logit of the normalized voxels (B, V)), dequantized, not standardized."""
        u = self.fractions(batch["x"])  # (B, V)
        u = u + self.noise_level * torch.rand_like(u)  # dequantization
        layers = self.layer_sums(u)  # (B, L)
        u_hat = u / layers[:, self.index]  # (B, V) each layer sums to 1
        return torch.log(layers + LAYER_EPS), torch.logit(ALPHA + (1 - 2 * ALPHA) * u_hat)

    def training_loss(self, batch: Batch) -> Parts:
        e_layers, voxels = self.targets(batch)  # (B, L), (B, V)
        if self.training:
            self.layer_stats.update(e_layers)
            self.voxel_stats.update(voxels)
        y1, y2 = self.layer_stats.standardize(e_layers), self.voxel_stats.standardize(voxels)
        ctx = self.context(batch["energy"], batch["label"])  # (B, 1 + C)
        nll1 = -self.flow1(ctx).log_prob(y1).mean()
        nll2 = -self.flow2(torch.cat([ctx, y1], dim=1)).log_prob(y2).mean()
        return nll1 + nll2, {"nll_layers": nll1, "nll_voxels": nll2}

    @torch.no_grad()
    def sample(self, n: int, labels: Tensor, generator: torch.Generator | None = None,
               energy: Tensor | float | None = None) -> dict[str, Tensor]:
        like = self.layer_stats.total.float()
        ln_e = self.sample_log_energy(n, energy, generator, like)  # (n,)
        ctx = self.context(ln_e, labels)  # (n, 1 + C)
        y1 = self.flow1(ctx).transform.inv(self.noise((n, self.n_layers), generator, like))  # (n, L)
        layers = (torch.exp(self.layer_stats.destandardize(y1)) - LAYER_EPS).clamp(min=0)  # (n, L) fractions
        y2 = self.flow2(torch.cat([ctx, y1], dim=1)).transform.inv(self.noise((n, self.n_voxels), generator, like))
        u_hat = ((torch.sigmoid(self.voxel_stats.destandardize(y2)) - ALPHA) / (1 - 2 * ALPHA)).clamp(0, 1)  # (n, V)
        u_hat = u_hat / self.layer_sums(u_hat).clamp(min=1e-12)[:, self.index]  # each layer sums to 1
        u = u_hat * layers[:, self.index]  # (n, V)
        u = u * (u >= self.noise_level)
        return self.output(u * (1000.0 * torch.exp(ln_e)).unsqueeze(1), ln_e)


@register_model("calo_flow",
                recipe={"optim": {"lr": 0.001, "scheduler": "none"}, "trainer": {"epochs": 50, "batch_size": 128}},
                family="generative", representation="voxels", task="generate", paper="arXiv:2106.05285",
                transforms1=4, hidden1=(64, 64), bins1=8, flow2="maf", transforms2=4, hidden2=(128, 128), bins2=8,
                passes2=2, noise=1e-7)
def calo_flow(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """CaloFlow-style: a spline flow for the layer energies | E_inc, a MAF for the normalized voxels (zuko)."""
    return CaloFlow(n_classes, dims.extra, **hp)
