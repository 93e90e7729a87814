"""Convolutional networks on jet images: the course's small ``cnn`` and a residual ``resnet``.

Both read ``batch["x"]`` (B, 1, n, n), the pT-fraction image of :mod:`jetlab.represent.image`
(centred, rotated, flipped), or (B, C, n, n) with C = ``dims.image_channels`` (a shower's layers,
:mod:`jetlab.represent.calo_image`). Images have no padding, so no mask is involved.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from jetlab.errors import UsageError
from jetlab.models.layers import dense_stack, make_activation
from jetlab.models.registry import InputDims, register_model

__all__ = ["JetImageCNN", "ResidualBlock", "JetImageResNet", "cnn", "resnet"]


def _conv_block(c_in: int, c_out: int, kernel: int, pool: int, dropout: float, activation: str) -> list[nn.Module]:
    """Conv ``kernel``×``kernel`` (same padding) → BatchNorm → activation → MaxPool ``pool`` → Dropout."""
    layers = [nn.Conv2d(c_in, c_out, kernel, padding="same"), nn.BatchNorm2d(c_out), make_activation(activation)]
    if pool > 1:
        layers.append(nn.MaxPool2d(pool))
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return layers


class JetImageCNN(nn.Module):
    """Small CNN on jet images (de Oliveira et al., arXiv:1511.05190; the course's CNN notebook).

    Per block ``l``: ``h_l = dropout(maxpool_{p_l}(act(BN(conv_{k_l}(h_{l-1})))))`` with same-padded
    convolutions, then ``logits = W_out · dense(flatten(h_L))``. The course network is two blocks,
    ``channels=(5, 3)``, ``kernels=(5, 3)``, ``pools=(5, 3)``, dropout 0.25, ``dense=(5,)``.

    The flatten size is computed from ``image_bins``: max-pooling floors, so the side after the blocks is
    ``s = ⌊⌊n / p_1⌋ / p_2⌋ ...`` (100 → 20 → 6; 40 → 8 → 2; 16 → 3 → 1) and the dense head sees
    ``channels[-1] · s²`` inputs. A model therefore only accepts images of the size it was built for;
    pools that shrink the image to nothing raise :class:`UsageError` (the default needs ``n ≥ 15``).

    Shapes:
        ``batch["x"]`` (B, 1, n, n) → logits (B, n_classes). No mask (images are not padded).

    Example:
        >>> import torch
        >>> JetImageCNN(16, 5)({"x": torch.zeros(2, 1, 16, 16)}).shape
        torch.Size([2, 5])
    """

    def __init__(self, image_bins: int, n_classes: int, channels: Sequence[int] = (5, 3),
                 kernels: Sequence[int] = (5, 3), pools: Sequence[int] = (5, 3), dropout: float = 0.25,
                 dense: Sequence[int] = (5,), activation: str = "relu", in_chans: int = 1) -> None:
        super().__init__()
        if not len(channels) == len(kernels) == len(pools):
            raise UsageError(f"cnn: channels, kernels and pools need one entry per block "
                             f"(got {len(channels)}, {len(kernels)}, {len(pools)})")
        layers: list[nn.Module] = []
        c_in, side = int(in_chans), int(image_bins)
        for c_out, kernel, pool in zip(channels, kernels, pools, strict=True):
            layers += _conv_block(c_in, int(c_out), int(kernel), int(pool), dropout, activation)
            c_in, side = int(c_out), side // int(pool)
        if side < 1:
            raise UsageError(f"cnn: pools {list(pools)} shrink a {image_bins}×{image_bins} image to nothing; "
                             f"use larger images (--image-bins) or smaller pools")
        self.features = nn.Sequential(*layers)
        self.head, width = dense_stack(c_in * side * side, dense, activation)
        self.out = nn.Linear(width, n_classes)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        h = self.features(batch["x"])  # (B, C, s, s)
        h = self.head(h.flatten(1))  # (B, dense[-1])
        return self.out(h)  # (B, n_classes)


class ResidualBlock(nn.Module):
    """Basic residual block (He et al., arXiv:1512.03385).

    ``y = act(S(x) + BN(conv3(act(BN(conv3_s(x))))))`` with ``S`` the identity, or a strided 1×1
    convolution + BN when the stride or channel count changes.

    Shapes:
        x (B, C_in, n, n) → y (B, C_out, ⌈n / stride⌉, ⌈n / stride⌉).
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1, activation: str = "relu") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.act = make_activation(activation)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: Tensor) -> Tensor:
        h = self.act(self.bn1(self.conv1(x)))  # (B, C_out, n', n')
        h = self.bn2(self.conv2(h))  # (B, C_out, n', n')
        return self.act(h + self.shortcut(x))  # (B, C_out, n', n')


