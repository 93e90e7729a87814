"""A directory of TrackML events: the event files, the detector description, the manifest, a summary.

Layout (flat, as the public Kaggle files; :mod:`jetlab.io.trackml` for the event files)::

    DIR/event000000000-hits.csv, -particles.csv, -truth.csv     one triple per event
    DIR/detectors.csv     the sensitive modules (TrackML columns, :mod:`~jetlab.generate.tracking.geometry`)
    DIR/manifest.json     what made the events (``jetlab tracks generate``): settings, seeds, versions,
                          the detector, every event with its counts and the SHA-256 of its files

Public TrackML directories have event files only; their ``detectors.csv`` sits beside ``train_1/``
and is passed explicitly (``detector=``). When a detector description is known, every hit must lie on
one of its modules: a hit file of another detector is refused with one line.

Example:
    >>> hits = {"hit_id": np.array([1, 2]), "volume_id": np.array([8, 8]), "layer_id": np.array([2, 2]),
    ...         "module_id": np.array([1, 9])}
    >>> modules = {"volume_id": np.array([8]), "layer_id": np.array([2]), "module_id": np.array([1])}
    >>> check_modules(hits, modules, "ev-hits.csv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    jetlab.errors.FormatError: ev-hits.csv: hit_id 2 is on module (volume 8, layer 2, module 9), which ...
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from jetlab.errors import FormatError, InputError
from jetlab.io.atomic import atomic_write_text
from jetlab.io.trackml import Event, _csv_text, event_path, list_events, read_csv, read_event

__all__ = ["DETECTORS_FILE", "MANIFEST", "DETECTOR_COLUMNS", "TrackingDir", "open_tracking_dir", "write_detectors",
           "read_detectors", "check_modules", "summarize", "PT_BINS", "ETA_BINS"]

DETECTORS_FILE = "detectors.csv"
MANIFEST = "manifest.json"
DETECTOR_COLUMNS = ("volume_id", "layer_id", "module_id", "cx", "cy", "cz", "rot_xu", "rot_xv", "rot_xw", "rot_yu",
                    "rot_yv", "rot_yw", "rot_zu", "rot_zv", "rot_zw", "module_t", "module_minhu", "module_maxhu",
                    "module_hv", "pitch_u", "pitch_v")
_REQUIRED = DETECTOR_COLUMNS[:6]  # ids and centre: what the Kaggle file and every use here need
PT_BINS = np.array([0.0, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 100.0, np.inf])  # GeV, for summaries
ETA_BINS = np.array([-np.inf, -3.0, -2.5, -2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, np.inf])


def write_detectors(path: str | os.PathLike[str], table: Mapping[str, np.ndarray]) -> Path:
    """Write a module table (the columns of :data:`DETECTOR_COLUMNS`) as ``detectors.csv``, atomically."""
    return atomic_write_text(path, _csv_text(table, DETECTOR_COLUMNS))


def read_detectors(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """A ``detectors.csv`` (jetlab's or the Kaggle challenge's) as column -> array; one-line errors."""
    path = Path(path)
    table = read_csv(path, _REQUIRED)
    if len(table["volume_id"]) == 0:
        raise FormatError(f"{path}: no modules")
    return table


def _keys(part: Mapping[str, np.ndarray]) -> np.ndarray:
    v, l, m = (np.asarray(part[c], np.int64) for c in ("volume_id", "layer_id", "module_id"))  # noqa: E741
    return (v * 1000 + l) * 1_000_000 + m


def check_modules(hits: Mapping[str, np.ndarray], modules: Mapping[str, np.ndarray], source: str) -> None:
    """FormatError naming ``source`` unless every hit's (volume, layer, module) is one of ``modules``."""
    off = ~np.isin(_keys(hits), _keys(modules))
    if off.any():
        i = np.flatnonzero(off)[0]
        raise FormatError(f"{source}: hit_id {hits['hit_id'][i]} is on module (volume {hits['volume_id'][i]}, layer "
                          f"{hits['layer_id'][i]}, module {hits['module_id'][i]}), which {DETECTORS_FILE} does not "
                          "have: the hits belong to another detector")


