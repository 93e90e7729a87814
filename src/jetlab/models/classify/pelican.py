"""PELICAN: permutation-equivariant layers on the matrix of pairwise Minkowski products.

The only kinematic input is ``d_ij = <p_i, p_j>``, which every Lorentz transformation leaves unchanged;
every layer commutes with a relabelling of the particles, and the jet-level readout is symmetric.
Mask convention: ``mask`` (B, P) bool, True = real particle; all aggregations are means over real
particles and pair entries with a padded index are 0 after every layer.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from jetlab.errors import UsageError
from jetlab.models.layers import make_activation, trim_padding
from jetlab.models.minkowski import append_beams, pair_dots
from jetlab.models.registry import InputDims, register_model

__all__ = ["PowerEmbedding", "Eq2to2", "Pelican", "pelican"]

N_REF = 16.0  # reference multiplicity of the aggregation weights (N / N_REF)^α


class PowerEmbedding(nn.Module):
    """``e_k(d) = sign(d) ((1 + |d|)^{α_k} - 1) / α_k`` with learnable ``α_k ∈ (0, 1)`` (α → 0: ``ψ(d)``).

    Shapes: d (...) → (..., K).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        alpha = torch.linspace(0.05, 0.8, channels)  # from log-like to square-root-like
        self.logit_alpha = nn.Parameter(torch.log(alpha / (1 - alpha)))  # (K,)

    def forward(self, d: Tensor) -> Tensor:
        alpha = torch.sigmoid(self.logit_alpha).to(d.dtype)  # (K,)
        log = torch.log1p(d.abs()).unsqueeze(-1)  # (..., 1)
        return torch.sign(d).unsqueeze(-1) * torch.expm1(alpha * log) / alpha  # (..., K)


