"""Recurrent networks on pT-ordered constituent sequences: ``gru`` and ``lstm``.

The sequence order carries information (hardest particle first), so these models are not
permutation-symmetric. Padding never enters the recurrence: sequences are packed with
:func:`torch.nn.utils.rnn.pack_padded_sequence` using the real-particle count of each jet, so a padded
batch gives the same outputs as running every jet alone on its real particles. An exported graph runs
unpacked over all slots and reads each jet's state at its last real particle (same outputs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

from jetlab.errors import UsageError
from jetlab.models.layers import dense_stack, exporting
from jetlab.models.registry import InputDims, register_model

__all__ = ["RecurrentTagger", "real_first", "last_hidden", "gru", "lstm"]

_CELLS: dict[str, type[nn.RNNBase]] = {"gru": nn.GRU, "lstm": nn.LSTM}


def real_first(x: Tensor, mask: Tensor) -> Tensor:
    """Move the real particles of each jet to the front, keeping their order; padding goes last.

    A no-op for the batch contract (padding is already at the end); it makes the packing below correct
    for any mask.
    """
    real = mask.long()  # (B, P)
    slot = torch.where(mask, real.cumsum(1), real.sum(1, keepdim=True) + (1 - real).cumsum(1)) - 1  # (B, P) new slot
    return torch.zeros_like(x).scatter(1, slot.unsqueeze(-1).expand_as(x), x)  # (B, P, F)


def last_hidden(rnn: nn.RNNBase, x: Tensor, mask: Tensor) -> Tensor:
    """Final hidden state of the last layer after each jet's last real particle.

    Lengths are the real counts clamped to ≥ 1, so a jet with no real particle reads one all-zero
    (padding) step and gives a finite, fixed output. Bidirectional: the forward state after the last real
    particle and the backward state after the first, concatenated.

    Shapes:
        x (B, P, F), mask (B, P) bool (True = real) → (B, D·H), D = 2 if bidirectional else 1.
    """
    if exporting():  # unpacked: the state after step t sees steps <= t only
        return _unpacked_last_hidden(rnn, real_first(x, mask), mask.sum(dim=1).clamp(min=1))
    lengths = mask.sum(dim=1).clamp(min=1).cpu()  # (B,) int64 on CPU, as packing requires
    packed = pack_padded_sequence(real_first(x, mask), lengths, batch_first=True, enforce_sorted=False)
    _, state = rnn(packed)
    h_n = state[0] if isinstance(state, tuple) else state  # LSTM returns (h_n, c_n); (L·D, B, H)
    directions = 2 if rnn.bidirectional else 1
    h_n = h_n.view(rnn.num_layers, directions, x.shape[0], rnn.hidden_size)[-1]  # (D, B, H)
    return h_n.transpose(0, 1).reshape(x.shape[0], directions * rnn.hidden_size)  # (B, D·H)


def _unpacked_last_hidden(rnn: nn.RNNBase, x: Tensor, lengths: Tensor) -> Tensor:
    """:func:`last_hidden` without packing (an exported graph): ``x`` (B, P, F) real particles first,
    ``lengths`` (B,) ≥ 1. Every direction runs forward over all P steps and is read at step n - 1; the
    backward direction runs over each jet's real particles reversed (padding stays behind them), and
    its outputs are put back in particle order as the next layer's input."""
    last = (lengths - 1).view(-1, 1, 1).expand(-1, 1, rnn.hidden_size)  # (B, 1, H)
    if not rnn.bidirectional:
        out, _ = rnn(x)  # (B, P, H) last layer, every step
        return out.gather(1, last)[:, 0]  # (B, H)
    steps = torch.arange(x.shape[1], device=x.device)[None]  # (1, P)
    flip = torch.where(steps < lengths[:, None], lengths[:, None] - 1 - steps, steps)  # (B, P), an involution

    def reverse(t: Tensor) -> Tensor:  # each jet's first n steps in reverse order
        return t.gather(1, flip[..., None].expand_as(t))

    for layer in range(rnn.num_layers):
        forward, backward = _one_direction(rnn, x, layer, ""), _one_direction(rnn, reverse(x), layer, "_reverse")
        x = torch.cat([forward, reverse(backward)], dim=-1)  # (B, P, 2H) the next layer's input
    return torch.cat([forward.gather(1, last)[:, 0], backward.gather(1, last)[:, 0]], dim=1)  # (B, 2H)


