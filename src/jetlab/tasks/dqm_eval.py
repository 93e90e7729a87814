"""``jetlab dqm evaluate``: an autoencoder run and the shifter's baselines on the test maps of a DQM dataset.

The test maps are the test split of the run's data module (an anomaly run trained with ``--background good``:
``AnomalyDataModule`` splits every map once, trains on good ones), or of a default split when only baselines are
evaluated, so every method sees the same maps. Per method (``ae`` the run, ``chi2`` = χ²/ndf, ``max_pull``,
``ks``): :func:`jetlab.metrics.dqm.dqm_metrics`. The autoencoder is scored two ways:

- ``autoencoder``: its residuals as pulls, ``z = (x − x̂) / s`` with ``s`` (C, H, W) the standard deviation of
  the residuals over the *good validation* maps (never the test maps); per channel ``Σ_c z²``, per map the
  largest of them (the shifter's max-pull, against the lumisection's own expected map instead of the average
  reference: the beam position and pile-up the network follows are no longer part of the spread);
- ``autoencoder_mse``: the plain mean squared error per map, the squared error summed over the map's
  channels per channel.

Writes ``metrics.json`` and plots.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from jetlab.classes import ClassSelection
from jetlab.data.batches import BatchBuilder
from jetlab.data.module import DataConfig
from jetlab.errors import InputError, UsageError
from jetlab.io.atomic import atomic_write_text
from jetlab.io.maps import FAULT_KINDS, Maps
from jetlab.metrics.dqm import check_reference, chi2_scores, dqm_metrics, ks_scores
from jetlab.report.dqm_plots import plot_map_examples, plot_metric_vs_strength
from jetlab.represent.registry import RepresentationConfig
from jetlab.tasks.anomaly import AnomalyDataModule
from jetlab.tasks.runfiles import load_builder, load_model

__all__ = ["evaluate_dqm", "test_maps", "score_autoencoder", "residual_pulls"]

BASELINES = ("chi2", "max_pull", "ks")


def test_maps(data: str | Path, builder: BatchBuilder, data_options: dict[str, Any] | None = None,
              split: str = "test") -> Maps:
    """The ``split`` of ``data`` as the anomaly task draws it (same fractions and split seed): ``test`` holds
    good and faulty maps, ``val`` good maps only."""
    options = {k: v for k, v in (data_options or {}).items() if k in DataConfig.__dataclass_fields__}
    cfg = DataConfig(**{**options, "path": str(data), "classes": "good", "num_workers": 0})
    dm = AnomalyDataModule(cfg, ClassSelection(("good",)), builder.config, builder=builder)
    dm.setup()
    maps = dm.splits[split][0]
    if not isinstance(maps, Maps):
        raise UsageError(f"--data: {data} holds {type(maps).__name__}, not detector maps (jetlab dqm generate)")
    return maps


@torch.no_grad()
def score_autoencoder(model: torch.nn.Module, builder: BatchBuilder, maps: Maps, batch: int = 512
                      ) -> dict[str, np.ndarray]:
    """``score`` (N,) mean squared error, ``channel`` (N, H, W) squared error per detector channel, and the
    first batch's ``x`` and ``recon`` reshaped to (n, C, H, W)."""
    h, w = maps.shape[1:]
    scores: list[np.ndarray] = []
    channel: list[np.ndarray] = []
    x0: np.ndarray | None = None
    r0: np.ndarray | None = None
    residual: list[np.ndarray] = []
    for lo in range(0, len(maps), batch):
        out = model(builder(maps[lo:lo + batch]))
        x, r = out["target"].reshape(len(out["target"]), -1, h, w), out["recon"].reshape(len(out["target"]), -1, h, w)
        scores.append(((r - x) ** 2).flatten(1).mean(1).numpy())  # (B,)
        channel.append(((r - x) ** 2).sum(1).numpy())  # (B, H, W)
        residual.append((x - r).numpy())  # (B, C, H, W)
        if x0 is None:
            x0, r0 = x.numpy(), r.numpy()
    empty = np.zeros((0, 1, h, w), np.float32)  # no maps: no examples to draw
    return {"score": np.concatenate(scores), "channel": np.concatenate(channel),
            "residual": np.concatenate(residual) if residual else empty,
            "x": empty if x0 is None else x0, "recon": empty if r0 is None else r0}


def residual_pulls(residual: np.ndarray, good_residual: np.ndarray) -> dict[str, np.ndarray]:
    """Residuals (N, C, H, W) as pulls against the spread of the good maps' residuals (M, C, H, W):
    ``channel`` (N, H, W) ``Σ_c z²`` and ``score`` (N,) its largest value per map."""
    scale = good_residual.std(axis=0)  # (C, H, W)
    scale = np.maximum(scale, 1e-3 * scale.reshape(len(scale), -1).max(axis=1)[:, None, None] + 1e-12)
    channel = ((residual / scale) ** 2).sum(axis=1)  # (N, H, W)
    return {"channel": channel, "score": channel.reshape(len(channel), -1).max(axis=1)}


