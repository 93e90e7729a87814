"""The Lightning DataModule: a dataset, a class selection, splits, and batches built on the fly.

Two ways to serve a split, chosen by ``data.stream`` (``auto``: stream when the dataset would take more
than ``data.memory_mb`` in memory):

- ``memory``: the dataset is loaded once, split by class-stratified permutation
  (:func:`~jetlab.data.splits.split_indices`), and batches are rows of cached columns — the fast path;
- ``stream``: chunks of files are read as they are needed (:mod:`jetlab.data.stream`), split by a hash of
  the jet index; peak memory does not grow with the dataset.

A run records which one it used, so evaluation splits its data the same way.
"""


from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler

from jetlab.classes import ClassSelection, LabelScheme
from jetlab.data.batches import BatchBuilder, RepresentationConfig
from jetlab.data.splits import split_indices, subset, targets_for
from jetlab.data.stream import LabelTargets, StreamDataset, split_masks
from jetlab.errors import UsageError
from jetlab.io.jets import Jets
from jetlab.io.source import Source, open_source

__all__ = ["DataConfig", "JetDataModule", "build_table", "default_workers", "resolve_selection"]


@dataclass(frozen=True)
class DataConfig:
    path: str
    classes: str | None = None  # "g,q" or "t:g,q" in the dataset's class names; None = every class it holds
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    split_seed: int = 0
    balance: str = "weights"  # "weights" (loss weights), "sampler" (balanced sampling) or "none"
    num_workers: int | None = None  # loader processes; None = :func:`default_workers`
    max_jets: int | None = None  # use only N random jets of each split (quick runs; streamed: N training jets)
    cache_mb: int = 1024  # a split's representation built once and kept if at most this size; 0 = per batch
    stream: str = "auto"  # "memory", "stream", or "auto": stream when the jets would take more than memory_mb
    memory_mb: int = 4096
    chunk_size: int = 8192  # jets read at a time when streaming
    shuffle_buffer: int = 65536  # jets mixed before batching when streaming (training split)

    def __post_init__(self) -> None:
        if self.balance not in ("weights", "sampler", "none"):
            raise UsageError(f"data.balance: {self.balance!r} is not one of weights, sampler, none")
        if not isinstance(self.cache_mb, int) or self.cache_mb < 0:
            raise UsageError(f"data.cache_mb: {self.cache_mb!r} is not a whole number of MB >= 0")
        if self.stream not in ("auto", "memory", "stream"):
            raise UsageError(f"data.stream: {self.stream!r} is not one of auto, memory, stream")
        for key in ("memory_mb", "chunk_size", "shuffle_buffer"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UsageError(f"data.{key}: {value!r} is not a positive whole number")


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


def resolve_selection(text: str | None, scheme: LabelScheme, labels: np.ndarray, where: str,
                      flag: str = "--classes") -> ClassSelection:
    """The selection ``text`` in ``scheme``'s names, or every class present in ``labels`` when None.

    A selected class without jets in ``labels`` is a :class:`UsageError` naming ``where`` (the dataset).
    """
    present = sorted({int(v) for v in np.unique(labels) if v >= 0})
    if text is None:
        if not present:
            raise UsageError(f"{flag}: {where} holds no labelled jets")
        return ClassSelection(tuple(scheme.classes[i] for i in present))
    selection = scheme.selection(text, flag)
    missing = [c for c in selection.classes if scheme.index(c) not in present]
    if missing:
        raise UsageError(f"{flag}: {where} has no jets of class {','.join(missing)} "
                         f"(it holds: {','.join(scheme.classes[i] for i in present) or 'none'})")
    return selection


class JetDataModule(L.LightningDataModule):
    """Opens ``config.path``, resolves the class selection in the dataset's label scheme, splits, and serves
    batches of one representation, from memory or streamed (see the module docstring).

    ``selection`` None: from ``config.classes`` (None there: every class the dataset holds).
    ``scheme``: the label scheme the caller expects (a trained run's); a dataset with other classes is a
    :class:`UsageError` naming both. Subclasses change which jets each split serves with :meth:`split_targets`.
    """

    def __init__(self, config: DataConfig, selection: ClassSelection | None, representation: RepresentationConfig,
                 batch_size: int = 256, builder: BatchBuilder | None = None, scheme: LabelScheme | None = None,
                 seed: int = 0) -> None:
        super().__init__()
        self.config, self.batch_size, self.seed = config, batch_size, seed
        self._selection, self.expected_scheme = selection, scheme
        self.builder = builder or BatchBuilder(representation)
        self.splits: dict[str, tuple[Jets, np.ndarray]] = {}
        self.mode = ""  # "memory" or "stream", set by setup()
        self.scheme: LabelScheme | None = None
        self._targets: dict[str, np.ndarray] = {}
        self._collates: dict[str, _Collate] = {}
        self._source: Source | None = None

    # ------------------------------------------------------------------ setup (one path for every task)
    @property
    def selection(self) -> ClassSelection:
        if self._selection is None:
            raise RuntimeError("JetDataModule.setup() resolves the class selection; call it first")
        return self._selection

    def split_targets(self, split: str, labels: np.ndarray) -> np.ndarray:
        """Targets of jets with dataset ``labels`` in ``split``; -1 leaves a jet out (classification: the
        class position in the selection, or 1/0 for signal/background)."""
        sig = self.scheme_or_fail().labels_of(self.selection.signal)
        bkg = self.scheme_or_fail().labels_of(self.selection.background)
        return targets_for(labels, tuple(sig), tuple(bkg))

    def scheme_or_fail(self) -> LabelScheme:
        if self.scheme is None:
            raise RuntimeError("JetDataModule.setup() must run first")
        return self.scheme

    def setup(self, stage: str | None = None) -> None:
        if self.mode:
            return
        source = self._source = open_source(self.config.path)
        self.scheme = source.scheme
        if self.expected_scheme is not None and not self.expected_scheme.same_classes(source.scheme):
            raise UsageError(f"--data: {self.config.path} holds label scheme {source.scheme}, the run was trained "
                             f"on {self.expected_scheme}")
        self.mode = self._choose_mode(source)
        if self.mode == "memory":
            self._setup_memory(source)
        else:
            self._setup_stream(source)

    def _choose_mode(self, source: Source) -> str:
        if self.config.stream != "auto":
            return self.config.stream
        if len(source) == 0:
            return "memory"
        sample = source.read(0, 0, min(64, source.files[0].n_jets))
        arrays = [v for v in vars(sample).values() if isinstance(v, np.ndarray)]  # jets, showers, ...
        per_jet = sum(a.nbytes for a in arrays) / max(len(sample), 1)
        return "stream" if 2 * per_jet * len(source) > self.config.memory_mb * 2**20 else "memory"  # jets + splits

    def split_pool(self, labels: np.ndarray) -> np.ndarray:
        """(N,) bool: the jets the class-stratified split is drawn from (classification: the selected classes,
        so a run's test jets depend on its dataset, selection and split seed only)."""
        return self.split_targets("train", labels) >= 0

    def _setup_memory(self, source: Source) -> None:
        jets = source.load()
        if self._selection is None:
            self._selection = resolve_selection(self.config.classes, jets.scheme, jets.labels, self.config.path)
        self._check_present(jets.labels)
        labelled = np.flatnonzero(self.split_pool(jets.labels))
        parts = split_indices(jets.labels[labelled], self.config.val_fraction, self.config.test_fraction,
                              self.config.split_seed)
        for name, local in parts.items():
            rows = labelled[local]
            targets = self.split_targets(name, jets.labels[rows])
            rows, targets = rows[targets >= 0], targets[targets >= 0]
            keep = subset(np.arange(len(rows)), self.config.max_jets, self.config.split_seed)
            self.splits[name] = (jets[rows[keep]], targets[keep])
            self._targets[name] = targets[keep]
        if not self.builder.fitted:
            self.builder.fit(self.splits["train"][0])

    def _check_present(self, labels: np.ndarray) -> None:
        """Every selected class has jets (a selection passed in, e.g. a trained run's, is checked too)."""
        resolve_selection(self.selection.text, self.scheme_or_fail(), labels, self.config.path)

    def _setup_stream(self, source: Source) -> None:
        if self.config.balance == "sampler":
            raise UsageError("data.balance: 'sampler' needs the data in memory; use 'weights' when streaming")
        labels = source.labels()
        if self._selection is None:
            self._selection = resolve_selection(self.config.classes, source.scheme, labels, self.config.path)
        self._check_present(labels)
        masks = split_masks(len(labels), self.config.val_fraction, self.config.test_fraction, self.config.split_seed)
        for name, mask in masks.items():
            targets = self.split_targets(name, labels[mask])
            self._targets[name] = targets[targets >= 0]
        if not self.builder.fitted:
            self.builder.fit(self._fit_sample(source))

    def _fit_sample(self, source: Source, n: int = 20000) -> Jets:
        """Training jets from the first chunks, to fit the representation (e.g. the HLF standardization)."""
        stream = self._stream("train", shuffle=False)
        parts, held = [], 0
        for c in range(len(stream.chunk_list)):
            jets, _ = stream._rows(c)
            parts.append(jets)
            held += len(jets)
            if held >= n:
                break
        return Jets.concatenate(parts)[:n]

    # ------------------------------------------------------------------ what tasks ask
    def split_size(self, split: str) -> int:
        return len(self._targets[split])

    def targets(self, split: str) -> np.ndarray:
        """(N,) targets of every jet of ``split``, in the order evaluation reads them."""
        return self._targets[split]

    @property
    def n_classes(self) -> int:
        return 2 if self.selection.binary else len(self.selection.signal)

    def class_weights(self) -> torch.Tensor:
        """N / (C n_c) on the training split ('weights' balance), else ones."""
        counts = np.bincount(self._targets["train"], minlength=self.n_classes).astype(np.float64)
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

    # ------------------------------------------------------------------ loaders
    def _stream(self, split: str, shuffle: bool) -> StreamDataset:
        assert self._source is not None
        trainer = getattr(self, "trainer", None)
        world = trainer.world_size if trainer is not None else 1
        # every rank the same number of full batches (DDP waits for the slowest); at least one
        n = min(self.split_size(split), self.config.max_jets or self.split_size(split))  # max_jets: streamed
        #                                                                                   training only
        n_batches = max(1, -(-n // (self.batch_size * world))) if shuffle else None
        targets = LabelTargets(self.split_targets(split, np.arange(len(self.scheme_or_fail().classes))))
        ds = StreamDataset(self._source, split, (self.config.val_fraction, self.config.test_fraction),
                           self.config.split_seed, targets, self.builder, self.batch_size, self.config.chunk_size,
                           shuffle, self.config.shuffle_buffer, self.seed, n_batches)
        ds.epoch = trainer.current_epoch if trainer is not None else 0  # a resumed run continues the order
        return ds

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        workers = default_workers() if self.config.num_workers is None else self.config.num_workers
        common = {"num_workers": workers, "persistent_workers": workers > 0, "pin_memory": torch.cuda.is_available()}
        if self.mode == "stream":
            return DataLoader(self._stream(split, shuffle), batch_size=None, **common)
        targets = self.splits[split][1]
        sampler = None
        if split == "train" and self.config.balance == "sampler":
            counts = np.bincount(targets, minlength=self.n_classes)
            weights = 1.0 / np.maximum(counts[targets], 1)
            sampler, shuffle = WeightedRandomSampler(weights.tolist(), len(targets), replacement=True), False
        return DataLoader(_Indices(len(targets)), batch_size=self.batch_size, shuffle=shuffle, sampler=sampler,
                          collate_fn=self.collate(split), **common)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
