"""Datasets larger than memory: one split of a :class:`~jetlab.io.source.Source`, streamed in chunks.

A PyTorch ``IterableDataset`` under Lightning (no home-made distributed layer): each epoch the chunks
(row ranges of files, see :meth:`Source.chunks`) are put in an order drawn from ``(seed, epoch)``, and
DDP rank ``r`` of ``R`` with loader worker ``w`` of ``W`` reads chunks ``r·W + w, r·W + w + R·W, ...``:
every chunk is read by exactly one process, so processes see disjoint jets (with fewer chunks than
processes the chunks are first cut into equal row ranges, so that no rank is left without data). Rows of
several chunks fill a shuffle buffer whose rows are permuted before they are cut into batches. Training yields exactly
``n_batches`` per process (the same on every rank, so DDP never waits for a rank that ran out), passing
over its chunks as often as that takes; evaluation reads its chunks once, in order.

Splits are a hash of the global jet index (:func:`hash_split`): stable, disjoint, independent of the
training seed and of how files are chunked. Memory stays bounded by the buffer plus one chunk.

Why not litdata or webdataset: both need the dataset rewritten into their own shard format (litdata's
optimized chunks, webdataset's tar files), a second copy of data that already sits in chunked HDF5 or ROOT
files readable by row range; what they would add (rank/worker sharding, shuffle buffer) is the few lines
of ``__iter__`` below on top of PyTorch's own ``IterableDataset`` and ``get_worker_info``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from jetlab.errors import UsageError
from jetlab.io.source import Source

__all__ = ["hash_split", "split_masks", "StreamDataset", "process_slot", "LabelTargets"]

_SPLITS = ("train", "val", "test")


def _mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finalizer: uint64 -> well-mixed uint64 (Steele, Lea, Flood 2014)."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def hash_split(index: np.ndarray, val_fraction: float, test_fraction: float, split_seed: int = 0) -> np.ndarray:
    """(N,) split of each global jet index: 0 train, 1 val, 2 test; a pure function of (index, seed).

    Example:
        >>> s = hash_split(np.arange(100_000), 0.2, 0.2)
        >>> [round(float((s == k).mean()), 2) for k in range(3)]
        [0.6, 0.2, 0.2]
    """
    seed = _mix64(np.array([split_seed], np.uint64))[0]
    u = (_mix64(np.asarray(index, np.uint64) ^ seed) >> np.uint64(11)).astype(np.float64) / 2.0**53  # [0, 1)
    return np.where(u < test_fraction, 2, np.where(u < test_fraction + val_fraction, 1, 0)).astype(np.int8)


def split_masks(n: int, val_fraction: float, test_fraction: float, split_seed: int) -> dict[str, np.ndarray]:
    s = hash_split(np.arange(n), val_fraction, test_fraction, split_seed)
    return {name: s == k for k, name in enumerate(_SPLITS)}


class LabelTargets:
    """Targets as a function of the dataset label alone, ``table[label]`` (-1 for label -1): picklable, so
    loader worker processes started by spawn or forkserver can receive it (a lambda cannot be pickled)."""

    def __init__(self, table: np.ndarray) -> None:
        self.table = np.asarray(table, np.int64)

    def __call__(self, labels: np.ndarray) -> np.ndarray:
        labels = np.asarray(labels, np.int64)
        return np.where(labels >= 0, self.table[np.clip(labels, 0, len(self.table) - 1)], -1)


def process_slot() -> tuple[int, int]:
    """(slot, n_slots) of this process among DDP ranks × loader workers."""
    rank, world = 0, 1
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
    info = get_worker_info()
    worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
    return rank * workers + worker, world * workers


class StreamDataset(IterableDataset):
    """Batches (dicts from ``make_batch``) of split ``split`` of ``source``.

    ``targets(labels) -> (N,)`` gives each jet's target, -1 to drop it (classes outside the selection);
    ``n_batches`` (training) is the number of batches each process yields, cycling over its chunks;
    None (evaluation) reads each chunk once, in order, and yields the last partial batch too.
    """

    def __init__(self, source: Source, split: str, fractions: tuple[float, float], split_seed: int,
                 targets: Callable[[np.ndarray], np.ndarray], make_batch: Callable[..., dict[str, Any]],
                 batch_size: int, chunk_size: int = 8192, shuffle: bool = False, buffer: int = 65536,
                 seed: int = 0, n_batches: int | None = None) -> None:
        super().__init__()
        self.source, self.split, self.fractions, self.split_seed = source, split, fractions, split_seed
        self.targets, self.make_batch, self.batch_size = targets, make_batch, batch_size
        self.chunk_list = source.chunks(chunk_size)
        self.offsets = source.offsets
        self.shuffle, self.buffer, self.seed, self.n_batches = shuffle, max(buffer, batch_size), seed, n_batches
        self.epoch = 0

    def _rows(self, c: int) -> tuple[Any, np.ndarray]:
        """Jets of chunk ``c`` in this split and selection, and their targets."""
        return self._read(*self.chunk_list[c])

    def _read(self, f: int, lo: int, hi: int) -> tuple[Any, np.ndarray]:
        """Jets ``[lo:hi]`` of file ``f`` in this split and selection, and their targets."""
        jets = self.source.read(f, lo, hi)
        trim = getattr(self.make_batch, "trim", None)
        jets = trim(jets) if trim is not None else jets  # only the particle slots the representation reads
        split = hash_split(self.offsets[f] + np.arange(lo, hi), *self.fractions, self.split_seed)
        targets = self.targets(jets.labels)
        keep = (split == _SPLITS.index(self.split)) & (targets >= 0)
        return jets[keep], targets[keep]

    def _pieces(self, slots: int) -> list[tuple[int, int, int]]:
        """The chunks, each cut into equal row ranges when there are fewer chunks than processes, so that
        every process has rows to read (a rank without any would leave the others waiting in DDP)."""
        n = len(self.chunk_list)
        if n == 0 or n >= slots:
            return self.chunk_list
        parts, out = -(-slots // n), []
        for f, lo, hi in self.chunk_list:
            cuts = np.linspace(lo, hi, parts + 1).round().astype(np.int64)
            out += [(f, int(a), int(b)) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]
        return out

    def my_chunks(self, epoch: int) -> list[tuple[int, int, int]]:
        """``(file, start, stop)`` ranges this process reads in ``epoch`` (disjoint across processes)."""
        slot, slots = process_slot()
        pieces = self._pieces(slots)
        n = len(pieces)
        order = np.random.default_rng([self.seed, epoch]).permutation(n) if self.shuffle else np.arange(n)
        return [pieces[i] for i in order[slot::slots]]

    def _quota(self) -> int | None:
        if self.n_batches is None:
            return None
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        return self.n_batches // workers + (worker < self.n_batches % workers)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Evaluation: one pass over this process's ranges. Training: passes until ``quota`` batches; the
        buffer is drained when full and at the end of each pass (never re-reading rows to fill it)."""
        epoch, self.epoch = self.epoch, self.epoch + 1
        mine, quota = self.my_chunks(epoch), self._quota()
        if quota == 0 or (quota is None and not mine):
            return
        rng = np.random.default_rng([self.seed, epoch, *process_slot()])
        pending: list[tuple[Any, np.ndarray]] = []
        held, emitted = 0, 0
        for _ in itertools.count() if quota is not None else range(1):
            read = 0
            for i, piece in enumerate(mine):
                jets, targets = self._read(*piece)
                pending.append((jets, targets))
                held, read = held + len(targets), read + len(targets)
                end = i == len(mine) - 1
                if held < self.buffer and not end:
                    continue
                for batch in self._drain(pending, rng, keep_tail=quota is not None or not end):
                    yield batch
                    emitted += 1
                    if quota is not None and emitted >= quota:
                        return
                held = sum(len(t) for _, t in pending)
            if read == 0:  # training, and nothing to cycle over: fail rather than leave the other ranks waiting
                slot, slots = process_slot()
                raise UsageError(f"{self.source.path}: process {slot} of {slots} has no {self.split} jets in its "
                                 f"{len(mine)} row ranges; use a smaller data.chunk_size or fewer processes")

    def _drain(self, pending: list[tuple[Any, np.ndarray]], rng: np.random.Generator,
               keep_tail: bool) -> Iterator[dict[str, Any]]:
        """Batches from the buffered rows (permuted when shuffling); a tail < batch size stays in ``pending``."""
        from jetlab.io.jets import Jets

        jets = Jets.concatenate([j for j, _ in pending])
        targets = np.concatenate([t for _, t in pending])
        pending.clear()
        order = rng.permutation(len(targets)) if self.shuffle else np.arange(len(targets))
        full = len(order) - len(order) % self.batch_size if keep_tail else len(order)
        for lo in range(0, full, self.batch_size):
            rows = order[lo:lo + self.batch_size]
            yield self.make_batch(jets[rows], targets[rows])
        if full < len(order):
            rows = np.sort(order[full:])
            pending.append((jets[rows], targets[rows]))