def _run_parts(run: Path) -> tuple[torch.nn.Module, BatchBuilder, dict[str, Any]]:
    path = run / "config.yaml"
    if not path.is_file():
        raise InputError(f"{run}: not a jetlab run (no config.yaml)")
    raw = yaml.safe_load(path.read_text())
    builder = load_builder(run / "representation.json")
    if builder.config.name != "detector_map":
        raise UsageError(f"{run}: trained on the {builder.config.name!r} representation, not on detector maps")
    model, _ = load_model(run)
    return model, builder, raw.get("data", {})


def _plots(maps: Maps, ae: dict[str, np.ndarray] | None, chi2: dict[str, np.ndarray], metrics: dict[str, Any],
           out: Path) -> list[str]:
    rows = np.r_[np.flatnonzero(maps.labels == 0)[:1], np.flatnonzero(maps.labels == 1)[:5]]
    rows = rows[rows < (len(ae["x"]) if ae is not None else len(maps))]
    titles = [f"{FAULT_KINDS[maps.fault_kind[i]]} {maps.strength[i]:g}" for i in rows]
    pulls = np.sqrt(chi2["channel"][rows]) * np.sign(maps.maps[rows, 0] - maps.reference[0])
    files = [plot_map_examples(pulls, None, chi2["channel"][rows], maps.channel_faults[rows], titles,
                               out / "maps_chi2.png", "χ²/pull: pulls and pull² (faulty channels outlined)")]
    if ae is not None:
        files.append(plot_map_examples(ae["x"][rows, 0], ae["recon"][rows, 0], ae["channel"][rows],
                                       maps.channel_faults[rows], titles, out / "maps_autoencoder.png",
                                       "autoencoder: input, reconstruction, error (faulty channels outlined)"))
    for key, label in (("auc", "AUC"), ("eff@0.01", "efficiency at 1% false alarms"),
                       ("localization", "localization efficiency")):
        files.append(plot_metric_vs_strength(metrics["methods"], key, out / f"{key.replace('@', '_at_')}.png", label))
    return [str(f) for f in files]


def evaluate_dqm(run: str | Path | None = None, data: str | Path | None = None, out: str | Path | None = None,
                 baselines: tuple[str, ...] = BASELINES, reference: str | Path | None = None,
                 plots: bool = True) -> dict[str, Any]:
    """Metrics of the run's autoencoder (if ``run``) and of ``baselines`` on the test maps; ``metrics.json`` in
    ``out`` (default ``RUN/dqm``). ``reference``: an ``.npz`` with ``reference`` (and ``reference_std``) to
    compare the maps with instead of the dataset's own (one of another geometry is a FormatError)."""
    unknown = sorted(set(baselines) - set(BASELINES))
    if unknown:
        raise UsageError(f"--baseline: unknown {', '.join(unknown)} (known: {', '.join(BASELINES)})")
    model, ae = None, None
    if run is not None:
        model, builder, data_options = _run_parts(Path(run))
        data = data or data_options.get("path")
    else:
        builder, data_options = BatchBuilder(RepresentationConfig("detector_map")), {}
    if data is None or out is None and run is None:
        raise UsageError("dqm evaluate: needs --data and --out (or a RUN)")
    def split_maps(split: str) -> Maps:
        maps = test_maps(str(data), builder, data_options, split)
        if reference is None:
            return maps
        with np.load(reference) as z:
            return check_reference(maps, z["reference"], z.get("reference_std"), str(reference))

    maps = split_maps("test")
    out = Path(out) if out is not None else Path(str(run)) / "dqm"
    out.mkdir(parents=True, exist_ok=True)
    methods: dict[str, Any] = {}
    if model is not None:
        ae = score_autoencoder(model, builder, maps)
        good = score_autoencoder(model, builder, split_maps("val"))
        pulls = residual_pulls(ae["residual"], good["residual"])
        methods["autoencoder"] = dqm_metrics(pulls["score"], maps, pulls["channel"])
        methods["autoencoder_mse"] = dqm_metrics(ae["score"], maps, ae["channel"])
        ae["channel"] = pulls["channel"]
    chi2 = chi2_scores(maps, tuple(range(maps.shape[0])))
    if "chi2" in baselines:
        methods["chi2"] = dqm_metrics(chi2["chi2_ndf"], maps, chi2["channel"])
    if "max_pull" in baselines:
        methods["max_pull"] = dqm_metrics(chi2["max_pull"], maps, chi2["channel"])
    if "ks" in baselines:
        methods["ks"] = dqm_metrics(ks_scores(maps), maps)
    metrics: dict[str, Any] = {"data": str(data), "run": None if run is None else str(run), "detector": maps.detector,
               "n_test_maps": len(maps), "counts": maps.counts(), "methods": methods}
    metrics["plots"] = _plots(maps, ae, chi2, metrics, out) if plots else []
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=1))
    return {**metrics, "out": str(out)}
