"""The Lightning DataModule: a dataset, a class selection, splits, and batches built on the fly."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler

from jetlab.classes import CLASSES, ClassSelection
from jetlab.data.batches import BatchBuilder, RepresentationConfig
from jetlab.data.splits import split_indices, subset, targets_for
from jetlab.errors import UsageError
from jetlab.io import open_jets
from jetlab.io.jets import Jets

__all__ = ["DataConfig", "JetDataModule", "build_table", "default_workers"]


@dataclass(frozen=True)
class DataConfig:
    path: str
    classes: str = "g,q,w,z,t"
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    split_seed: int = 0
    balance: str = "weights"  # "weights" (loss weights), "sampler" (balanced sampling) or "none"
    num_workers: int | None = None  # loader processes; None = :func:`default_workers`
    max_jets: int | None = None  # use only N random jets of each split (quick runs)
    cache_mb: int = 1024  # a split's representation built once and kept if at most this size; 0 = per batch

    def __post_init__(self) -> None:
        if self.balance not in ("weights", "sampler", "none"):
            raise UsageError(f"data.balance: {self.balance!r} is not one of weights, sampler, none")
        if not isinstance(self.cache_mb, int) or self.cache_mb < 0:
            raise UsageError(f"data.cache_mb: {self.cache_mb!r} is not a whole number of MB >= 0")


def default_workers() -> int:
    """Loader worker processes when the config leaves them open.

    0 without CUDA: on CPU a training step costs far more than building its batch (``benchmarks/pipeline.py``:
    >= 10x for every representation), and workers would only take cores from the step. With CUDA the step
    is fast, so batches are built in the background: half the cores, at most 4.
    """
    if not torch.cuda.is_available():
        return 0
    return max(1, min(4, (os.cpu_count() or 2) // 2))


class _Indices(Dataset):
    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        return i


def build_table(jets: Jets, targets: np.ndarray, builder: BatchBuilder, budget_mb: int,
                chunk: int = 2048) -> dict[str, np.ndarray] | None:
    """The :meth:`BatchBuilder.columns` of all of ``jets``, built chunk by chunk; None if over ``budget_mb``.

    The size is extrapolated from the first chunk, so a split over budget costs one chunk, not a build.
    Kept as numpy arrays: numpy's single-threaded row gather costs no thread-pool wake-up per batch
    (torch's indexing on a busy machine was several times slower than building the batch afresh).
    """
    if budget_mb <= 0 or len(jets) == 0:
        return None
    first = builder.columns(jets[:chunk], targets[:chunk])
    per_jet = sum(v.element_size() * v.numel() for v in first.values()) / min(chunk, len(jets))
    if per_jet * len(jets) > budget_mb * 2**20:
        return None
    parts = [first, *(builder.columns(jets[i:i + chunk], targets[i:i + chunk]) for i in range(chunk, len(jets), chunk))]
    return {key: torch.cat([part[key] for part in parts]).numpy() for key in first}


class _Collate:
    """Index list -> batch dict: rows gathered from the split's cached columns (``table``), or, without a
    table, one vectorized representation call per batch. Both give the same batch."""

    def __init__(self, jets: Jets, targets: np.ndarray, builder: BatchBuilder,
                 table: dict[str, np.ndarray] | None = None) -> None:
        self.jets, self.targets, self.builder, self.table = jets, targets, builder, table

    def __call__(self, idx: list[int]) -> dict[str, Any]:
        rows = np.asarray(idx)
        if self.table is None:
            return self.builder(self.jets[rows], self.targets[rows])
        return self.builder.assemble({key: torch.from_numpy(col[rows]) for key, col in self.table.items()})


class JetDataModule(L.LightningDataModule):
    """Loads ``config.path``, keeps the selected classes, splits, and serves batches of one representation."""

    def __init__(self, config: DataConfig, selection: ClassSelection, representation: RepresentationConfig,
                 batch_size: int = 256, builder: BatchBuilder | None = None) -> None:
        super().__init__()
        self.config, self.selection, self.batch_size = config, selection, batch_size
        self.builder = builder or BatchBuilder(representation)
        self.splits: dict[str, tuple[Jets, np.ndarray]] = {}
        self._collates: dict[str, _Collate] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        jets = open_jets(self.config.path)
        index = [CLASSES.index(c) for c in self.selection.signal], [CLASSES.index(c) for c in self.selection.background]
        targets = targets_for(jets.labels, tuple(index[0]), tuple(index[1]))
        keep = targets >= 0
        missing = [c for c in self.selection.classes if CLASSES.index(c) not in set(jets.labels[keep].tolist())]
        if missing:
            raise UsageError(f"--classes: {self.config.path} has no jets of class {','.join(missing)}")
        jets, targets = jets[keep], targets[keep]
        parts = split_indices(jets.labels, self.config.val_fraction, self.config.test_fraction, self.config.split_seed)
        for name, rows in parts.items():
            rows = subset(rows, self.config.max_jets, self.config.split_seed)
            self.splits[name] = (jets[rows], targets[rows])
        if self.builder.scaler is None and not self.builder.features:
            self.builder.fit(self.splits["train"][0])

    @property
    def n_classes(self) -> int:
        return 2 if self.selection.binary else len(self.selection.signal)

    def class_weights(self) -> torch.Tensor:
        """N / (C n_c) on the training split ('weights' balance), else ones."""
        counts = np.bincount(self.splits["train"][1], minlength=self.n_classes).astype(np.float64)
        if self.config.balance != "weights":
            return torch.ones(self.n_classes)
        return torch.as_tensor(counts.sum() / (self.n_classes * np.maximum(counts, 1)), dtype=torch.float32)

    def collate(self, split: str) -> _Collate:
        """The split's batch maker, made once: its columns cached when they fit ``config.cache_mb``."""
        if split not in self._collates:
            jets, targets = self.splits[split]
            jets = self.builder.trim(jets)
            table = build_table(jets, targets, self.builder, self.config.cache_mb)
            self._collates[split] = _Collate(jets, targets, self.builder, table)
        return self._collates[split]

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        jets, targets = self.splits[split]
        sampler = None
        if split == "train" and self.config.balance == "sampler":
            counts = np.bincount(targets, minlength=self.n_classes)
            weights = 1.0 / np.maximum(counts[targets], 1)
            sampler, shuffle = WeightedRandomSampler(weights.tolist(), len(targets), replacement=True), False
        workers = default_workers() if self.config.num_workers is None else self.config.num_workers
        return DataLoader(_Indices(len(targets)), batch_size=self.batch_size, shuffle=shuffle, sampler=sampler,
                          collate_fn=self.collate(split), num_workers=workers,
                          persistent_workers=workers > 0, pin_memory=torch.cuda.is_available())

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
