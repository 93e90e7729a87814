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
:func:`pair_features` fills the dense (B, 4, P, P) matrix; :func:`pair_features_at` computes only the
pairs asked for (ParT's real a > b pairs, ~1/13 of a 128-slot matrix), with the same arithmetic.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["PAIR_FEATURES", "rapidity", "wrap_phi", "pair_mask", "pair_features", "pair_features_at"]

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


_Terms = tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]


def _particle_terms(p4: Tensor, eps: float) -> _Terms:
    """Per particle of (..., 4): pT, y, φ, E, p (…, 3) and m², in float64."""
    q = p4.to(torch.float64)  # (..., 4)
    e, p3 = q[..., 0], q[..., 1:]  # (...,), (..., 3)
    pt = torch.hypot(q[..., 1], q[..., 2])  # (...,)
    return pt, rapidity(q, eps), torch.atan2(q[..., 2], q[..., 1]), e, p3, e.square() - p3.square().sum(-1)


def _pair_terms(a: _Terms, b: _Terms, eps: float) -> Tensor:
    """(..., 4) ln Δ, ln kT, ln z, ln m² of particles ``a`` and ``b`` (broadcasting :func:`_particle_terms`)."""
    pt_a, y_a, phi_a, e_a, p3_a, m2_a = a
    pt_b, y_b, phi_b, e_b, p3_b, m2_b = b
    delta = ((y_a - y_b).square() + wrap_phi(phi_a - phi_b).square()).clamp(min=1e-300).sqrt()  # clamp: finite grad
    ptmin = torch.minimum(pt_a, pt_b)
    m2 = m2_a + m2_b + 2 * (e_a * e_b - (p3_a * p3_b).sum(-1))  # (p_a + p_b)^2
    feats = torch.stack([delta, ptmin * delta, ptmin / (pt_a + pt_b).clamp(min=eps), m2], dim=-1)  # (..., 4)
    return torch.log(feats.clamp(min=eps))


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
    terms = _particle_terms(p4, eps)  # (B, P) each, p (B, P, 3)
    a = tuple(t.unsqueeze(2) for t in terms)  # (B, P, 1[, 3])
    b = tuple(t.unsqueeze(1) for t in terms)  # (B, 1, P[, 3])
    feats = _pair_terms(a, b, eps).permute(0, 3, 1, 2)  # (B, 4, P, P)
    return torch.where(pair_mask(mask)[:, None], feats, 0.0).to(p4.dtype)  # (B, 4, P, P)


def pair_features_at(p4: Tensor, a: Tensor, b: Tensor, eps: float = 1e-8) -> Tensor:
    """(M, 4) = ln Δ, ln kT, ln z, ln m² of the pairs (a_m, b_m) of rows of ``p4`` (N, 4) (E, px, py, pz).

    ``a``, ``b`` (M,) int64 row indices (e.g. ``jet · P + slot`` into (B·P, 4)); equal to
    :func:`pair_features` at those pairs, in ``p4``'s dtype.

    Example:
        >>> p4 = torch.tensor([[10.0, 10.0, 0.0, 0.0], [5.0, 0.0, 5.0, 0.0]])
        >>> [round(v, 3) for v in pair_features_at(p4, torch.tensor([0]), torch.tensor([1]))[0].tolist()]
        [0.452, 2.061, -1.099, 4.605]
    """
    terms = _particle_terms(p4, eps)  # (N,) each, p (N, 3)
    return _pair_terms(tuple(t[a] for t in terms), tuple(t[b] for t in terms), eps).to(p4.dtype)  # (M, 4)
