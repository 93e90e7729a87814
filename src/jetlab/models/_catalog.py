"""Imports every model family so that its ``@register_model`` entries exist."""

from jetlab.models import (  # noqa: F401
    autoencoders,
    cnn,
    deepsets,
    estimators,
    flow_matching,
    generative,
    gnn,
    lorentznet,
    mlp,
    part,
    particlenet,
    pelican,
    pointnet,
    rnn,
    set_autoencoder,
    set_gan,
    transformer,
)
