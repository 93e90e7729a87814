"""The on-the-fly batch pipeline: shared particle views, trimmed slots, kNN paths and loader settings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jetlab.data.batches import BatchBuilder, RepresentationConfig
from jetlab.data.module import default_workers
from jetlab.represent import four_momenta, knn_indices, lorentz_scalars, point_cloud
from jetlab.represent import graph as graph_module
from tests.conftest import make_jets


def test_particles_batch_matches_separate_builders_and_trimming() -> None:
    jets = make_jets(20, 30, seed=3)
    builder = BatchBuilder(RepresentationConfig(name="particles", max_particles=12)).fit(jets)
    batch = builder(jets)
    points, x, mask = point_cloud(jets, builder.features, max_particles=12)
    assert np.array_equal(batch["x"].numpy(), x) and np.array_equal(batch["points"].numpy(), points)
    assert np.array_equal(batch["mask"].numpy(), mask)
    assert np.array_equal(batch["p4"].numpy(), four_momenta(jets, max_particles=12))
    assert np.array_equal(batch["scalars"].numpy(), lorentz_scalars(jets, max_particles=12))
    trimmed = builder.trim(jets)
    assert trimmed.max_particles == 12 and trimmed.n_particles.max() <= 12
    for key, value in builder(trimmed).items():
        assert torch.equal(value, batch[key]), key
    image = BatchBuilder(RepresentationConfig(name="image"))
    assert image.trim(jets) is jets  # images read every slot


def test_knn_ties_in_slot_order() -> None:
    # particle 0 at the centre; 1, 2, 3 all at distance 0.1 from it
    pts = torch.tensor([[[0.0, 0.0], [0.1, 0.0], [-0.1, 0.0], [0.0, 0.1], [0.5, 0.5]]])
    mask = torch.ones(1, 5, dtype=torch.bool)
    assert knn_indices(pts, mask, k=2)[0, 0].tolist() == [1, 2]
    assert knn_indices(pts.flip(1), mask, k=2)[0, 4].tolist() == [1, 2]  # centre now in slot 4


def test_knn_numpy_and_torch_paths_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    pts, _, mask = (torch.from_numpy(a) for a in point_cloud(make_jets(30, 25, seed=8)))
    fast = knn_indices(pts, mask, 6)
    monkeypatch.setattr(graph_module, "_numpy_ok", lambda points: False)  # the GPU / export path
    assert torch.equal(knn_indices(pts, mask, 6), fast)
    assert torch.equal(knn_indices(pts, mask, 40), knn_indices(pts.double(), mask, 40))


def test_graph_batch_from_arrays_or_tensors() -> None:
    pytest.importorskip("torch_geometric")
    pts, x, mask = point_cloud(make_jets(6, 10, seed=5))
    a = graph_module.to_pyg(pts, x, mask, k=3)
    b = graph_module.to_pyg(torch.from_numpy(pts), torch.from_numpy(x), torch.from_numpy(mask), k=3)
    for key in ("x", "pos", "edge_index", "batch", "ptr"):
        assert torch.equal(getattr(a, key), getattr(b, key)) and getattr(a, key).dtype == getattr(b, key).dtype


def test_default_workers_without_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert default_workers() == 0
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert 1 <= default_workers() <= 4
