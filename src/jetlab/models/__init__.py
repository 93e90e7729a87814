"""The model zoo: ``create(name, **hparams)`` and the registry behind ``jetlab models``.

Each model maps a batch dict (:mod:`jetlab.data.batches`) to logits ``(B, n_classes)``;
its registry entry names the representation it consumes.
"""

from jetlab.models.registry import InputDims, ModelSpec, count_parameters, create, get_spec, list_models

__all__ = ["InputDims", "ModelSpec", "count_parameters", "create", "get_spec", "list_models"]
