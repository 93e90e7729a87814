"""Imports every model family so that its ``@register_model`` entries exist."""

import importlib

for _module in ("mlp", "cnn", "rnn", "deepsets", "pointnet", "transformer", "part", "gnn", "particlenet"):
    try:
        importlib.import_module(f"jetlab.models.{_module}")
    except ModuleNotFoundError as e:  # a family not written yet; never hides errors inside a module
        if e.name != f"jetlab.models.{_module}":
            raise
