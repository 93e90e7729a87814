"""Streaming (data/stream.py): hash splits, rank × worker sharding, training quotas, shuffling, end to end and DDP.

Every jet carries its global index in its ``j_mass_mmdt`` feature, which batches return as ``mass``, so a
test can say exactly which jets a process saw.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from torch.utils.data import DataLoader

import jetlab.data.stream as stream
from jetlab.data.stream import StreamDataset, hash_split, split_masks
from jetlab.errors import UsageError
from jetlab.io.jets import Jets
from jetlab.io.readers.toptag import read_toptag
from jetlab.io.source import Source, open_source
from jetlab.tasks.config import resolve_config
from jetlab.tasks.evaluate import evaluate
from jetlab.tasks.train import train
from tests.conftest import make_jets, make_separable_jets, write_dataset
from tests.foreign import write_toptag

N = 1000
FRACTIONS = (0.2, 0.2)  # val, test
SPLIT_CODE = {"train": 0, "val": 1, "test": 2}


def _with_ids(jets: Jets) -> Jets:
    """``jets`` whose ``j_mass_mmdt`` (the batch ``mass``) is their index: exact in float32 below 2**24."""
    jets.hlf[:, jets.hlf_names.index("j_mass_mmdt")] = np.arange(len(jets))
    return jets


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Source:
    """N jets in 8 shards of 130 (the last 90): chunks never cross a file, so their sizes vary."""
    return open_source(write_dataset(tmp_path_factory.mktemp("ids") / "d", _with_ids(make_jets(N, 8)), 130))


def _all_targets(labels: np.ndarray) -> np.ndarray:
    return labels


def _ids(jets: Jets, targets: np.ndarray) -> dict[str, Any]:
    return {"id": jets.feature("j_mass_mmdt").astype(np.int64), "y": targets}


def _dataset(src: Source, split: str = "test", **kw: Any) -> StreamDataset:
    args: dict[str, Any] = {"batch_size": 16, "chunk_size": 50, "buffer": 64, **kw}
    return StreamDataset(src, split, FRACTIONS, 0, _all_targets, _ids, **args)


def _expected(split: str, n: int = N) -> np.ndarray:
    return np.flatnonzero(hash_split(np.arange(n), *FRACTIONS) == SPLIT_CODE[split])


def _slot_batches(monkeypatch: pytest.MonkeyPatch, ds: StreamDataset, slot: int, slots: int) -> list[np.ndarray]:
    """The id arrays of the batches that process ``slot`` of ``slots`` yields in one pass of ``ds``."""
    monkeypatch.setattr(stream, "process_slot", lambda: (slot, slots))
    return [b["id"] for b in ds]


# ------------------------------------------------------------------ hash_split
def test_hash_split_deterministic_fractions_disjoint() -> None:
    idx = np.arange(100_000)
    s = hash_split(idx, 0.1, 0.25, split_seed=7)
    assert np.array_equal(s, hash_split(idx, 0.1, 0.25, split_seed=7))
    assert set(np.unique(s)) == {0, 1, 2}  # one split per jet: disjoint by construction
    for k, want in enumerate((0.65, 0.1, 0.25)):
        assert abs((s == k).mean() - want) < 0.006  # ~4 sigma at 1e5 jets
    masks = split_masks(len(idx), 0.1, 0.25, 7)
    assert np.array_equal(masks["train"].astype(int) + masks["val"] + masks["test"], np.ones(len(idx)))
    other = hash_split(idx, 0.1, 0.25, split_seed=8)
    assert (other != s).mean() > 0.3 and abs((other == 2).mean() - 0.25) < 0.006


def test_hash_split_is_per_jet() -> None:
    """A jet's split depends on its index only: any permutation or chunking of the indices agrees."""
    idx = np.arange(20_000)
    whole = hash_split(idx, *FRACTIONS)
    perm = np.random.default_rng(0).permutation(len(idx))
    assert np.array_equal(hash_split(idx[perm], *FRACTIONS), whole[perm])
    for size in (1, 7, 4096):
        parts = [hash_split(idx[lo:lo + size], *FRACTIONS) for lo in range(0, len(idx), size)]
        assert np.array_equal(np.concatenate(parts), whole)


@pytest.mark.parametrize("chunk_size", [7, 50, 10_000])
def test_split_does_not_depend_on_chunking(source: Source, chunk_size: int) -> None:
    """Reading with any chunk size gives each split exactly the jets hash_split assigns it, in order."""
    for split in ("train", "val", "test"):
        got = np.concatenate([b["id"] for b in _dataset(source, split, chunk_size=chunk_size)])
        assert np.array_equal(got, _expected(split))


