"""Imports every model family so that its ``@register_model`` entries exist."""

from jetlab.models import cnn, deepsets, gnn, mlp, part, particlenet, pointnet, rnn, transformer  # noqa: F401
