"""Autoencoders for anomaly detection: ``ae``, ``dae`` and ``vae`` on high-level features, ``cae`` on jet images.

Trained on background (QCD) jets only, an autoencoder reconstructs them well and anything it has not
seen (W, Z, top, new physics) worse: the reconstruction error is the anomaly score (Farina, Nakai, Shih,
arXiv:1808.08992; Heimel et al., arXiv:1808.08979). The course network is the dense
16 → 10 → 5 → 10 → 16 ``ae`` with ELU, trained with MSE on g + q jets.

Every model here is an :class:`AutoEncoder`, one uniform API the anomaly task relies on::

    out = model(batch)                 # dict: "recon", "target", "z" (+ "mu", "logvar" for the VAE)
    total, parts = model.loss(out)     # scalar to minimize, and its named parts ({"recon": ..., "kl": ...})
    scores = model.scores(out)         # per-jet anomaly scores, each (B,); higher = more anomalous

``model.score_names`` lists the keys of ``scores`` with the model's default score first ("mse" here,
"chamfer" for the set autoencoder of :mod:`jetlab.models.anomaly.set_autoencoder`). ``n_classes`` given to the
registry builders is ignored: autoencoders are unsupervised.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from jetlab.errors import UsageError
from jetlab.models.layers import dense_stack, make_activation
from jetlab.models.registry import InputDims, register_model

__all__ = ["AutoEncoder", "dense_decoder", "DenseAutoEncoder", "DenoisingAutoEncoder", "VariationalAutoEncoder",
           "ConvAutoEncoder", "ae", "dae", "vae", "cae"]

Weights = Sequence[float] | Tensor | None


def _broadcasts(shape: tuple[int, ...], to: tuple[int, ...]) -> bool:
    """Whether a tensor of ``shape`` broadcasts to ``to`` without changing ``to``."""
    try:
        return torch.broadcast_shapes(shape, to) == to
    except RuntimeError:
        return False


class AutoEncoder(nn.Module):
    """Base class: ``x̂ = decoder(encoder(corrupt(x)))``, scored by the weighted reconstruction error.

    Per jet, with ``w`` the optional ``feature_weights`` (1 when not given) and the mean over the ``F``
    entries of one jet (features, or pixels for images)::

        mse = (1/F) Σ_f w_f (x̂_f − x_f)²          loss = mean over the batch of mse

    The course's score, the *sum* of squared errors, is ``F · mse``: the same ranking, the same ROC.

    Subclasses set ``self.encoder`` and ``self.decoder`` (or override :meth:`forward`); a denoising
    model overrides :meth:`corrupt`, which is the identity here.

    Arguments:
        feature_weights: non-negative weights broadcastable to one jet's target shape (``(H,)`` for HLF,
            ``(n, n)`` or ``(1, n, n)`` for images, ``(F,)`` per particle feature for the set AE); kept as
            the buffer ``feature_weights`` (``None`` when not given), so it is saved with the model.
        target_shape: the shape of one jet's target, to check ``feature_weights`` against.
    """

    score_names: tuple[str, ...] = ("mse",)
    feature_weights: Tensor | None
    encoder: nn.Module
    decoder: nn.Module

    def __init__(self, feature_weights: Weights = None, target_shape: Sequence[int] = ()) -> None:
        super().__init__()
        w = None if feature_weights is None else torch.as_tensor(feature_weights, dtype=torch.float32)
        if w is not None and (not _broadcasts(w.shape, tuple(target_shape)) or bool((w < 0).any())):
            raise UsageError(f"{type(self).__name__}: feature_weights {tuple(w.shape)} must be non-negative "
                             f"and broadcast to one jet's target shape {tuple(target_shape)}")
        self.register_buffer("feature_weights", w)

    def corrupt(self, x: Tensor) -> Tensor:
        """The encoder's input: ``x`` itself (a denoising autoencoder adds noise in training)."""
        return x

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        x = batch["x"]  # (B, *S) clean input = target
        z = self.encoder(self.corrupt(x))  # (B, d)
        return {"recon": self.decoder(z), "target": x, "z": z}  # recon (B, *S)

    def reconstruction_error(self, recon: Tensor, target: Tensor) -> Tensor:
        """``(1/F) Σ_f w_f (x̂_f − x_f)²`` per jet: (B, *S), (B, *S) → (B,)."""
        se = (recon - target) ** 2  # (B, *S)
        if self.feature_weights is not None:
            se = se * self.feature_weights  # (B, *S)
        return se.flatten(1).mean(dim=1)  # (B,)

    def scores(self, out: dict[str, Tensor]) -> dict[str, Tensor]:
        """Per-jet anomaly scores ``{"mse": (B,)}``; higher = less like the training data."""
        return {"mse": self.reconstruction_error(out["recon"], out["target"])}

    def loss(self, out: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        """``(total, parts)``: the batch mean of the reconstruction error, ``parts = {"recon": total}``."""
        recon = self.scores(out)["mse"].mean()  # ()
        return recon, {"recon": recon}


def dense_decoder(n_latent: int, widths: Sequence[int], n_out: int, activation: str) -> nn.Sequential:
    """``[Linear → act]`` per width from the latent, then a linear output layer to ``n_out``."""
    body, width = dense_stack(n_latent, widths, activation)
    return nn.Sequential(*body, nn.Linear(width, n_out))


class DenseAutoEncoder(AutoEncoder):
    """Dense autoencoder on high-level features (Hinton & Salakhutdinov 2006; the course's AE notebook).

    ``z = act(W_L … act(W_1 x))`` through ``hidden``, and back through the mirrored widths to a linear
    output layer ``x̂ = W_out h + b`` (the standardized inputs are signed). Every hidden layer, the
    bottleneck included, has the activation, as in the course network 16 → 10 → 5 → 10 → 16 (ELU),
    which has (16·10+10) + (10·5+5) + (5·10+10) + (10·16+16) = 461 parameters.

    Shapes:
        ``batch["x"]`` (B, H) standardized HLF → ``recon``, ``target`` (B, H), ``z`` (B, hidden[-1]).
        No particles, so no mask.

    Example:
        >>> m = DenseAutoEncoder(16)
        >>> out = m({"x": torch.zeros(3, 16)})
        >>> out["recon"].shape, out["z"].shape, m.scores(out)["mse"].shape
        (torch.Size([3, 16]), torch.Size([3, 5]), torch.Size([3]))
    """

    def __init__(self, n_in: int, hidden: Sequence[int] = (10, 5), activation: str = "elu",
                 feature_weights: Weights = None) -> None:
        super().__init__(feature_weights, (n_in,))
        if not hidden:
            raise UsageError("ae: hidden needs at least one width (the last is the latent size)")
        self.encoder, width = dense_stack(n_in, hidden, activation)  # n_in → … → hidden[-1]
        self.decoder = dense_decoder(width, hidden[-2::-1], n_in, activation)  # mirrored, linear output


class DenoisingAutoEncoder(DenseAutoEncoder):
    """Denoising autoencoder (Vincent, Larochelle, Bengio, Manzagol, ICML 2008).

    In training the encoder sees ``x̃ = x + σ ε``, ``ε ~ N(0, 1)`` per feature, and the loss compares
    ``x̂ = decoder(encoder(x̃))`` with the *clean* ``x``. In evaluation there is no noise: the output is
    exactly that of a :class:`DenseAutoEncoder` with the same weights. ``σ = noise_std`` is in units of the
    standardized features.

    Shapes:
        ``batch["x"]`` (B, H) → ``recon``, ``target`` (B, H), ``z`` (B, hidden[-1]).
    """

    def __init__(self, n_in: int, hidden: Sequence[int] = (10, 5), activation: str = "elu",
                 noise_std: float = 0.1, feature_weights: Weights = None) -> None:
        super().__init__(n_in, hidden, activation, feature_weights)
        if noise_std < 0:
            raise UsageError(f"dae: noise_std must be >= 0, got {noise_std}")
        self.noise_std = float(noise_std)

    def corrupt(self, x: Tensor) -> Tensor:
        if not self.training or self.noise_std == 0:
            return x
        return x + self.noise_std * torch.randn_like(x)  # (B, H)


class VariationalAutoEncoder(AutoEncoder):
    """Variational autoencoder (Kingma & Welling, arXiv:1312.6114) with a β-weighted KL term.

    Encoder ``h = act(…)`` through ``hidden``; ``μ = W_μ h``, ``log σ² = W_σ h`` (B, d). In training
    ``z = μ + σ ⊙ ε``, ``ε ~ N(0, 1)`` (reparametrization); in evaluation ``z = μ`` (deterministic). The
    decoder mirrors ``hidden`` to a linear output. Per jet::

        KL = ½ Σ_d (μ_d² + σ_d² − 1 − log σ_d²)        combined = mse + β · KL
        loss = mean over the batch of combined

    With a unit-variance Gaussian decoder, −ELBO = (H/2)·mse + KL + const, so β = 2/H (0.125 for 16
    HLF) is the plain VAE; the default β = 0.1 leans slightly towards reconstruction (β = 1 with a
    per-feature mean tends to switch the latent off). ``latent=2`` makes the (z₁, z₂) plane of μ the
    direct picture of the latent space.

    Shapes:
        ``batch["x"]`` (B, H) → ``recon``, ``target`` (B, H), ``z`` = ``mu``, ``logvar`` (B, d), and
        ``z_sample`` (B, d) the decoded latent (= ``mu`` in evaluation).

    Example:
        >>> m = VariationalAutoEncoder(16).eval()
        >>> sorted(m.scores(m({"x": torch.zeros(4, 16)})))
        ['combined', 'kl', 'mse']
    """

    score_names = ("mse", "kl", "combined")

    def __init__(self, n_in: int, hidden: Sequence[int] = (16, 8), latent: int = 2, beta: float = 0.1,
                 activation: str = "elu", feature_weights: Weights = None) -> None:
        super().__init__(feature_weights, (n_in,))
        if latent < 1 or beta < 0:
            raise UsageError(f"vae: latent >= 1 and beta >= 0 required, got latent={latent}, beta={beta}")
        self.beta = float(beta)
        self.encoder, width = dense_stack(n_in, hidden, activation)
        self.mu, self.logvar = nn.Linear(width, latent), nn.Linear(width, latent)
        self.decoder = dense_decoder(latent, hidden[::-1], n_in, activation)

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        x = batch["x"]  # (B, H)
        h = self.encoder(x)  # (B, hidden[-1])
        mu, logvar = self.mu(h), self.logvar(h)  # (B, d), (B, d)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu) if self.training else mu  # (B, d)
        return {"recon": self.decoder(z), "target": x, "z": mu, "mu": mu, "logvar": logvar, "z_sample": z}

    @staticmethod
    def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
        """``KL(N(μ, σ²) ‖ N(0, 1))`` summed over the latent: (B, d), (B, d) → (B,)."""
        return 0.5 * (mu**2 + logvar.exp() - 1.0 - logvar).sum(dim=1)  # (B,)

    def scores(self, out: dict[str, Tensor]) -> dict[str, Tensor]:
        """``{"mse", "kl", "combined" = mse + β·kl}``, each (B,)."""
        mse = self.reconstruction_error(out["recon"], out["target"])  # (B,)
        kl = self.kl_divergence(out["mu"], out["logvar"])  # (B,)
        return {"mse": mse, "kl": kl, "combined": mse + self.beta * kl}

    def loss(self, out: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        """``(mean(mse) + β·mean(kl), {"recon", "kl"})``."""
        s = self.scores(out)
        recon, kl = s["mse"].mean(), s["kl"].mean()  # (), ()
        return recon + self.beta * kl, {"recon": recon, "kl": kl}


class ConvAutoEncoder(AutoEncoder):
    """Convolutional autoencoder on jet images (Heimel et al., arXiv:1808.08979; Farina et al., arXiv:1808.08992).

    Encoder: per entry ``c`` of ``channels`` a block conv 3×3 (same) → act → max-pool 2, then a linear map
    of the flattened ``(c_K, n/2^K, n/2^K)`` map to the latent ``z`` (B, latent). Decoder: linear → act →
    reshape, then per block in reverse a transposed conv 2×2 with stride 2 (which doubles the side exactly),
    act between blocks and a linear output. ``image_bins`` must therefore be divisible by 2^K (by 4 for the
    default two blocks: 16, 20, …, 40, …, 100), otherwise :class:`UsageError`. The score is the per-pixel
    mean of the squared error of the pT-fraction image.

    Shapes:
        ``batch["x"]`` (B, C, n, n) → ``recon``, ``target`` (B, C, n, n), ``z`` (B, latent), C = ``in_channels``
        (1 for jet images). No mask.

    Example:
        >>> ConvAutoEncoder(16)({"x": torch.zeros(2, 1, 16, 16)})["recon"].shape
        torch.Size([2, 1, 16, 16])
    """

    def __init__(self, image_bins: int, channels: Sequence[int] = (8, 16), latent: int = 16,
                 activation: str = "elu", feature_weights: Weights = None, in_channels: int = 1) -> None:
        n, k = int(image_bins), len(channels)
        super().__init__(feature_weights, (int(in_channels), n, n))
        if k < 1 or n % 2**k or latent < 1:
            raise UsageError(f"cae: image_bins ({n}) must be divisible by 2^{k} (one halving per entry of "
                             f"channels {list(channels)}), with at least one block and latent >= 1")
        side, widths = n // 2**k, [int(in_channels), *map(int, channels)]
        down: list[nn.Module] = []
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            down += [nn.Conv2d(c_in, c_out, 3, padding=1), make_activation(activation), nn.MaxPool2d(2)]
        flat = widths[-1] * side * side
        self.encoder = nn.Sequential(*down, nn.Flatten(), nn.Linear(flat, latent))
        up: list[nn.Module] = [nn.Linear(latent, flat), make_activation(activation),
                               nn.Unflatten(1, (widths[-1], side, side))]
        pairs = list(zip(widths[:0:-1], widths[-2::-1]))  # (c_K → c_{K-1}), …, (c_1 → in_channels)
        for i, (c_in, c_out) in enumerate(pairs):
            up.append(nn.ConvTranspose2d(c_in, c_out, 2, stride=2))  # side × 2
            up += [make_activation(activation)] if i < len(pairs) - 1 else []
        self.decoder = nn.Sequential(*up)


@register_model("ae", family="autoencoder", representation="hlf", task="anomaly", paper="arXiv:1808.08992",
                hidden=(10, 5), activation="elu", feature_weights=None)
def ae(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """Dense autoencoder on HLF (course: 16 → 10 → 5 → 10 → 16, ELU); score = MSE."""
    return DenseAutoEncoder(dims.hlf, **hp)


@register_model("dae", family="autoencoder", representation="hlf", task="anomaly", paper="Vincent et al. 2008",
                hidden=(10, 5), activation="elu", noise_std=0.1, feature_weights=None)
def dae(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """Denoising autoencoder on HLF: Gaussian input noise (σ = 0.1) in training only."""
    return DenoisingAutoEncoder(dims.hlf, **hp)


@register_model("vae", family="autoencoder", representation="hlf", task="anomaly", paper="arXiv:1312.6114",
                hidden=(16, 8), latent=2, beta=0.1, activation="elu", feature_weights=None)
def vae(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """Variational autoencoder on HLF: 2-d Gaussian latent, β-weighted KL; scores mse, kl, combined."""
    return VariationalAutoEncoder(dims.hlf, **hp)


@register_model("cae", family="autoencoder", representation="image", task="anomaly", paper="arXiv:1808.08979",
                channels=(8, 16), latent=16, activation="elu", feature_weights=None)
def cae(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """Convolutional autoencoder on jet images or detector maps (image_bins divisible by 4); score = per-pixel MSE.
    Detector maps of several channels (occupancy and energy) are its input channels."""
    in_channels = int(dims.extra.get("map_shape", [1])[0])
    return ConvAutoEncoder(dims.image_bins, **hp, in_channels=in_channels)
