"""The worked examples of docs/contributing.md run as written: the model, reader and representation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import torch

import jetlab.classes as classes_mod
import jetlab.io.readers as readers_mod
import jetlab.models.registry as models_mod
import jetlab.represent.registry as reps_mod

DOC = (Path(__file__).resolve().parents[1] / "docs" / "contributing.md").read_text()


def _example(file: str) -> str:
    match = re.search(rf"`src/jetlab/{re.escape(file)}`[^\n]*:\n\n```python\n(.*?)```", DOC, re.S)
    assert match, f"docs/contributing.md has no example for {file}"
    return match.group(1)


@pytest.fixture
def restored() -> Iterator[None]:
    readers_mod.readers(), reps_mod.list_representations(), models_mod.list_models()
    saved = [(d, dict(d)) for d in (readers_mod._READERS, reps_mod._REGISTRY, models_mod._REGISTRY,
                                    classes_mod._SCHEMES)]
    yield
    for registry, before in saved:
        registry.clear()
        registry.update(before)


def test_model_example(restored: None) -> None:
    exec(_example("models/classify/wide_mlp.py"), {})
    model = models_mod.create("wide_mlp", n_classes=3)
    assert model({"x": torch.zeros(4, 16)}).shape == (4, 3)
    assert models_mod.get_spec("wide_mlp").recipe["trainer"]["epochs"] == 30


def test_representation_example(restored: None) -> None:
    from tests.conftest import make_jets

    exec(_example("represent/ptd.py"), {})
    from jetlab.data.batches import BatchBuilder
    from jetlab.represent.registry import RepresentationConfig

    batch = BatchBuilder(RepresentationConfig("moments", n_moments=3))(make_jets(n=5))
    assert batch["x"].shape == (5, 3) and torch.isfinite(batch["x"]).all()


def test_reader_example(restored: None, tmp_path: Path) -> None:
    ns: dict[str, Any] = {}
    exec(_example("io/readers/myexp.py"), ns)
    rng = np.random.default_rng(0)
    pf = np.zeros((6, 5, 4))
    pf[:, :3, 0] = rng.uniform(1, 50, (6, 3))
    pf[:, :3, 3] = pf[:, :3, 0] * 1.2
    with h5py.File(tmp_path / "f.h5", "w") as f:
        f["pf"], f["is_b"] = pf, np.arange(6) % 2
    from jetlab.io import open_jets

    jets = open_jets(tmp_path / "f.h5")
    assert len(jets) == 6 and jets.scheme.classes == ("light", "b") and jets.counts() == {"light": 3, "b": 3}