class JetImageResNet(nn.Module):
    """Residual CNN on jet images (He et al., arXiv:1512.03385), sized to train on a CPU.

    ``stem = act(BN(conv3(x)))``; stage ``i`` is ``blocks[i]`` :class:`ResidualBlock` s of ``channels[i]``
    channels, the first of each stage after the first with stride 2; then global average pooling,
    dropout and a linear layer: ``logits = W · mean_{u,v} h_L[:, :, u, v] + b``. Global pooling makes it
    work for any image size ≥ 1 (≥ 2^(stages-1) to keep every stage meaningful).

    Shapes:
        ``batch["x"]`` (B, 1, n, n) → logits (B, n_classes). No mask (images are not padded).

    Example:
        >>> import torch
        >>> JetImageResNet(5)({"x": torch.zeros(2, 1, 16, 16)}).shape
        torch.Size([2, 5])
    """

    def __init__(self, n_classes: int, channels: Sequence[int] = (16, 32, 64), blocks: Sequence[int] = (1, 1, 1),
                 dropout: float = 0.0, activation: str = "relu", in_chans: int = 1) -> None:
        super().__init__()
        if len(channels) != len(blocks) or min(blocks, default=0) < 1:
            raise UsageError(f"resnet: channels {list(channels)} and blocks {list(blocks)} need equal lengths, "
                             f"at least one block per stage")
        c0 = int(channels[0])
        layers: list[nn.Module] = [nn.Conv2d(int(in_chans), c0, 3, padding=1, bias=False), nn.BatchNorm2d(c0),
                                   make_activation(activation)]
        c_in = c0
        for i, (c_out, n_blocks) in enumerate(zip(channels, blocks, strict=True)):
            for j in range(int(n_blocks)):
                stride = 2 if i > 0 and j == 0 else 1
                layers.append(ResidualBlock(c_in, int(c_out), stride, activation))
                c_in = int(c_out)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(c_in, n_classes)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        h = self.features(batch["x"])  # (B, C, s, s)
        h = self.pool(h).flatten(1)  # (B, C)
        return self.out(self.drop(h))  # (B, n_classes)


# CNN on 40x40 jet images (centred, rotated, flipped); the course uses 100x100: configs/course/cnn.yaml.
@register_model("cnn",
                recipe={"representation": {"image_bins": 40},
                        "optim": {"lr": 0.001, "scheduler": "plateau"},
                        "trainer": {"epochs": 20, "batch_size": 128, "patience": 6}},
                family="cnn", representation="image", paper="arXiv:1511.05190",
                channels=(5, 3), kernels=(5, 3), pools=(5, 3), dropout=0.25, dense=(5,), activation="relu")
def cnn(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """Small CNN on jet images (course: conv 5@5×5 → pool 5, conv 3@3×3 → pool 3, dense 5)."""
    return JetImageCNN(dims.image_bins, n_classes, in_chans=dims.image_channels, **hp)


# CNN on 40x40 jet images (centred, rotated, flipped); the course uses 100x100: configs/course/cnn.yaml.
@register_model("resnet",
                recipe={"representation": {"image_bins": 40},
                        "optim": {"lr": 0.001, "scheduler": "plateau"},
                        "trainer": {"epochs": 20, "batch_size": 128, "patience": 6}},
                family="cnn", representation="image", paper="arXiv:1512.03385",
                channels=(16, 32, 64), blocks=(1, 1, 1), dropout=0.0, activation="relu")
def resnet(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """Residual CNN on jet images: 3 stages of residual blocks, global average pooling."""
    return JetImageResNet(n_classes, in_chans=dims.image_channels, **hp)
