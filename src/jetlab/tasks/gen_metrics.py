"""``jetlab gen-metrics REAL FAKE``: JetNet-style distances of a generated sample, next to the floor.

Both samples are read with ``jetlab.io.open`` and turned into clouds of their N hardest
constituents as (Δη, Δφ, pT/pT_jet) with a mask; the metrics and the truth-vs-truth floor (two
disjoint halves of REAL) come from :mod:`jetlab.metrics.generative`. The JSON holds raw values; the
table prints JetNet's metrics in JetNet's units (W1M, W1P, FPD, KPD ×10³, W1EFP ×10⁵) and jetlab's
extras (W1N, FPD-asinh, classifier AUC) as they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jetlab.errors import UsageError
from jetlab.io import open_jets
from jetlab.represent import relative_clouds as clouds

__all__ = ["clouds", "gen_metrics", "format_gen_metrics"]

METRICS = ("w1m", "w1p", "w1efp", "fpd", "kpd", "w1n", "fpd_asinh", "classifier_auc")


def gen_metrics(real: str | Path, fake: str | Path, classes: str | None = None, n_particles: int = 30,
                plots: str | Path | None = None, **config: Any) -> dict[str, Any]:
    """Metrics of ``fake`` against ``real`` and of real against real (the floor), optionally per class."""
    from jetlab.metrics.generative import GenMetricsConfig, compare_with_floor

    r, f = open_jets(real), open_jets(fake)
    if not r.scheme.same_classes(f.scheme):
        raise UsageError(f"FAKE: label scheme {f.scheme} differs from REAL's {r.scheme}")
    if classes:
        keep = r.scheme.parse(classes)
        r, f = r.select_classes(keep), f.select_classes(keep)
    for name, jets in (("REAL", r), ("FAKE", f)):
        if len(jets) < 20:
            raise UsageError(f"{name}: {len(jets)} jets (after the class selection); need at least 20")
    (rx, rm), (fx, fm) = clouds(r, n_particles), clouds(f, n_particles)
    res = compare_with_floor(rx, fx, rm, fm, GenMetricsConfig(**config))
    res["ratio"] = {m: _ratio(res["fake"].get(m), res["truth"].get(m)) for m in METRICS}
    if plots is not None:
        from jetlab.report.gen_plots import plot_real_vs_generated

        res["plots"] = [str(p) for p in plot_real_vs_generated(r, f, Path(plots), n_particles=n_particles)]
    return {"real": str(real), "fake": str(fake), "classes": classes or "all", **res}


def _ratio(fake: Any, truth: Any) -> float | None:
    if not fake or not truth or not truth.get("value"):
        return None
    return float(fake["value"] / truth["value"]) if truth["value"] > 0 else None


def _cell(d: dict[str, Any] | None, unit: float = 1.0) -> str:
    return "—" if not d else f"{d['value'] * unit:.4g} ± {(d.get('unc') or 0) * unit:.2g}"


def format_gen_metrics(res: dict[str, Any]) -> str:
    from jetlab.metrics.jetnet import UNITS

    lines = [f"{res['fake']} vs {res['real']} (classes: {res['classes']})",
             f"{'metric':<22} {'generated':>22} {'truth vs truth':>22} {'ratio':>7}"]
    for m in METRICS:
        f, t = res["fake"].get(m), res["truth"].get(m)
        ratio, unit = res["ratio"].get(m), UNITS.get(m, 1.0)
        name = f"{m} (x{unit:.0e})" if m in UNITS else f"{m} (jetlab)"
        lines.append(f"{name:<22} {_cell(f, unit):>22} {_cell(t, unit):>22} "
                     f"{'—' if ratio is None else f'{ratio:.2f}':>7}")
    return "\n".join(lines)
