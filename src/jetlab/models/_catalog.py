"""Imports every model family so that its ``@register_model`` entries exist."""

from jetlab.models import (  # noqa: F401
    autoencoders,
    cnn,
    deepsets,
    gnn,
    mlp,
    part,
    particlenet,
    pointnet,
    rnn,
    set_autoencoder,
    transformer,
)
