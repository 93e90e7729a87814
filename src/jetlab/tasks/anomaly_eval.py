"""``jetlab anomaly evaluate``: scores of a trained autoencoder on the test split of every class."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch

from jetlab.errors import UsageError
from jetlab.io.atomic import atomic_savez
from jetlab.tasks.anomaly import AnomalyDataModule, score_test_split, write_json
from jetlab.tasks.compare import record_evaluation
from jetlab.tasks.runfiles import load_builder, load_model, load_run

if TYPE_CHECKING:
    from jetlab.models.anomaly.autoencoders import AutoEncoder

__all__ = ["evaluate_anomaly"]


def _plots(res: dict[str, np.ndarray], primary: str, background: list[int], metrics: dict[str, Any], out: Path,
           model: torch.nn.Module, dm: AnomalyDataModule) -> list[Path]:
    from jetlab.report.anomaly_plots import plot_latent, plot_score_distributions, plot_sic

    names = list(dm.scheme_or_fail().classes)
    paths = [plot_score_distributions(res[f"score_{primary}"], res["labels"], names,
                                      out / "scores.png", background)]
    curves = {c: (np.array(m["sic_curve"]["eff_s"]), np.array(m["sic_curve"]["sic"]))
              for c, m in metrics["signals"].items() if m.get("sic_curve")}
    if curves:
        paths.append(plot_sic(curves, out / "sic.png"))
    if res["latent"].shape[1] >= 2:
        paths.append(plot_latent(res["latent"], res["labels"], names, out / "latent.png"))
    if dm.mode == "memory" and dm.builder.config.name == "image":
        from jetlab.report.anomaly_plots import plot_image_examples

        jets, _ = dm.splits["test"]
        batch = dm.builder(jets[:6], jets.labels[:6])
        with torch.no_grad():
            o = model(batch)
        paths.append(plot_image_examples(o["target"].numpy(), o["recon"].numpy(), out / "images.png"))
    return paths


def evaluate_anomaly(run: str | Path, data: str | Path | None = None, out: str | Path | None = None,
                     score: str | None = None, n_bootstrap: int = 50) -> dict[str, Any]:
    """Score ``run`` on the test split of ``data`` (default: its training data); metrics.json + PNGs."""
    from jetlab.data.module import DataConfig
    from jetlab.metrics.anomaly import anomaly_metrics

    run, cfg = Path(run), load_run(run)
    if cfg.task != "anomaly":
        raise UsageError(f"{run}: a {cfg.task!r} run; use 'jetlab evaluate' for classifiers")
    out = Path(out) if out else run
    out.mkdir(parents=True, exist_ok=True)
    model, _ = load_model(run)
    data_cfg = DataConfig(**{**cfg.data.__dict__, "path": str(data or cfg.data.path), "max_jets": None})
    dm = AnomalyDataModule(data_cfg, cfg.selection, cfg.representation, cfg.trainer.batch_size,
                           load_builder(run / "representation.json"), scheme=cfg.scheme)
    dm.setup()
    res = score_test_split(cast("AutoEncoder", model), dm)  # an anomaly run's model is an AutoEncoder
    kinds = [k.removeprefix("score_") for k in res if k.startswith("score_")]
    primary = score or kinds[0]
    if primary not in kinds:
        raise UsageError(f"--score: {primary!r} not offered by {cfg.model} (choose from {', '.join(kinds)})")
    background = dm.scheme_or_fail().labels_of(dm.selection.signal)
    if set(np.unique(res["labels"]).tolist()) <= set(background):
        raise UsageError(f"{data_cfg.path}: no signal jets (only background classes) in the test split")
    by_kind = {k: anomaly_metrics(res[f"score_{k}"], res["labels"], background, list(cfg.scheme.classes),
                                  n_bootstrap=n_bootstrap) for k in kinds}
    result = {"run": str(run), "task": "anomaly", "model": cfg.model, "background": list(dm.selection.signal),
              "scheme": cfg.scheme.to_dict(),
              "score": primary, "n_jets": int(len(res["labels"])), "inference_jets_per_s": float(res["jets_per_s"]),
              "metrics": by_kind[primary], "by_score": by_kind}
    atomic_savez(out / "scores.npz", **{k: v for k, v in res.items() if k != "jets_per_s"})
    result["plots"] = [str(p) for p in _plots(res, primary, background, by_kind[primary], out, model, dm)]
    write_json(out / "metrics.json", result)
    record_evaluation(run, out)
    return result
