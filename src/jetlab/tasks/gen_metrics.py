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

__all__ = ["clouds", "gen_metrics", "format_gen_metrics", "shower_metrics"]

METRICS = ("w1m", "w1p", "w1efp", "fpd", "kpd", "w1n", "fpd_asinh", "classifier_auc")


def gen_metrics(real: str | Path, fake: str | Path, classes: str | None = None, n_particles: int = 30,
                plots: str | Path | None = None, **config: Any) -> dict[str, Any]:
    """Metrics of ``fake`` against ``real`` and of real against real (the floor), optionally per class."""
    from jetlab.io import Showers, open_data
    from jetlab.metrics.generative import GenMetricsConfig, compare_with_floor

    if isinstance(open_data(real), Showers):
        return shower_metrics(real, fake, plots)
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

    if res.get("kind") == "showers":
        return format_shower_metrics(res)
    lines = [f"{res['fake']} vs {res['real']} (classes: {res['classes']})",
             f"{'metric':<22} {'generated':>22} {'truth vs truth':>22} {'ratio':>7}"]
    for m in METRICS:
        f, t = res["fake"].get(m), res["truth"].get(m)
        ratio, unit = res["ratio"].get(m), UNITS.get(m, 1.0)
        name = f"{m} (x{unit:.0e})" if m in UNITS else f"{m} (jetlab)"
        lines.append(f"{name:<22} {_cell(f, unit):>22} {_cell(t, unit):>22} "
                     f"{'—' if ratio is None else f'{ratio:.2f}':>7}")
    return "\n".join(lines)


def shower_metrics(real: str | Path, fake: str | Path, plots: str | Path | None = None) -> dict[str, Any]:
    """The CaloChallenge evaluation of generated showers FAKE against REAL, every number next to its floor
    (two disjoint halves of REAL compared the same way), with real-vs-generated plots."""
    from jetlab.io import Showers, open_data
    from jetlab.metrics.calo import compare_showers
    from jetlab.metrics.calo_features import layout_for
    from jetlab.report.shower_summary import shower_arrays

    r, f = open_data(real), open_data(fake)
    if not isinstance(f, Showers) or not isinstance(r, Showers) or f.geometry != r.geometry:
        what = f"showers of geometry {f.geometry}" if isinstance(f, Showers) else "jets"
        raise UsageError(f"FAKE: {fake} holds {what}; REAL holds showers of geometry {getattr(r, 'geometry', '?')}")
    layout = layout_for(r.geometry)
    res = compare_showers(shower_arrays(r), shower_arrays(f), layout)
    res["kind"], res["geometry"] = "showers", r.geometry
    if plots is not None:
        from jetlab.report.calo_plots import plot_showers

        res["plots"] = [str(p) for p in plot_showers(shower_arrays(r), shower_arrays(f), layout, plots)]
    return res


def format_shower_metrics(res: dict[str, Any]) -> str:
    """The CaloChallenge table: each metric of the generated showers next to the simulator-vs-simulator floor."""
    lines = [f"CaloChallenge evaluation, geometry {res['geometry']}, {res['n']} showers per sample",
             f"{'metric':<28} {'generated':>18} {'floor (sim vs sim)':>20}"]
    for key, name in (("classifier_low", "classifier AUC, low-level"),
                      ("classifier_high", "classifier AUC, high-level"),
                      ("fpd", "FPD (high-level)"), ("kpd", "KPD (high-level)")):
        v = res.get(key)
        if v is not None:
            lines.append(f"{name:<28} {v['value']:>10.4f} ± {v['unc']:<6.4f} "
                         f"{v['floor']:>12.4f} ± {v['floor_unc']:.4f}")
    for group, v in res["separation_power_max"].items():
        lines.append(f"{'max sep. power ' + group:<28} {v['value']:>18.4f} {v['floor']:>20.4f}")
    return "\n".join(lines)
