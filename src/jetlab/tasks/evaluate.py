"""``jetlab evaluate``: a trained run on the test split of a dataset, with the physicists' metrics.

Checkpoints are read with ``torch.load(weights_only=True)``: no code in a checkpoint ever runs.
Writes ``metrics.json`` (per-class AUC, accuracy, confusion matrix, 1/εB at εS = 0.3 and 0.5 with
bootstrap uncertainties, inference jets/s; for binary tasks ``sculpting``: 1/εB and the JSD of the
background mass passing vs failing the cut at εS = 0.5, with its finite-sample floor, see
:func:`jetlab.metrics.decorrelation.sculpting_metrics`), ``predictions.npz`` and ROC / confusion PNGs.
On calorimeter showers (scheme ``particles``) the working points are εS = 0.3, 0.5 and 0.9, and a binary task
gets ``vs_energy`` in place of ``sculpting``: AUC and 1/εB in 5 log-spaced bins of the incident energy
(:func:`jetlab.metrics.classification.binned_metrics`); ``predictions.npz`` then holds ``incident``, not ``mass``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from jetlab.data.module import DataConfig, JetDataModule
from jetlab.errors import UsageError
from jetlab.io.atomic import atomic_savez, atomic_write_text
from jetlab.tasks.compare import record_evaluation
from jetlab.tasks.runfiles import load_builder, load_model, load_run

__all__ = ["load_run", "load_model", "evaluate", "predict"]


def predict(predictor: Callable[[dict[str, Any]], np.ndarray], loader: Any
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Probabilities (N, C), targets (N,), per-jet ``mass`` (N,) (showers: their ``incident`` energy), and jets/s
    of the predictor calls."""
    probs, targets, masses, elapsed = [], [], [], 0.0
    for batch in loader:
        start = time.perf_counter()
        p = predictor(batch)  # (B, C)
        elapsed += time.perf_counter() - start
        probs.append(np.asarray(p, dtype=np.float32))
        targets.append(batch["y"].numpy())
        masses.append(batch["mass" if "mass" in batch else "incident"].numpy())
    p, y = np.concatenate(probs), np.concatenate(targets)
    return p, y, np.concatenate(masses), len(y) / max(elapsed, 1e-9)


ENERGY_BINS = 5  # showers: metrics in log-spaced bins of the incident energy over the test split's range
SHOWER_EFFS = (0.3, 0.5, 0.9)  # photon identification works at high efficiency (ATLAS tight: ~90 %)


