"""Minkowski-space helpers shared by the Lorentz-equivariant taggers (LorentzNet, PELICAN).

Four-vectors are ``(E, px, py, pz)`` in the last dimension; the metric is ``g = diag(+1, -1, -1, -1)``.
All functions are pure and work in any floating dtype. Mask convention: ``mask`` (B, P) bool, True =
real particle; padded four-momenta are exactly 0.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["METRIC", "minkowski_dot", "pair_dots", "psi", "beam_vectors", "append_beams"]

METRIC = (1.0, -1.0, -1.0, -1.0)  # diag(g), signature (+, -, -, -)


def minkowski_dot(a: Tensor, b: Tensor) -> Tensor:
    """``<a, b> = a⁰b⁰ - a·b`` over the last dimension (broadcasting): (..., 4), (..., 4) → (...).

    Example:
        >>> minkowski_dot(torch.tensor([5.0, 1.0, 2.0, 2.0]), torch.tensor([5.0, 1.0, 2.0, 2.0]))
        tensor(16.)
    """
    return a[..., 0] * b[..., 0] - (a[..., 1:] * b[..., 1:]).sum(-1)


def pair_dots(p4: Tensor) -> Tensor:
    """All pairwise Minkowski products ``d_ij = <p_i, p_j>``: (B, P, 4) → (B, P, P); 0 where a slot is padding."""
    g = p4.new_tensor(METRIC)  # (4,)
    return torch.einsum("bid,bjd->bij", p4 * g, p4)  # (B, P, P)


def psi(a: Tensor) -> Tensor:
    """``ψ(a) = sign(a) log(|a| + 1)``: compresses Minkowski products of any scale, odd and smooth at 0.

    Example:
        >>> psi(torch.tensor([-(torch.e - 1), 0.0, torch.e - 1]))
        tensor([-1.,  0.,  1.])
    """
    return torch.sign(a) * torch.log1p(a.abs())


def beam_vectors(p4: Tensor, mask: Tensor, eps: float = 1e-12) -> Tensor:
    """The two beams ``b± = (1, 0, 0, ±1) · sqrt(J·n∓ / J·n±)`` of each jet, with ``J = Σ_{real i} p_i``: (B, 2, 4).

    ``n± = (1, 0, 0, ±1)`` are the light-like beam directions (PELICAN, arXiv:2211.00454). The factor is
    ``n±`` expressed in the frame where the jet has zero longitudinal momentum, so ``<p, b±>`` is unchanged
    by boosts along z (which rescale ``n±`` by ``e^{∓y}``) as well as by rotations about z; ``<J, b±> = m_T(J)``.
    """
    m = mask.unsqueeze(-1).to(p4.dtype)  # (B, P, 1)
    jet = (p4 * m).sum(dim=1)  # (B, 4)
    plus = (jet[:, 0] - jet[:, 3]).clamp(min=eps)  # (B,)  <J, n+> = E - pz
    minus = (jet[:, 0] + jet[:, 3]).clamp(min=eps)  # (B,)  <J, n-> = E + pz
    ratio = torch.sqrt(minus / plus)  # (B,)
    n = p4.new_tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0, -1.0]])  # (2, 4)
    scale = torch.stack([ratio, 1.0 / ratio], dim=1)  # (B, 2)
    return scale.unsqueeze(-1) * n  # (B, 2, 4)


def append_beams(p4: Tensor, scalars: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Append the two :func:`beam_vectors` as real particles, with an extra scalar channel = 1 on beams only.

    Shapes: ``p4`` (B, P, 4), ``scalars`` (B, P, S), ``mask`` (B, P) → (B, P+2, 4), (B, P+2, S+1), (B, P+2).
    """
    b = p4.shape[0]
    beams = beam_vectors(p4, mask)  # (B, 2, 4)
    flag = torch.cat([scalars.new_zeros(*mask.shape, 1), scalars.new_ones(b, 2, 1)], dim=1)  # (B, P+2, 1)
    scalars = torch.cat([scalars, scalars.new_zeros(b, 2, scalars.shape[-1])], dim=1)  # (B, P+2, S)
    mask = torch.cat([mask, mask.new_ones(b, 2)], dim=1)  # (B, P+2)
    return torch.cat([p4, beams], dim=1), torch.cat([scalars, flag], dim=-1), mask
