"""Pairwise particle features as pure torch functions (the ParT interaction inputs).

Particle Transformer (Qu, Li & Qian, arXiv:2202.03772, eq. 3) biases its attention with four
features of every particle pair (a, b)::

    Δ  = sqrt((y_a - y_b)² + (φ_a - φ_b)²)      rapidity y, Δφ wrapped into [-π, π)
    kT = min(pT_a, pT_b) · Δ
    z  = min(pT_a, pT_b) / (pT_a + pT_b)
    m² = (E_a + E_b)² - |p_a + p_b|²

returned as ``ln Δ, ln kT, ln z, ln m²``, each clamped below at ``eps`` before the logarithm.

Convention: ``p4`` (B, P, 4) = (E, px, py, pz) in GeV, ``mask`` (B, P) bool, True = real particle;
padded slots may hold anything. Pairs with a padded particle are exactly 0. The arithmetic runs in
float64 (m² of nearly collinear pairs cancels badly in float32) and the result has ``p4``'s dtype.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["PAIR_FEATURES", "rapidity", "wrap_phi", "pair_mask", "pair_features"]

PAIR_FEATURES: tuple[str, ...] = ("ln_delta", "ln_kt", "ln_z", "ln_m2")


def rapidity(p4: Tensor, eps: float = 1e-8) -> Tensor:
    """y = ½ ln((E + pz) / (E - pz)) of (..., 4) (E, px, py, pz); 0 for an all-zero vector.

    Example:
        >>> round(float(rapidity(torch.tensor([5.0, 0.0, 3.0, 4.0]))), 4)
        1.0986
    """
    e, pz = p4[..., 0], p4[..., 3]  # (...,)
    return 0.5 * (torch.log((e + pz).clamp(min=eps)) - torch.log((e - pz).clamp(min=eps)))  # (...,)


def wrap_phi(dphi: Tensor) -> Tensor:
    """An angle difference wrapped into [-π, π).

    Example:
        >>> round(float(wrap_phi(torch.tensor(2 * math.pi - 0.1))), 4)
        -0.1
    """
    return torch.remainder(dphi + math.pi, 2 * math.pi) - math.pi


def pair_mask(mask: Tensor) -> Tensor:
    """(B, P, P) bool: both particles of the pair are real (``mask`` (B, P), True = real)."""
    return mask[:, :, None] & mask[:, None, :]  # (B, P, P)


def pair_features(p4: Tensor, mask: Tensor, eps: float = 1e-8) -> Tensor:
    """(B, 4, P, P) = ln Δ, ln kT, ln z, ln m² of every pair (a, b); 0 where a or b is padding.

    Arguments:
        p4: (B, P, 4) four-momenta (E, px, py, pz) in GeV.
        mask: (B, P) bool, True = real particle.
        eps: lower clamp of Δ, kT, z, pT_a + pT_b and m² before the logarithm (ParT uses 1e-8).

    Returns:
        (B, 4, P, P) in ``p4``'s dtype, symmetric in (a, b). The diagonal holds the self-pair values
        (Δ = 0, so ln Δ = ln kT = ln eps, ln z = ln ½, m² = 4 m_a²).

    Example:
        >>> p4 = torch.tensor([[[10.0, 10.0, 0.0, 0.0], [5.0, 0.0, 5.0, 0.0], [0.0, 0.0, 0.0, 0.0]]])
        >>> f = pair_features(p4, torch.tensor([[True, True, False]]))
        >>> f.shape, [round(v, 3) for v in f[0, :, 0, 1].tolist()], f[0, :, 0, 2].tolist()
        (torch.Size([1, 4, 3, 3]), [0.452, 2.061, -1.099, 4.605], [0.0, 0.0, 0.0, 0.0])
    """
    q = p4.to(torch.float64)  # (B, P, 4)
    pt = torch.hypot(q[..., 1], q[..., 2])  # (B, P)
    y, phi = rapidity(q, eps), torch.atan2(q[..., 2], q[..., 1])  # (B, P) each
    dy = y[:, :, None] - y[:, None, :]  # (B, P, P)
    dphi = wrap_phi(phi[:, :, None] - phi[:, None, :])  # (B, P, P)
    delta = (dy.square() + dphi.square()).clamp(min=1e-300).sqrt()  # (B, P, P); clamp: finite grad at 0
    ptmin = torch.minimum(pt[:, :, None], pt[:, None, :])  # (B, P, P)
    ptsum = pt[:, :, None] + pt[:, None, :]  # (B, P, P)
    e, p3 = q[..., 0], q[..., 1:]  # (B, P), (B, P, 3)
    m2_single = e.square() - p3.square().sum(-1)  # (B, P)
    dot = e[:, :, None] * e[:, None, :] - torch.bmm(p3, p3.transpose(1, 2))  # (B, P, P) E_a E_b - p_a.p_b
    m2 = m2_single[:, :, None] + m2_single[:, None, :] + 2 * dot  # (B, P, P) (p_a + p_b)^2
    feats = torch.stack(
        [delta, ptmin * delta, ptmin / ptsum.clamp(min=eps), m2], dim=1
    )  # (B, 4, P, P)
    feats = torch.log(feats.clamp(min=eps))  # (B, 4, P, P)
    return torch.where(pair_mask(mask)[:, None], feats, 0.0).to(p4.dtype)  # (B, 4, P, P)