def evaluate(run: str | Path, data: str | Path | None = None, out: str | Path | None = None,
             split: str = "test", n_bootstrap: int = 100, backend: str = "torch") -> dict[str, Any]:
    """Evaluate ``run`` on ``split`` of ``data`` (default: the data it was trained on).

    ``backend``: ``torch`` (eager PyTorch) or ``onnx`` (ONNX Runtime on the run's exported model).
    """
    from jetlab.metrics.classification import binned_metrics, classification_metrics, roc_points, versus_auc
    from jetlab.report.roc import plot_confusion, plot_history, plot_roc
    from jetlab.tasks.predictors import load_predictor

    run, cfg = Path(run), load_run(run)
    out = Path(out) if out else run
    out.mkdir(parents=True, exist_ok=True)
    predictor = load_predictor(run, backend)
    hp = predictor.hparams
    if cfg.selection is None or hp.get("class_names") != cfg.selection.names:
        raise UsageError(f"{run}: checkpoint classes {hp.get('class_names')} differ from the run's config")
    data_cfg = DataConfig(**{**cfg.data.__dict__, "path": str(data or cfg.data.path), "max_jets": None})
    if split == "all":
        data_cfg = DataConfig(**{**data_cfg.__dict__, "val_fraction": 1e-9, "test_fraction": 1 - 2e-9})
    dm = JetDataModule(data_cfg, cfg.selection, cfg.representation, builder=load_builder(run / "representation.json"),
                       batch_size=cfg.trainer.batch_size, scheme=cfg.scheme)
    dm.setup()
    probs, targets, mass, jets_per_s = predict(predictor, dm.test_dataloader())
    names, showers = dm.selection.names, cfg.scheme.name == "particles"  # mass holds the showers' energies
    metrics = classification_metrics(probs, targets, names, SHOWER_EFFS if showers else (0.3, 0.5),
                                     n_bootstrap=n_bootstrap)
    roc = {}
    for c in range(1 if len(names) == 2 else 0, len(names)):
        fpr, tpr = roc_points(probs, targets, c)
        roc[names[c]] = {"fpr": fpr.tolist(), "tpr": tpr.tolist()}
    if len(names) > 2 and {"g", "q"} <= set(names):  # each heavy class against QCD (g + q) alone (jetlab scheme)
        qcd = [names.index("g"), names.index("q")]
        metrics["auc_vs_qcd"] = {n: versus_auc(probs, targets, names.index(n), qcd)
                                 for n in names if n in ("w", "z", "t")}
    if len(names) == 2 and showers:  # binary on showers: AUC and 1/εB in bins of the incident energy
        edges = np.geomspace(float(mass.min()), float(mass.max()), ENERGY_BINS + 1).tolist()
        metrics["vs_energy"] = binned_metrics(probs, targets, mass, edges, SHOWER_EFFS, n_bootstrap)
    elif len(names) == 2:  # binary: how much does a cut at εS = 0.5 sculpt the background mass?
        metrics["sculpting"] = _sculpting(probs[:, 1], targets, mass, out / "mass_sculpting.png", cfg.model,
                                          n_bootstrap)
    train = json.loads((run / "train.json").read_text()) if (run / "train.json").is_file() else {}
    result = {"run": str(run), "model": cfg.model, "data": str(data_cfg.path), "split": split, "n_jets": len(targets),
              "scheme": cfg.scheme.to_dict(),
              "params": predictor.n_params, "backend": predictor.backend, "train_time_s": train.get("train_time_s"),
              "inference_jets_per_s": jets_per_s, "metrics": metrics, "roc": roc}
    atomic_savez(out / "predictions.npz", probs=probs, targets=targets, class_names=np.array(names),
                 **{"incident" if showers else "mass": mass})
    atomic_write_text(out / "metrics.json", json.dumps(result, indent=1))
    record_evaluation(run, out)
    aucs = metrics.get("auc", {})
    plot_roc({n: (np.array(r["tpr"]), np.array(r["fpr"]), _auc_value(aucs, n)) for n, r in roc.items()},
             out / "roc.png", title=f"{cfg.model} — {Path(data_cfg.path).name}")
    plot_confusion(np.array(metrics["confusion"]["normalized"]), names, out / "confusion.png")
    if (run / "logs" / "metrics.csv").is_file():
        plot_history(run / "logs" / "metrics.csv", out / "loss.png")
    return result


def _sculpting(p_signal: np.ndarray, targets: np.ndarray, mass: np.ndarray, png: Path, model: str,
               n_bootstrap: int) -> dict[str, Any]:
    """Sculpting metrics at εS = 0.5 (with the JSD floor) and the background-mass plot of a binary tagger."""
    from jetlab.metrics.decorrelation import sculpting_metrics
    from jetlab.report.anomaly_plots import plot_mass_sculpting

    sc = sculpting_metrics(p_signal, targets, mass, signal=1, background=0, eff=0.5, n_bootstrap=n_bootstrap)
    jsd = "" if sc["jsd"] is None or sc["jsd_floor_std"] is None else (
        rf"; JSD at $\varepsilon_S$ = 0.5: {sc['jsd']:.3f} "
        rf"(floor {sc['jsd_floor']:.3f} $\pm$ {sc['jsd_floor_std']:.3f})")
    plot_mass_sculpting(mass[targets == 0], p_signal[targets == 0], png, title=f"{model}: background mass{jsd}")
    return sc


def _auc_value(aucs: Any, name: str) -> float:
    v = aucs.get(name) if isinstance(aucs, dict) else None
    if isinstance(v, dict):
        auc: float = v.get("auc", float("nan"))
        return float(v.get("value", auc))
    return float(v) if v is not None else float("nan")
