"""The ``track`` task: trackers trained on TrackML events, evaluated with the TrackML score.

A run's data is a directory of events in the TrackML layout (:mod:`jetlab.io.trackml`), split by event
id (:func:`jetlab.data.stream.hash_split` of the id: an event's split never depends on the others). The
module map (:class:`~jetlab.represent.hitgraph.ModuleMap`) is learned from the training events only and
saved in ``RUN/representation.json``. What a batch holds follows the model's representation:

- ``hitgraph`` (edge classifiers): one graph per event, ``{"graph": torch_geometric Batch}``; loss =
  BCE on the edge logits with the positive edges weighted by (false / true edges) of the training graphs;
- ``hitseq`` (next-hit models): hit sequences of particles with pT > ``seq_pt_min``, one hit per layer,
  ``{"seq": (B, T, 3), "mask": (B, T)}``; loss = Gaussian NLL of hit t + 1 predicted after t >= 2 hits.

:func:`evaluate_tracker` runs the whole pipeline on the test events (graph, edge scores, track building;
or seeds and LSTM following) and writes ``metrics.json`` and the tracks as a TrackML submission
(``submission.csv``: ``event_id,hit_id,track_id``), scored as ``jetlab tracks evaluate`` scores any tracks.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, cast

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from jetlab.classes import ClassSelection, LabelScheme, register_scheme
from jetlab.data.batches import BatchBuilder, RepresentationConfig
from jetlab.data.module import DataConfig
from jetlab.data.stream import hash_split
from jetlab.errors import UsageError
from jetlab.generate.tracking.dataset import TrackingDir, open_tracking_dir
from jetlab.io.trackml import assign_hits
from jetlab.models import InputDims, create
from jetlab.models.track.lstm_tracker import gaussian_nll
from jetlab.represent.hitgraph import ModuleMap, coordinates, event_graph
from jetlab.represent.hitseq import particle_sequences, sequence_features
from jetlab.tasks.classify import ClassifierModule, OptimConfig
from jetlab.tasks.registry import TaskSpec, register_task

__all__ = ["TRACK_SCHEME", "TrackDataModule", "TrackModule", "track_module", "evaluate_tracker", "SPLITS"]

TRACK_SCHEME = register_scheme(LabelScheme("tracks", ("hit",), ("a tracker hit; tracks are sets of hits",)))
SPLITS = ("train", "val", "test")
Event = dict[str, dict[str, np.ndarray]]


def _pad(seqs: list[np.ndarray]) -> dict[str, Tensor]:
    """Sequences (T_i, 3) -> ``seq`` (B, T, 3) zero-padded at the end, ``mask`` (B, T) True = real hit."""
    t = max(len(s) for s in seqs)
    seq = np.zeros((len(seqs), t, seqs[0].shape[1]), np.float32)
    mask = np.zeros((len(seqs), t), bool)
    for i, s in enumerate(seqs):
        seq[i, :len(s)], mask[i, :len(s)] = s, True
    return {"seq": torch.from_numpy(seq), "mask": torch.from_numpy(mask)}


def _graphs(graphs: list[Any]) -> dict[str, Any]:
    from torch_geometric.data import Batch

    return {"graph": Batch.from_data_list(graphs)}


class TrackDataModule(L.LightningDataModule):
    """TrackML events of ``config.path`` split by event id; graphs or hit sequences (module docstring).

    The signature is the task registry's: ``selection`` and ``scheme`` are fixed (one class, ``hit``).
    """

    def __init__(self, config: DataConfig, selection: ClassSelection | None, representation: RepresentationConfig,
                 batch_size: int = 1, builder: BatchBuilder | None = None, scheme: LabelScheme | None = None,
                 seed: int = 0) -> None:
        super().__init__()
        if representation.name not in ("hitgraph", "hitseq"):
            raise UsageError(f"--task track: the model reads {representation.name!r}; tracking models read "
                             f"'hitgraph' or 'hitseq'")
        self.config, self.batch_size, self.seed = config, batch_size, seed
        self.builder = builder or BatchBuilder(representation)
        self.selection = ClassSelection(("hit",))
        self.scheme = TRACK_SCHEME
        self.mode = ""
        self.event_ids: dict[str, list[int]] = {}
        self.items: dict[str, list[Any]] = {}
        self.pos_weight = 1.0
        self._dir: TrackingDir | None = None

    @property
    def kind(self) -> str:
        return "edges" if self.builder.config.name == "hitgraph" else "hits"

    @property
    def module_map(self) -> ModuleMap:
        return ModuleMap.from_dict(self.builder.state["module_map"])

    def scheme_or_fail(self) -> LabelScheme:
        return self.scheme

    def tracking_dir(self) -> TrackingDir:
        """The directory's events (with ``detectors.csv``, every hit is checked to lie on a module)."""
        if self._dir is None:
            self._dir = open_tracking_dir(self.config.path)
        return self._dir

    def split_events(self) -> dict[str, list[int]]:
        """Event ids of each split: 0 train, 1 val, 2 test by the hash of the id."""
        ids = self.tracking_dir().event_ids
        split = hash_split(np.asarray(ids), self.config.val_fraction, self.config.test_fraction,
                           self.config.split_seed)
        out = {name: [i for i, s in zip(ids, split) if s == k] for k, name in enumerate(SPLITS)}
        if self.config.max_jets is not None:  # data.max_jets: at most this many events per split
            out = {k: v[:self.config.max_jets] for k, v in out.items()}
        return out

    def read(self, event_id: int) -> Event:
        return self.tracking_dir().read(event_id)

    def setup(self, stage: str | None = None) -> None:
        if self.mode:
            return
        self.event_ids = self.split_events()
        for name in ("train", "val"):
            if not self.event_ids[name]:
                n = sum(map(len, self.event_ids.values()))
                raise UsageError(f"--data: {self.config.path}: the split by event id leaves no {name} event among "
                                 f"{n} (add events, or change data.val_fraction / data.split_seed)")
        events = {name: [self.read(i) for i in self.event_ids[name]] for name in ("train", "val")}
        if not self.builder.fitted:
            self.builder.fit(events["train"])
        mmap, rep = self.module_map, self.builder.config
        for name, evs in events.items():
            if self.kind == "edges":
                self.items[name] = [event_graph(ev, mmap, rep.graph_method) for ev in evs]
            else:
                self.items[name] = [sequence_features(coordinates(ev["hits"]), rows) for ev in evs for rows
                                    in particle_sequences(ev, rep.seq_pt_min, rep.seq_min_hits, per_layer=True)]
            if not self.items[name]:
                raise UsageError(f"--data: the {name} events of {self.config.path} give no "
                                 f"{'graphs' if self.kind == 'edges' else 'hit sequences'}")
        if self.kind == "edges":
            y = torch.cat([g.y for g in self.items["train"]])
            self.pos_weight = float((y.numel() - y.sum()) / y.sum().clamp(min=1))
        self.mode = "memory"

    def split_size(self, split: str) -> int:
        """Events of ``split``."""
        return len(self.event_ids.get(split, []))

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        collate: Callable[[list[Any]], dict[str, Any]] = _graphs if self.kind == "edges" else _pad
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(cast("Dataset[Any]", self.items[split]), batch_size=self.batch_size, shuffle=shuffle,
                          collate_fn=collate, num_workers=self.config.num_workers or 0, generator=generator)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)


