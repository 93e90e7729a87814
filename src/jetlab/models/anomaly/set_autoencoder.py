"""Set autoencoder on jet constituents (``set_ae``) and the permutation-invariant set distances it is trained with.

A jet is an unordered set of particles, so neither the encoder nor the loss may depend on their order:
the encoder is a Deep Sets / PFN map ``z = W · pool_{i real} φ(x_i)``, and the decoded set is compared with
the real particles by a distance between *sets*: the Chamfer distance (Fan, Su, Guibas, arXiv:1612.00603)
or, optionally, an entropic optimal-transport (Sinkhorn) approximation of the EMD (Cuturi,
arXiv:1306.0895).

Mask convention: ``mask`` (B, P) bool, True = real particle; padded slots never reach a distance or a score.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from jetlab.errors import UsageError
from jetlab.models.anomaly.autoencoders import AutoEncoder, Weights, dense_decoder
from jetlab.models.classify.deepsets import ParticleNorm
from jetlab.models.layers import dense_stack, masked_mean, masked_sum
from jetlab.models.registry import InputDims, register_model

__all__ = ["pairwise_sq_dist", "chamfer_distance", "sinkhorn_distance", "SetAutoEncoder", "set_ae"]


def pairwise_sq_dist(a: Tensor, b: Tensor) -> Tensor:
    """Squared Euclidean distances ``‖a_i − b_j‖²``: a (B, N, F), b (B, P, F) → (B, N, P).

    ``torch.cdist`` without the matrix-product shortcut, so near-equal points give ≈ 0, not a rounding error.
    """
    return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist") ** 2  # (B, N, P)


def chamfer_distance(recon: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Chamfer distance between each decoded set and the real particles of its jet (arXiv:1612.00603).

    With ``Y`` the N decoded particles and ``X`` the n real ones (``mask``)::

        d_CD(Y, X) = (1/n) Σ_{x∈X} min_{y∈Y} ‖x − y‖² + (1/N) Σ_{y∈Y} min_{x∈X} ‖x − y‖²

    (means rather than Fan et al.'s sums, so the scale does not grow with multiplicity). A jet without
    real particles gets 0.

    Shapes:
        recon (B, N, F), target (B, P, F), mask (B, P) bool, True = real → (B,).

    Example:
        >>> x = torch.tensor([[[0.0], [1.0], [9.0]]])             # the last slot is padding
        >>> chamfer_distance(torch.tensor([[[0.0], [3.0]]]), x, torch.tensor([[True, True, False]]))
        tensor([2.5000])
    """
    real = mask.unsqueeze(1)  # (B, 1, P)
    d = pairwise_sq_dist(recon, target)  # (B, N, P)
    to_recon = d.min(dim=1).values  # (B, P): each target particle to its nearest decoded one
    to_target = d.masked_fill(~real, float("inf")).min(dim=2).values  # (B, N): each decoded to its nearest real
    has = mask.any(dim=1)  # (B,)
    to_target = torch.where(has.unsqueeze(1), to_target, torch.zeros_like(to_target))  # (B, N), no inf
    return masked_mean(to_recon.unsqueeze(-1), mask).squeeze(-1) + to_target.mean(dim=1)  # (B,)


def sinkhorn_distance(recon: Tensor, target: Tensor, mask: Tensor, eps: float = 0.1, n_iter: int = 50) -> Tensor:
    """Entropic optimal transport cost ≈ EMD between decoded and real particles (Cuturi, arXiv:1306.0895).

    Uniform masses ``a_j = 1/n`` on the real particles and ``b_i = 1/N`` on the decoded ones, cost
    ``C_ij = ‖y_i − x_j‖²``; ``n_iter`` log-domain Sinkhorn updates of the potentials::

        f_i = −ε log Σ_j a_j exp((g_j − C_ij)/ε)      g_j = −ε log Σ_i b_i exp((f_i − C_ij)/ε)
        π_ij = b_i a_j exp((f_i + g_j − C_ij)/ε)       distance = Σ_ij π_ij C_ij

    It tends to the EMD (optimal assignment for N = n) as ε → 0 (sharper but slower to converge); it is
    differentiable and, like Chamfer, blind to particle order. A jet without real particles gets 0.

    Shapes:
        recon (B, N, F), target (B, P, F), mask (B, P) bool, True = real → (B,).
    """
    c = pairwise_sq_dist(recon, target)  # (B, N, P)
    has = mask.any(dim=1, keepdim=True)  # (B, 1)
    real = mask | ~has  # (B, P): an empty jet uses all slots, to stay finite; its result is zeroed below
    log_a = torch.log(real / real.sum(dim=1, keepdim=True)).unsqueeze(1)  # (B, 1, P), −inf at padding
    log_b = torch.full_like(c[:, :, :1], -math.log(c.shape[1]))  # (B, N, 1), b_i = 1/N
    f, g = torch.zeros_like(c[:, :, 0]), torch.zeros_like(c[:, 0, :])  # (B, N), (B, P)
    for _ in range(n_iter):
        f = -eps * torch.logsumexp((g.unsqueeze(1) - c) / eps + log_a, dim=2)  # (B, N)
        g = -eps * torch.logsumexp((f.unsqueeze(2) - c) / eps + log_b, dim=1)  # (B, P)
    plan = torch.exp((f.unsqueeze(2) + g.unsqueeze(1) - c) / eps + log_a + log_b)  # (B, N, P)
    return (plan * c).sum(dim=(1, 2)) * has.squeeze(1).to(c.dtype)  # (B,)