# ------------------------------------------------------------------ sharding over processes
@pytest.mark.parametrize(("slots", "chunk_size"), [(3, 50), (5, 130), (11, 10_000)])
def test_evaluation_slots_partition_the_split(monkeypatch: pytest.MonkeyPatch, source: Source, slots: int,
                                              chunk_size: int) -> None:
    """Slots 0..S-1 see disjoint jets whose union is the split; (11, 10_000): fewer chunks (8) than slots."""
    ds = _dataset(source, chunk_size=chunk_size)
    seen = [np.concatenate(_slot_batches(monkeypatch, ds, s, slots) or [np.zeros(0, np.int64)])
            for s in range(slots)]
    assert all(len(ids) > 0 for ids in seen)  # every slot has work
    together = np.concatenate(seen)
    assert len(together) == len(set(together.tolist()))
    assert np.array_equal(np.sort(together), _expected("test"))


@pytest.mark.parametrize(("slots", "n_batches", "chunk_size"), [(3, 4, 50), (2, 40, 50), (11, 3, 10_000)])
def test_training_yields_exactly_n_batches(monkeypatch: pytest.MonkeyPatch, source: Source, slots: int,
                                           n_batches: int, chunk_size: int) -> None:
    """Each slot yields n_batches full batches, cycling over its chunks when they hold fewer (2, 40: ~19 batches
    per slot), from jets of its own chunks only (disjoint across slots)."""
    ds = _dataset(source, "train", chunk_size=chunk_size, shuffle=True, n_batches=n_batches)
    seen = []
    for s in range(slots):
        batches = _slot_batches(monkeypatch, ds, s, slots)
        ds.epoch = 0  # one dataset object plays every slot: each replays epoch 0
        assert len(batches) == n_batches and all(len(b) == 16 for b in batches)
        seen.append(set(np.concatenate(batches).tolist()))
    for a in range(slots):
        assert seen[a] <= set(_expected("train").tolist())
        assert all(not (seen[a] & seen[b]) for b in range(a + 1, slots))