@dataclass
class TrackingDir:
    """The events of a TrackML directory, its detector description and manifest when it has them."""

    path: Path
    event_ids: list[int]
    modules: dict[str, np.ndarray] | None = None
    manifest: dict[str, Any] | None = None
    detector_path: Path | None = field(default=None)

    def read(self, event_id: int, parts: Iterable[str] = ("hits", "particles", "truth")) -> Event:
        """One event, checked (:func:`jetlab.io.trackml.read_event`) and, with a detector, on its modules."""
        if event_id not in self.event_ids:
            raise InputError(f"{self.path}: no event {event_id} (events {self.event_ids[0]}..{self.event_ids[-1]})")
        event = read_event(self.path, event_id, parts)
        if self.modules is not None and "hits" in event:
            check_modules(event["hits"], self.modules, str(event_path(self.path, event_id, "hits")))
        return event


def _read_manifest(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise FormatError(f"{path}: not a readable JSON manifest ({type(e).__name__})") from None
    if not isinstance(manifest, dict):
        raise FormatError(f"{path}: not a JSON object")
    return manifest


def open_tracking_dir(directory: str | os.PathLike[str],
                      detector: str | os.PathLike[str] | None = None) -> TrackingDir:
    """The TrackML events of ``directory``; ``detector`` (default ``DIR/detectors.csv`` if present) checks hits."""
    path = Path(directory)
    ids = list_events(path)
    if not ids:
        raise InputError(f"{path}: no TrackML events (event#########-hits.csv files)")
    det_path = Path(detector) if detector is not None else path / DETECTORS_FILE
    modules = read_detectors(det_path) if detector is not None or det_path.is_file() else None
    return TrackingDir(path, ids, modules, _read_manifest(path / MANIFEST), det_path if modules else None)


def _counts(values: np.ndarray, edges: np.ndarray) -> list[int]:
    return np.histogram(values, bins=edges)[0].astype(int).tolist()


def _bin_labels(edges: np.ndarray) -> list[str]:
    return [f"[{lo:g}, {hi:g})" for lo, hi in zip(edges[:-1], edges[1:])]


def summarize(tdir: TrackingDir, max_events: int = 10) -> dict[str, Any]:
    """Events; hits per event and per (volume, layer); particles per pT and η bin, over the first ``max_events``."""
    ids = tdir.event_ids[:max_events]
    layers: dict[str, int] = {}
    n_hits, pt, eta, charged = [], [], [], 0
    for i in ids:
        ev = tdir.read(i, ("hits", "particles"))
        hits, p = ev["hits"], ev["particles"]
        n_hits.append(len(hits["hit_id"]))
        keys, counts = np.unique(np.stack([hits["volume_id"], hits["layer_id"]]), axis=1, return_counts=True)
        for (v, lay), c in zip(keys.T.tolist(), counts.tolist()):
            layers[f"{v}/{lay}"] = layers.get(f"{v}/{lay}", 0) + c
        t = np.hypot(p["px"], p["py"])
        pt.append(t)
        eta.append(np.arcsinh(p["pz"] / np.maximum(t, 1e-12)))
        charged += int((p["q"] != 0).sum())
    pts, etas = np.concatenate(pt), np.concatenate(eta)
    out: dict[str, Any] = {
        "path": str(tdir.path), "n_events": len(tdir.event_ids), "events_summarized": len(ids),
        "first_event": tdir.event_ids[0], "last_event": tdir.event_ids[-1],
        "hits_per_event": float(np.mean(n_hits)), "particles_per_event": len(pts) / len(ids),
        "charged_fraction": charged / max(len(pts), 1),
        "hits_per_layer": {k: layers[k] for k in sorted(layers, key=lambda s: tuple(map(int, s.split("/"))))},
        "particles_vs_pt": dict(zip(_bin_labels(PT_BINS), _counts(pts, PT_BINS))),
        "particles_vs_eta": dict(zip(_bin_labels(ETA_BINS), _counts(etas, ETA_BINS))),
        "detector": str(tdir.detector_path) if tdir.detector_path else None,
        "n_modules": len(tdir.modules["volume_id"]) if tdir.modules else None,
    }
    if tdir.manifest is not None:
        out["manifest"] = {k: tdir.manifest.get(k) for k in ("generator", "detector", "settings")}
    return out