class SetAutoEncoder(AutoEncoder):
    """Set autoencoder on particles: permutation-invariant encoder, fixed-size decoded set, set loss.

    Encoder (Deep Sets, arXiv:1703.06114; PFN, arXiv:1810.05165)::

        z = W · pool_{i real} φ(norm(x_i))      (B, latent)

    with ``φ`` a per-particle MLP, ``pool`` the masked mean or sum and ``norm`` a masked BatchNorm. The
    decoder is an MLP from ``z`` to ``N_out · F`` numbers, read as ``N_out`` particles ``Y`` (B, N_out, F).
    The loss is the batch mean of the per-jet set distance between ``Y`` and the real particles ``X`` of
    the jet — :func:`chamfer_distance` (default) or :func:`sinkhorn_distance` (``metric="sinkhorn"``).
    ``feature_weights`` ``w`` (F,) weight the feature axes of the distance: ``Σ_f w_f (y_f − x_f)²``.

    Invariances (tested): reordering the real particles, or appending padded slots, leaves ``z``, the
    decoded set and every score unchanged (in evaluation; in training too, since the BatchNorm statistics
    are over real particles only). The decoded set itself has an arbitrary but fixed order.

    Shapes:
        ``batch["x"]`` (B, P, F), ``batch["mask"]`` (B, P) bool, True = real particle → ``recon``
        (B, N_out, F) (N_out ≠ P in general: unlike the other autoencoders, ``recon`` and ``target`` are sets
        of different sizes), ``target`` (B, P, F) = ``batch["x"]``, ``mask`` (B, P), ``z`` (B, latent).

    Example:
        >>> m = SetAutoEncoder(3, n_out=5).eval()
        >>> out = m({"x": torch.zeros(2, 4, 3), "mask": torch.ones(2, 4, dtype=torch.bool)})
        >>> out["recon"].shape, m.scores(out)["chamfer"].shape
        (torch.Size([2, 5, 3]), torch.Size([2]))
    """

    POOLS = {"mean": masked_mean, "sum": masked_sum}
    METRICS = ("chamfer", "sinkhorn")

    def __init__(self, n_features: int, n_out: int = 32, phi: Sequence[int] = (64, 64), latent: int = 16,
                 decoder: Sequence[int] = (64, 128), pool: str = "mean", norm: str = "batch",
                 activation: str = "relu", metric: str = "chamfer", sinkhorn_eps: float = 0.1,
                 sinkhorn_iters: int = 50, feature_weights: Weights = None) -> None:
        super().__init__(feature_weights, (n_features,))
        if pool not in self.POOLS or metric not in self.METRICS or n_out < 1 or latent < 1:
            raise UsageError(f"set_ae: pool in {list(self.POOLS)}, metric in {list(self.METRICS)}, n_out >= 1 "
                             f"and latent >= 1 required (got {pool!r}, {metric!r}, {n_out}, {latent})")
        self.n_out, self.n_features, self.metric = int(n_out), int(n_features), metric
        self.sinkhorn_eps, self.sinkhorn_iters = float(sinkhorn_eps), int(sinkhorn_iters)
        self.score_names = ("sinkhorn", "chamfer") if metric == "sinkhorn" else ("chamfer",)
        self.pool = self.POOLS[pool]
        self.norm = ParticleNorm(norm, n_features)
        self.phi, width = dense_stack(n_features, phi, activation)
        self.to_latent = nn.Linear(width, latent)
        self.decoder = dense_decoder(latent, decoder, self.n_out * self.n_features, activation)

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        x, mask = batch["x"], batch["mask"]  # (B, P, F), (B, P)
        h = self.phi(self.norm(x, mask))  # (B, P, phi[-1])
        z = self.to_latent(self.pool(h, mask))  # (B, latent)
        recon = self.decoder(z).view(-1, self.n_out, self.n_features)  # (B, N_out, F)
        return {"recon": recon, "target": x, "mask": mask, "z": z}

    def scores(self, out: dict[str, Tensor]) -> dict[str, Tensor]:
        """``{"chamfer": (B,)}``, plus ``"sinkhorn"`` (B,) when ``metric="sinkhorn"``."""
        recon, target = out["recon"], out["target"]  # (B, N_out, F), (B, P, F)
        if self.feature_weights is not None:
            scale = self.feature_weights.sqrt()  # (F,)
            recon, target = recon * scale, target * scale  # (B, N_out, F), (B, P, F)
        s = {"chamfer": chamfer_distance(recon, target, out["mask"])}
        if self.metric == "sinkhorn":
            s["sinkhorn"] = sinkhorn_distance(recon, target, out["mask"], self.sinkhorn_eps, self.sinkhorn_iters)
        return s

    def loss(self, out: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        """``(mean set distance, {"recon": it})`` with the distance chosen by ``metric``."""
        recon = self.scores(out)[self.metric].mean()  # ()
        return recon, {"recon": recon}


@register_model("set_ae", family="autoencoder", representation="particles", symmetric=True, task="anomaly",
                paper="arXiv:1612.00603", n_out=32, phi=(64, 64), latent=16, decoder=(64, 128), pool="mean",
                norm="batch", activation="relu", metric="chamfer", sinkhorn_eps=0.1, sinkhorn_iters=50,
                feature_weights=None)
def set_ae(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """Set autoencoder on particles: Deep Sets encoder, N_out decoded particles, Chamfer (or Sinkhorn) loss."""
    return SetAutoEncoder(dims.particle_features, **hp)