def test_training_reads_each_range_once_per_pass(source: Source) -> None:
    """A buffer larger than the process's data is drained at the end of the pass: rows are not read again
    just to fill it (with the default 65536-jet buffer a small dataset was re-read ~100 times per epoch)."""
    reads: list[tuple[int, int, int | None]] = []

    def read(f: int, lo: int = 0, hi: int | None = None) -> Jets:
        reads.append((f, lo, hi))
        return source.read(f, lo, hi)

    counting = Source(source.path, source.files, source.scheme)
    counting.read = read  # type: ignore[method-assign]
    ds = StreamDataset(counting, "train", FRACTIONS, 0, _all_targets, _ids, batch_size=16, chunk_size=50,
                       shuffle=True, buffer=65536, n_batches=len(_expected("train")) // 16)
    assert len(list(ds)) == len(_expected("train")) // 16
    assert sorted(reads) == sorted(source.chunks(50))


def test_training_process_without_jets_fails(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A rank whose chunks hold no selected jets raises instead of yielding nothing (DDP would hang)."""
    jets = make_jets(400, 8)
    jets = _with_ids(jets[np.argsort(jets.labels, kind="stable")])  # class k in shard k
    src = open_source(write_dataset(tmp_path / "d", jets, 80))
    ds = StreamDataset(src, "train", FRACTIONS, 0, lambda lab: np.where(lab == 0, 0, -1), _ids, batch_size=4,
                       chunk_size=80, shuffle=False, n_batches=2)
    assert len(_slot_batches(monkeypatch, ds, 0, 5)) == 2  # slot 0 reads shard 0: class 0
    with pytest.raises(UsageError, match="process 1 of 5 has no train jets"):
        _slot_batches(monkeypatch, ds, 1, 5)


def test_loader_workers_partition_the_split(source: Source) -> None:
    """Two real DataLoader workers (get_worker_info): evaluation covers the split once; training splits the
    quota between them."""
    ids = np.concatenate([b["id"] for b in DataLoader(_dataset(source), batch_size=None, num_workers=2)])
    assert np.array_equal(np.sort(ids), _expected("test"))
    loader = DataLoader(_dataset(source, "train", shuffle=True, n_batches=5), batch_size=None, num_workers=2)
    assert len(list(loader)) == 5


# ------------------------------------------------------------------ order and shuffling
def _order(ds: StreamDataset) -> list[int]:
    return np.concatenate([b["id"] for b in ds]).tolist()


def test_order_follows_seed_and_epoch(source: Source) -> None:
    def make(seed: int) -> StreamDataset:
        return _dataset(source, "train", shuffle=True, n_batches=20, seed=seed)

    a, b = make(3), make(3)
    first = _order(a)
    assert first == _order(b)  # same seed, same epoch: same order
    second = _order(a)  # the next epoch
    assert second != first and _order(b) == second
    assert _order(make(4)) != first
    assert set(first) <= set(_expected("train").tolist())


def test_shuffle_mixes_chunks_within_a_batch(source: Source) -> None:
    """With a buffer of several chunks, a batch holds jets of several chunks, not one chunk's run of rows."""
    chunk_of = np.concatenate([np.full(hi - lo, c) for c, (_, lo, hi) in enumerate(source.chunks(20))])

    def spread(ds: StreamDataset) -> list[int]:  # chunks per batch
        return [len(set(chunk_of[b["id"]])) for b in ds]

    shuffled = spread(_dataset(source, "train", chunk_size=20, buffer=200, shuffle=True, n_batches=10))
    plain = spread(_dataset(source, "train", chunk_size=20, buffer=200))  # runs of ~27 rows, ~12 train jets a chunk
    assert min(shuffled) >= 4 and max(plain) <= 4 and np.mean(shuffled) > 2 * np.mean(plain)


# ------------------------------------------------------------------ end to end
STREAM = {"data": {"stream": "stream", "chunk_size": 50, "num_workers": 0},
          "trainer": {"epochs": 1, "batch_size": 32, "progress": False}}


def _train_and_evaluate(model: str, data: Path, out: Path, n: int) -> tuple[dict[str, Any], dict[str, Any]]:
    summary = train(resolve_config(model, str(data), overrides=STREAM), out)
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["data"]["stream"] == "stream" and summary["data"] == "stream"
    assert summary["global_steps"] == -(-len(_expected("train", n)) // 32)  # one epoch: ceil(train jets / batch)
    result = evaluate(out, n_bootstrap=2)
    assert result["n_jets"] == len(_expected("test", n))
    return summary, result


def test_train_and_evaluate_streamed_jetlab(tmp_path: Path) -> None:
    data = write_dataset(tmp_path / "d", _with_ids(make_separable_jets(400)), 60)
    _train_and_evaluate("mlp", data, tmp_path / "run", 400)
    predicted = np.load(tmp_path / "run" / "predictions.npz")["mass"]  # the jet ids, see _with_ids
    assert np.array_equal(np.sort(predicted).astype(np.int64), _expected("test", 400))  # each test jet once


def test_train_and_evaluate_streamed_toptag(tmp_path: Path) -> None:
    write_toptag(tmp_path / "train.h5", n=300, m=200)
    _train_and_evaluate("pfn", tmp_path / "train.h5", tmp_path / "run", 300)
    jets = read_toptag(tmp_path / "train.h5")
    want = np.sort(jets.jet[_expected("test", 300), 3].astype(np.float32))
    got = np.sort(np.load(tmp_path / "run" / "predictions.npz")["mass"])
    assert len(np.unique(want)) == len(want) and np.array_equal(got, want)  # masses tell the jets apart


# ------------------------------------------------------------------ DDP
_DDP_SCRIPT = """
import sys
from pathlib import Path

from jetlab.cli import main
from jetlab.tasks.classify import ClassifierModule

record = Path(sys.argv[1])
step = ClassifierModule.training_step


def recording(self, batch, batch_idx):
    ids = " ".join(str(int(v)) for v in batch["mass"].tolist())
    with open(record / f"rank{self.global_rank}.txt", "a") as f:
        f.write(f"{self.current_epoch} {ids}\\n")
    return step(self, batch, batch_idx)


ClassifierModule.training_step = recording
if __name__ == "__main__":
    sys.exit(main(sys.argv[2:]))
"""


def test_ddp_ranks_train_on_disjoint_jets(tmp_path: Path) -> None:
    """`jetlab train --devices 2 --strategy ddp --accelerator cpu` (gloo): each rank's jets, recorded by a
    training-step hook, are disjoint from the other's in every epoch, and both ranks take the same steps."""
    data = write_dataset(tmp_path / "d", _with_ids(make_separable_jets(600)), 100)
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump({"data": {"stream": "stream", "chunk_size": 40}}))
    script, record = tmp_path / "ddp_train.py", tmp_path / "record"
    script.write_text(textwrap.dedent(_DDP_SCRIPT))
    record.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    argv = [sys.executable, str(script), str(record), "train", "--model", "mlp", "--data", str(data), "--out",
            str(tmp_path / "run"), "--config", str(tmp_path / "cfg.yaml"), "--epochs", "2", "--batch-size", "32",
            "--devices", "2", "--strategy", "ddp", "--accelerator", "cpu", "--num-workers", "0", "--no-progress"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    steps: dict[int, dict[int, list[set[int]]]] = {}
    for rank in (0, 1):
        for line in (record / f"rank{rank}.txt").read_text().splitlines():
            epoch, *ids = map(int, line.split())
            steps.setdefault(rank, {}).setdefault(epoch, []).append(set(ids))
    n_train = len(_expected("train", 600))
    for epoch in (0, 1):
        a, b = (set().union(*steps[rank][epoch]) for rank in (0, 1))
        assert a and b and not (a & b)
        assert len(steps[0][epoch]) == len(steps[1][epoch]) == -(-n_train // (32 * 2))
    assert json.loads((tmp_path / "run" / "train.json").read_text())["data"] == "stream"