class Eq2to2(nn.Module):
    """The 15-element basis of linear permutation-equivariant maps on rank-2 tensors (Maron et al.,
    arXiv:1812.09902), with mean aggregation over real particles as in PELICAN (arXiv:2211.00454)::

        T'_ij = W₁T_ij + W₂T_ji + Σ_{a∈A} (U_a a_i + V_a a_j) + Σ_{c∈C} W_c c
                + δ_ij (Σ_{a∈A} D_a a_i + Σ_{c∈C} E_c c) + b + δ_ij b_diag

    with ``A = {row means r_i = ⟨T_ij⟩_j, column means c_i = ⟨T_ji⟩_j, diagonal T_ii}`` and ``C = {⟨T_ij⟩_ij,
    ⟨T_ii⟩_i}``. Each mean is multiplied by ``(N / 16)^{α_c}`` (learnable per channel, 0 at start) so that
    the multiplicity N of real particles stays visible.

    Shapes:
        T (B, P, P, C), mask (B, P) bool, True = real → (B, P, P, C'), 0 wherever i or j is padding.
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.full = nn.Linear(c_in, c_out)  # W₁, b
        self.transposed = nn.Linear(c_in, c_out, bias=False)  # W₂
        self.line_i = nn.Linear(3 * c_in, c_out, bias=False)  # U
        self.line_j = nn.Linear(3 * c_in, c_out, bias=False)  # V
        self.const = nn.Linear(2 * c_in, c_out, bias=False)  # W_c
        self.diag = nn.Linear(5 * c_in, c_out)  # D, E, b_diag
        self.alpha = nn.Parameter(torch.zeros(c_in))  # (C,)

    def forward(self, t: Tensor, mask: Tensor) -> Tensor:
        m = mask.to(t.dtype)  # (B, P)
        pair = (m[:, :, None] * m[:, None, :]).unsqueeze(-1)  # (B, P, P, 1)
        n = m.sum(dim=1).clamp(min=1)[:, None, None]  # (B, 1, 1)
        weight = torch.exp(self.alpha * torch.log(n / N_REF))  # (B, 1, C)
        t = t * pair  # (B, P, P, C)
        diag = torch.diagonal(t, dim1=1, dim2=2).transpose(1, 2)  # (B, P, C)
        rows, cols = t.sum(dim=2) / n, t.sum(dim=1) / n  # (B, P, C) each
        total = rows.sum(dim=1, keepdim=True) / n  # (B, 1, C)
        trace = diag.sum(dim=1, keepdim=True) / n  # (B, 1, C)
        lines = torch.cat([rows * weight, cols * weight, diag], dim=-1)  # (B, P, 3C)
        consts = torch.cat([total, trace], dim=-1) * weight.repeat(1, 1, 2)  # (B, 1, 2C)
        out = (self.full(t) + self.transposed(t).transpose(1, 2)  # (B, P, P, C')
               + self.line_i(lines)[:, :, None] + self.line_j(lines)[:, None, :]
               + self.const(consts)[:, :, None])
        on_diag = self.diag(torch.cat([lines, consts.expand(-1, t.shape[1], -1)], dim=-1))  # (B, P, C')
        out = out + torch.diag_embed(on_diag.transpose(1, 2)).permute(0, 2, 3, 1)  # (B, P, P, C')
        return out * pair


class Pelican(nn.Module):
    """PELICAN (Bogatskiy et al., arXiv:2211.00454): ``logits = MLP(Eq2to0(L ∘ … ∘ L(E(d))))``.

    ``d_ij = <p_i, p_j> / scale²`` (Minkowski, (+,-,-,-)); ``E`` the elementwise :class:`PowerEmbedding`
    (``embed`` channels), plus a linear embedding of the particle scalars (charge, particle-ID one-hot)
    added on the diagonal; each layer ``L(T) = act(Eq2to2(T))`` (the paper puts an extra elementwise
    message MLP before each :class:`Eq2to2`, left out here to cut the per-pair cost on CPU); the readout
    ``Eq2to0`` is the (N/16)^α-weighted means of all entries and of the diagonal, then an MLP.
    ``beams=True`` appends the two beams of :func:`~jetlab.models.minkowski.append_beams` (flagged by an
    extra scalar): invariance is then only under rotations about and boosts along z.
    ``scale`` = 1 GeV by default: with 100 GeV the in-jet products fall below 1, where the power
    embedding (1 + |d|)^a is nearly constant (test AUC 0.63 after 1 epoch against 0.90 after 3 here).

    Shapes:
        ``batch["p4"]`` (B, P, 4) (E, px, py, pz) GeV, ``batch["scalars"]`` (B, P, S), ``batch["mask"]``
        (B, P) bool, True = real particle → logits (B, n_classes).

    Example:
        >>> m = Pelican(n_scalars=0, n_classes=2).eval()
        >>> p4 = torch.tensor([[[100.0, 0.0, 0.0, 100.0], [50.0, 0.0, 30.0, 40.0], [0.0, 0.0, 0.0, 0.0]]])
        >>> m({"p4": p4, "scalars": torch.zeros(1, 3, 0), "mask": torch.tensor([[True, True, False]])}).shape
        torch.Size([1, 2])
    """

    def __init__(self, n_scalars: int, n_classes: int, embed: int = 8, width: int = 16, n_layers: int = 3,
                 decoder: int = 32, scale: float = 1.0, activation: str = "leaky_relu", dropout: float = 0.0,
                 beams: bool = False) -> None:
        super().__init__()
        if n_layers < 1 or scale <= 0:
            raise UsageError(f"pelican: n_layers >= 1 and scale > 0 required (got {n_layers}, {scale})")
        self.scale, self.beams = scale, beams
        self.embed = PowerEmbedding(embed)
        n_in = n_scalars + int(beams)
        self.embed_scalars = nn.Linear(n_in, embed, bias=False) if n_in else None
        self.layers = nn.ModuleList(Eq2to2(embed if k == 0 else width, width) for k in range(n_layers))
        self.act = make_activation(activation)
        self.readout_alpha = nn.Parameter(torch.zeros(width))  # (C,)
        self.decoder = nn.Sequential(nn.Linear(2 * width, decoder), make_activation(activation), nn.Dropout(dropout),
                                     nn.Linear(decoder, n_classes))

    def forward(self, batch: dict[str, Any]) -> Tensor:
        mask, p4, scalars = trim_padding(batch["mask"], batch["p4"], batch["scalars"])  # (B, P), (B, P, 4), (B, P, S)
        if self.beams:
            p4, scalars, mask = append_beams(p4, scalars, mask)  # (B, P+2, 4), (B, P+2, S+1), (B, P+2)
        dtype = self.decoder[0].weight.dtype
        t = self.embed(pair_dots(p4.to(dtype) / self.scale))  # (B, P, P, K)
        if self.embed_scalars is not None:
            t = t + torch.diag_embed(self.embed_scalars(scalars.to(dtype)).transpose(1, 2)).permute(0, 2, 3, 1)
        for layer in self.layers:
            t = self.act(layer(t, mask))  # (B, P, P, C), 0 unless i and j are real
        return self.decoder(self._readout(t, mask))  # (B, n_classes)

    def _readout(self, t: Tensor, mask: Tensor) -> Tensor:
        """Eq2to0: weighted means over real pairs and over the real diagonal: (B, P, P, C) → (B, 2C)."""
        m = mask.to(t.dtype)  # (B, P)
        n = m.sum(dim=1, keepdim=True).clamp(min=1)  # (B, 1)
        weight = torch.exp(self.readout_alpha * torch.log(n / N_REF))  # (B, C)
        total = t.sum(dim=(1, 2)) / n**2  # (B, C); t is 0 off the real pairs
        trace = torch.diagonal(t, dim1=1, dim2=2).sum(-1) / n  # (B, C)
        return torch.cat([total, trace], dim=-1) * weight.repeat(1, 2)  # (B, 2C)


# PELICAN on the pairwise Minkowski products of the 32 hardest constituents (+ charge/PID on the diagonal).
# The (B, P, P, C) tensors make the cost grow as P²; raise max_particles to 64+ on a GPU.
@register_model("pelican",
                recipe={"representation": {"max_particles": 32},
                        "optim": {"optimizer": "adamw", "lr": 0.002, "weight_decay": 0.0001, "scheduler": "plateau"},
                        "trainer": {"epochs": 20, "batch_size": 128, "patience": 6, "gradient_clip": 1.0}},
                family="lorentz", representation="particles", symmetric=True, paper="arXiv:2211.00454",
                embed=8, width=16, n_layers=3, decoder=32, scale=1.0, activation="leaky_relu", dropout=0.0,
                beams=False)
def pelican(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """PELICAN: permutation-equivariant 2→2 layers on pairwise Minkowski products (3 layers of width 16)."""
    return Pelican(dims.scalars, n_classes, **hp)

