"""The data module's cache of a split's representation: the same batches as building them per batch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from jetlab.classes import parse_selection
from jetlab.data.batches import BatchBuilder, RepresentationConfig
from jetlab.data.module import DataConfig, JetDataModule, build_table
from jetlab.errors import UsageError
from tests.conftest import make_jets, write_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("cache") / "d", make_jets(150, max_particles=40, seed=7))


def module(path: Path, rep: str, cache_mb: int) -> JetDataModule:
    cfg = RepresentationConfig(name=rep, max_particles=24, k=5, image_bins=8, efp_degree=3)
    dm = JetDataModule(DataConfig(path=str(path), num_workers=0, cache_mb=cache_mb), parse_selection("g,q,w,z,t"),
                       cfg, batch_size=32)
    dm.setup()
    return dm


def assert_same_batch(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert list(a) == list(b)
    for key in a:
        if key == "graph":
            for attr in ("x", "pos", "edge_index", "batch", "ptr"):
                assert torch.equal(getattr(a[key], attr), getattr(b[key], attr)), attr
            assert a[key].num_graphs == b[key].num_graphs
        else:
            assert a[key].dtype == b[key].dtype and torch.equal(a[key], b[key]), key


@pytest.mark.parametrize("rep", ["hlf", "image", "particles", "graph", "efp"])
def test_cached_batches_equal_batches_built_per_batch(dataset: Path, rep: str) -> None:
    cached, fresh = module(dataset, rep, cache_mb=64), module(dataset, rep, cache_mb=0)
    assert cached.collate("train").table is not None and fresh.collate("train").table is None
    rows = np.random.default_rng(0).permutation(len(cached.splits["train"][1]))[:32].tolist()
    assert_same_batch(cached.collate("train")(rows), fresh.collate("train")(rows))
    torch.manual_seed(3)
    first = next(iter(cached.train_dataloader()))
    torch.manual_seed(3)
    assert_same_batch(first, next(iter(fresh.train_dataloader())))  # the loader path, shuffled alike


def test_table_built_in_chunks_gives_the_same_batches(dataset: Path) -> None:
    dm = module(dataset, "graph", cache_mb=0)
    jets, targets = dm.splits["train"]
    jets = dm.builder.trim(jets)
    whole, chunked = (build_table(jets, targets, dm.builder, 64, chunk=c) for c in (4096, 7))
    assert whole is not None and chunked is not None
    rows = np.arange(len(targets))[::-1]
    assert_same_batch(dm.builder.assemble({k: torch.from_numpy(v[rows]) for k, v in whole.items()}),
                      dm.builder.assemble({k: torch.from_numpy(v[rows]) for k, v in chunked.items()}))


def test_table_over_budget_is_not_built() -> None:
    jets = make_jets(200, seed=1)
    builder = BatchBuilder(RepresentationConfig(name="image", image_bins=40)).fit(jets)  # 6.4 kB per jet
    assert build_table(jets, jets.labels, builder, budget_mb=1) is None  # 1.3 MB > 1 MB
    table = build_table(jets[:100], jets.labels[:100], builder, budget_mb=1)
    assert table is not None and table["x"].shape == (100, 1, 40, 40)


@pytest.mark.parametrize("bad", [-1, 1.5])
def test_cache_mb_must_be_a_whole_number(bad: Any) -> None:
    with pytest.raises(UsageError, match="cache_mb"):
        DataConfig(path="x", cache_mb=bad)
