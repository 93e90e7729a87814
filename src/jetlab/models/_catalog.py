"""Imports every model family so that its ``@register_model`` entries exist."""

from jetlab.models import (  # noqa: F401
    autoencoders,
    cnn,
    deepsets,
    diffusion,
    generative,
    gnn,
    mlp,
    part,
    particlenet,
    pointnet,
    rnn,
    set_autoencoder,
    set_gan,
    transformer,
)