def _one_direction(rnn: nn.RNNBase, x: Tensor, layer: int, suffix: str) -> Tensor:
    """Outputs (B, P, H) of one direction (``suffix`` "" or "_reverse") of one layer of ``rnn``, run forward
    over ``x`` from a zero state (the ``aten::gru`` / ``aten::lstm`` the exporters translate)."""
    names = ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if rnn.bias else ())
    params = [getattr(rnn, f"{n}_l{layer}{suffix}") for n in names]
    h0 = x.new_zeros(1, x.shape[0], rnn.hidden_size)  # (1, B, H)
    if isinstance(rnn, nn.LSTM):
        return torch.lstm(x, (h0, h0), params, rnn.bias, 1, 0.0, False, False, True)[0]
    return torch.gru(x, h0, params, rnn.bias, 1, 0.0, False, False, True)[0]


class RecurrentTagger(nn.Module):
    """GRU / LSTM over the pT-ordered constituents, then a dense head on the final hidden state.

    References: GRU, Cho et al. arXiv:1406.1078; LSTM on jet constituents, Egan et al. arXiv:1711.09059.

    ``h_t = cell(x_t, h_{t-1})`` for the real particles ``t = 1..n`` of a jet (hardest first);
    ``logits = W_out · head(dropout(h_n)) + b_out``. Dropout is also applied between stacked layers.
    The course network is a GRU of 40 units → dropout 0.25 → dense 20 → dropout → dense 10 → dropout →
    dense 5 (ReLU) → logits: ``hidden=40, head=(20, 10, 5), head_dropout=(0.25, 0.25, 0.0)``.

    Shapes:
        ``batch["x"]`` (B, P, F) particle features, ``batch["mask"]`` (B, P) bool, True = real particle
        (padded slots are ignored exactly, via packing) → logits (B, n_classes).

    Example:
        >>> import torch
        >>> m = RecurrentTagger(3, 5).eval()
        >>> m({"x": torch.zeros(2, 4, 3), "mask": torch.tensor([[1, 1, 0, 0], [0, 0, 0, 0]]).bool()}).shape
        torch.Size([2, 5])
    """

    def __init__(self, n_features: int, n_classes: int, cell: str = "gru", hidden: int = 40, layers: int = 1,
                 bidirectional: bool = False, dropout: float = 0.25, head: Sequence[int] = (20, 10, 5),
                 head_dropout: float | Sequence[float] = (0.25, 0.25, 0.0), activation: str = "relu") -> None:
        super().__init__()
        if cell not in _CELLS:
            raise UsageError(f"rnn: cell {cell!r} unknown (known: {', '.join(_CELLS)})")
        self.rnn = _CELLS[cell](n_features, int(hidden), num_layers=int(layers), batch_first=True,
                                bidirectional=bool(bidirectional), dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head, width = dense_stack(int(hidden) * (2 if bidirectional else 1), head, activation, head_dropout)
        self.out = nn.Linear(width, n_classes)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        h = last_hidden(self.rnn, batch["x"], batch["mask"])  # (B, D·H)
        h = self.head(self.drop(h))  # (B, head[-1])
        return self.out(h)  # (B, n_classes)


_RNN_DEFAULTS = dict(hidden=40, layers=1, bidirectional=False, dropout=0.25, head=(20, 10, 5),
                     head_dropout=(0.25, 0.25, 0.0), activation="relu")


# Recurrent network on the 64 hardest constituents, pT-ordered.
@register_model("gru",
                recipe={"representation": {"max_particles": 64},
                        "optim": {"lr": 0.001, "scheduler": "plateau"},
                        "trainer": {"epochs": 20, "batch_size": 256, "patience": 6, "gradient_clip": 1.0}},
                family="rnn", representation="particles", symmetric=False, paper="arXiv:1406.1078",
                **_RNN_DEFAULTS)
def gru(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """GRU over pT-ordered constituents (course: GRU 40 → dense 20 → 10 → 5, dropout 0.25)."""
    return RecurrentTagger(dims.particle_features, n_classes, cell="gru", **hp)


# Recurrent network on the 64 hardest constituents, pT-ordered.
@register_model("lstm",
                recipe={"representation": {"max_particles": 64},
                        "optim": {"lr": 0.001, "scheduler": "plateau"},
                        "trainer": {"epochs": 20, "batch_size": 256, "patience": 6, "gradient_clip": 1.0}},
                family="rnn", representation="particles", symmetric=False, paper="arXiv:1711.09059",
                **_RNN_DEFAULTS)
def lstm(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """LSTM over pT-ordered constituents (same head as the course GRU)."""
    return RecurrentTagger(dims.particle_features, n_classes, cell="lstm", **hp)
