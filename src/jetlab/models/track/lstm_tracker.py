"""A recurrent hit follower: from the hits of a track so far, the position of its next hit (``hitseq``)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from jetlab.models.registry import InputDims, register_model

__all__ = ["LSTMTracker", "gaussian_nll", "lstm_tracker"]


def gaussian_nll(mean: Tensor, log_sigma: Tensor, target: Tensor) -> Tensor:
    """Per-hit negative log-likelihood of ``target`` under independent Gaussians (up to a constant)::

        NLL = Σ_c [ ½ ((y_c - μ_c) / σ_c)² + log σ_c ]

    Shapes: (..., C) each -> (...).
    """
    return (0.5 * ((target - mean) * torch.exp(-log_sigma)).square() + log_sigma).sum(-1)


class LSTMTracker(nn.Module):
    """HEP.TrkX-style LSTM next-hit predictor (Farrell et al., arXiv:1810.06111)::

        s_t = LSTM(W_in x_t, s_{t-1})                 x_t: hit t of the track, (r/1000, φ - φ_first, z/1000)
        μ_t = x_t + W_μ s_t,  log σ_t = W_σ s_t       Gaussian prediction of hit t + 1, per coordinate

    trained with :func:`gaussian_nll` of the true next hit (teacher forcing). Following a track
    (:func:`jetlab.tasks.track_build.follow_tracks`) feeds hits one at a time through :meth:`step`.

    Shapes: ``batch["seq"]`` (B, T, 3), ``batch["mask"]`` (B, T) bool, True = real hit (padding at the end
    never reaches an earlier step: the recurrence is causal). Returns ``mean``, ``log_sigma`` (B, T, 3):
    entry t predicts hit t + 1.
    """

    def __init__(self, hit_features: int = 3, hidden: int = 64, layers: int = 2, log_sigma_min: float = -12.0) -> None:
        super().__init__()
        self.embed = nn.Sequential(nn.Linear(hit_features, hidden), nn.Tanh())
        self.rnn = nn.LSTM(hidden, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, 2 * hit_features)
        self.log_sigma_min = log_sigma_min

    def _gaussian(self, x: Tensor, s: Tensor) -> tuple[Tensor, Tensor]:
        shift, log_sigma = self.head(s).chunk(2, dim=-1)  # (..., C) each
        return x + shift, log_sigma.clamp(min=self.log_sigma_min, max=2.0)

    def forward(self, batch: dict[str, Any]) -> tuple[Tensor, Tensor]:
        x = batch["seq"]  # (B, T, C)
        s, _ = self.rnn(self.embed(x))  # (B, T, H)
        return self._gaussian(x, s)  # (B, T, C), (B, T, C)

    def step(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None
             ) -> tuple[Tensor, Tensor, tuple[Tensor, Tensor]]:
        """One hit per track: ``x`` (S, C) -> mean, log σ (S, C) of the next hit, and the new state."""
        s, state = self.rnn(self.embed(x)[:, None], state)  # (S, 1, H)
        mean, log_sigma = self._gaussian(x, s[:, 0])
        return mean, log_sigma, state


@register_model("lstm_tracker", family="rnn", representation="hitseq", task="track", paper="arXiv:1810.06111",
                recipe={"representation": {"graph_method": "geometric", "seq_pt_min": 0.5},
                        "optim": {"lr": 2e-3, "scheduler": "cosine"},
                        "trainer": {"epochs": 30, "batch_size": 32, "patience": 10}},
                hidden=64, layers=2)
def lstm_tracker(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """LSTM predicting the next hit of a track (mean and Gaussian uncertainty) from the hits so far."""
    return LSTMTracker((dims.extra or {}).get("hit_features", 3), **hp)
