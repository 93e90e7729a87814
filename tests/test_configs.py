"""Packaged configs: one per registered model, and the course's networks at the course's sizes."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from jetlab.models import InputDims, count_parameters, create, get_spec, list_models
from jetlab.tasks.config import load_yaml, resolve_config

COURSE = Path(str(resources.files("jetlab") / "configs" / "course"))


@pytest.mark.parametrize("name", [s.name for s in list_models(task="classify")])
def test_every_model_has_a_recipe_that_resolves(name: str) -> None:
    spec = get_spec(name)
    assert spec.recipe or spec.engine == "fit", f"network {name!r} registered without a recipe (optim, trainer)"
    cfg = resolve_config(name, "data")
    assert cfg.trainer.batch_size == get_spec(name).recipe.get("trainer", {}).get("batch_size", 256)
    assert cfg.representation.name == (s := [m for m in list_models() if m.name == name][0]).representation, s


@pytest.mark.parametrize(
    ("name", "dims", "params"),
    [
        ("mlp", InputDims(hlf=16), 1795),
        ("cnn", InputDims(image_bins=100), 859),
        ("gru", InputDims(particle_features=16), 8075),
        ("deepsets", InputDims(particle_features=7), 2995),
    ],
)
def test_course_networks_have_the_course_sizes(name: str, dims: InputDims, params: int) -> None:
    cfg = resolve_config(None, "data", load_yaml(COURSE / f"{name}.yaml"))
    if cfg.representation.get("features") is not None:
        assert len(cfg.representation.features) == dims.particle_features
    if cfg.representation.name == "image":
        assert cfg.representation.image_bins == dims.image_bins
    assert count_parameters(create(cfg.model, n_classes=5, dims=dims, **cfg.hparams)) == params
