"""Same seed, same result: training on CPU with ``trainer.deterministic`` is bit-for-bit repeatable.

Generation determinism (same seed -> byte-identical shards and manifest, 1 vs 2 workers, even
across a kill and rerun) is checked in tests/test_fault_tolerance.py and tests/test_generate.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from jetlab.tasks.config import resolve_config
from jetlab.tasks.train import train
from tests.conftest import make_separable_jets, write_dataset


def _run(data: Path, out: Path, seed: int) -> tuple[str, dict[str, torch.Tensor]]:
    over = {"trainer": {"epochs": 2, "batch_size": 32, "seed": seed, "deterministic": True, "progress": False}}
    train(resolve_config("pfn", str(data), overrides=over), out)
    state = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)["state_dict"]
    return (out / "logs" / "metrics.csv").read_text(), state


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("det") / "d", make_separable_jets(200))


def test_same_seed_identical_metrics_and_weights(data: Path, tmp_path: Path) -> None:
    """Tolerance zero: every logged loss/accuracy and every weight is equal, not merely close."""
    log_a, state_a = _run(data, tmp_path / "a", seed=11)
    log_b, state_b = _run(data, tmp_path / "b", seed=11)
    assert log_a == log_b and "val_loss" in log_a.splitlines()[0]
    assert state_a.keys() == state_b.keys()
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    log_c, _ = _run(data, tmp_path / "c", seed=12)
    assert log_c != log_a  # the seed matters