class TrackModule(L.LightningModule):
    """A registered tracking model and its loss: weighted edge BCE (``kind="edges"``) or next-hit NLL."""

    pos_weight: Tensor  # () buffer: weight of the true edges in the BCE

    def __init__(self, model: str, hparams: dict[str, Any], dims: dict[str, Any], kind: str,
                 pos_weight: float = 1.0, optim: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.model = create(model, n_classes=2, dims=InputDims(**dims), **hparams)
        self.kind, self.optim = kind, OptimConfig(**(optim or {}))
        self.register_buffer("pos_weight", torch.tensor(float(pos_weight)))

    def loss(self, batch: dict[str, Any]) -> tuple[Tensor, int]:
        if self.kind == "edges":
            logits, y = self.model(batch), batch["graph"].y  # (E,), (E,)
            return F.binary_cross_entropy_with_logits(logits, y, pos_weight=self.pos_weight), int(y.numel())
        mean, log_sigma = self.model(batch)  # (B, T, 3) each: entry t predicts hit t + 1
        seq, mask = batch["seq"], batch["mask"]  # (B, T, 3), (B, T)
        target = mask[:, 1:].clone()  # (B, T - 1) hit t + 1 exists
        target[:, :2] = False  # predictions after at least 3 hits (a seed)
        nll = gaussian_nll(mean[:, :-1], log_sigma[:, :-1], seq[:, 1:])  # (B, T - 1)
        n = int(target.sum())
        return nll[target].sum() / max(n, 1), n

    def _step(self, batch: dict[str, Any], stage: str) -> Tensor:
        loss, n = self.loss(batch)
        self.log(f"{stage}_loss", loss, prog_bar=True, on_epoch=True, on_step=False, batch_size=max(n, 1),
                 sync_dist=True)
        return loss

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        return self._step(batch, "val")

    def configure_optimizers(self) -> Any:
        return ClassifierModule.configure_optimizers(self)  # type: ignore[arg-type] # one optimizer recipe: needs .optim


def track_module(cfg: Any, dm: TrackDataModule) -> TrackModule:
    """The run's tracker, sized by the representation, with the training graphs' positive-edge weight."""
    return TrackModule(cfg.model, cfg.hparams, asdict(dm.builder.dims()), dm.kind, dm.pos_weight, asdict(cfg.optim))


def _pooled(per_event: list[dict[str, Any]], columns: list[dict[str, np.ndarray]]) -> dict[str, Any]:
    """Mean scores over events, rates from the summed counts, efficiency binned in pT and η."""
    from jetlab.metrics.trackml import ETA_EDGES, PT_EDGES, binned_fraction

    keys = ("n_particles", "n_found", "n_tracks", "n_matched", "n_duplicates")
    tot = {k: int(sum(e[k] for e in per_event)) for k in keys}
    nan = float("nan")
    out: dict[str, Any] = {
        **{k: float(np.mean([e[k] for e in per_event])) for k in ("trackml_score", "trackml_score_selected")},
        "efficiency": tot["n_found"] / tot["n_particles"] if tot["n_particles"] else nan,
        "fake_rate": 1 - tot["n_matched"] / tot["n_tracks"] if tot["n_tracks"] else nan,
        "duplicate_rate": tot["n_duplicates"] / tot["n_matched"] if tot["n_matched"] else nan, **tot}
    cols = {k: np.concatenate([c[k] for c in columns]) for k in columns[0]}
    for var, edges, sel in (("pt", PT_EDGES, cols["p_sel_no_pt"]), ("eta", ETA_EDGES, cols["p_sel"])):
        eff, n = binned_fraction(cols[f"p_{var}"][sel], cols["p_found"][sel], edges)
        out[f"efficiency_vs_{var}"] = {"edges": edges.tolist(), "n": n.tolist(),
                                       "efficiency": [None if np.isnan(v) else float(v) for v in eff]}
    return out


def _edge_metrics(scores: np.ndarray, truth: np.ndarray, cut: float) -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score, roc_curve

    if len(np.unique(truth)) < 2:
        return {"auc": None}
    fpr, tpr, _ = roc_curve(truth, scores)
    keep = np.unique(np.linspace(0, len(fpr) - 1, 200).astype(int))
    passed = scores > cut
    return {"auc": float(roc_auc_score(truth, scores)), "cut": cut, "efficiency": float(passed[truth > 0.5].mean()),
            "purity": float(truth[passed].mean()) if passed.any() else None,
            "roc": {"fpr": fpr[keep].tolist(), "tpr": tpr[keep].tolist()}}


@torch.no_grad()
def _next_hit_quality(model: Any, events: list[Event], rep: RepresentationConfig, k_sigma: float,
                      pt_min: float) -> dict[str, Any]:
    seqs = [sequence_features(coordinates(ev["hits"]), rows) for ev in events
            for rows in particle_sequences(ev, pt_min, rep.seq_min_hits, per_layer=True)]
    if not seqs:
        return {}
    batch = _pad(seqs)
    mean, log_sigma = model(batch)  # (B, T, 3)
    valid = batch["mask"][:, 1:].clone()
    valid[:, :2] = False
    pull = ((batch["seq"][:, 1:] - mean[:, :-1]) * torch.exp(-log_sigma[:, :-1]))[valid].abs()  # (K, 3)
    return {"sequences": len(seqs), "predictions": int(valid.sum()), "k_sigma": k_sigma,
            "within_k_sigma": float((pull < k_sigma).all(1).float().mean()),
            "median_abs_pull": dict(zip(("r", "phi", "z"), pull.median(0).values.tolist()))}


def evaluate_tracker(run: str | Path, data: str | Path | None = None, out: str | Path | None = None,
                     cut: float = 0.5, bridge_cut: float | None = 0.1, builder: str = "walkthrough",
                     min_hits: int = 5, k_sigma: float = 4.0, pt_min: float = 1.0, **_: Any) -> dict[str, Any]:
    """Evaluate a tracking run on its test events (or every event of ``data``); writes ``metrics.json``.

    Graph runs: edge scores > ``cut``, tracks by ``builder`` (``walkthrough``, bridging single edges above
    ``bridge_cut``, or ``components``); LSTM runs: seeds followed with hits within ``k_sigma`` σ. Tracks
    of fewer than ``min_hits`` hits are dropped. Scores and rates are those of ``jetlab tracks evaluate``
    (:func:`jetlab.tasks.track_eval.evaluate_event`, selection :class:`~jetlab.tasks.track_eval.EvalConfig`
    with ``pt_min``), so the CKF, the GNN and the LSTM are measured alike: efficiency over charged particles
    with pT > ``pt_min``, |η| < 2.5, >= 5 hits, produced within 10 mm of the beam line; fake and duplicate
    rates over tracks with an estimated pT > ``pt_min`` and |η| < 2.5; ``trackml_score`` over all hits,
    ``trackml_score_selected`` with only the selected particles' hits weighted.
    """
    from jetlab.io.atomic import atomic_write_text
    from jetlab.models import count_parameters
    from jetlab.represent.hitgraph import construction_quality
    from jetlab.tasks.compare import record_evaluation
    from jetlab.tasks.runfiles import load_builder, load_model, load_run
    from jetlab.tasks.track_build import gnn_tracks, lstm_tracks
    from jetlab.tasks.track_eval import EvalConfig, evaluate_event, write_submission

    if builder not in ("walkthrough", "components"):
        raise UsageError(f"builder: {builder!r} is not walkthrough or components")
    run, cfg = Path(run), load_run(run)
    out = Path(out) if out else run
    model, _hp = load_model(run)
    rep_builder = load_builder(run / "representation.json")
    dm = TrackDataModule(DataConfig(**{**cfg.data.__dict__, "path": str(data or cfg.data.path), "max_jets": None}),
                         None, cfg.representation, builder=rep_builder)
    ids = dm.tracking_dir().event_ids if data is not None else dm.split_events()["test"]
    if not ids:
        raise UsageError(f"{dm.config.path}: no test events to evaluate (the split by event id left none)")
    mmap, rep = dm.module_map, rep_builder.config
    manifest = dm.tracking_dir().manifest or {}
    selection = EvalConfig(pt_min=pt_min, field_t=float(manifest.get("settings", {}).get("field_T", 2.0)))
    per_event, columns, timing, scores, truths, submission = [], [], [], [], [], {}
    for event_id in ids:
        ev = dm.read(event_id)
        if dm.kind == "edges":
            res = gnn_tracks(model, ev, mmap, rep.graph_method, cut, builder, min_hits, bridge_cut)
            scores.append(res["scores"])
            truths.append(res["truth"])
        else:
            res = lstm_tracks(model, ev, mmap, rep.graph_method, k_sigma, min_hits=min_hits)
        submission[event_id] = assign_hits(res["tracks"])
        metrics, cols = evaluate_event(ev, res["tracks"], submission[event_id], selection)
        per_event.append({**metrics, "event_id": event_id})
        columns.append(cols)
        timing.append(res["timing"])
    events = [dm.read(i) for i in ids]
    result: dict[str, Any] = {
        "run": str(run), "task": "track", "model": cfg.model, "data": dm.config.path,
        "split": "all" if data is not None else "test", "n_events": len(ids), "event_ids": ids,
        "params": count_parameters(model), "selection": asdict(selection), "metrics": _pooled(per_event, columns),
        "graph": construction_quality(events, mmap, rep.graph_method, pt_min),
        "time_per_event_s": {k: float(np.mean([t[k] for t in timing])) for k in timing[0]},
        "options": {"cut": cut, "bridge_cut": bridge_cut, "builder": builder, "min_hits": min_hits,
                    "k_sigma": k_sigma, "pt_min": pt_min}}
    if dm.kind == "edges":
        result["edges"] = _edge_metrics(np.concatenate(scores), np.concatenate(truths), cut)
    else:
        result["next_hit"] = _next_hit_quality(model, events, rep, k_sigma, pt_min)
    out.mkdir(parents=True, exist_ok=True)
    write_submission(out / "submission.csv", submission)
    atomic_write_text(out / "metrics.json", json.dumps(result, indent=1, default=_plain))
    record_evaluation(run, out)
    return result


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else str(v)


register_task(TaskSpec("track", TrackDataModule, track_module, evaluate="jetlab.tasks.track:evaluate_tracker",
                       scheme=TRACK_SCHEME,
                       description="tracking: hit-graph edge classifiers and next-hit followers, TrackML score"))
