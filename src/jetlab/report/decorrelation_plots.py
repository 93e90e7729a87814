"""The DisCo Pareto plane: background rejection 1/εB against 1/JSD, one point per decorrelation strength λ.

As in Kasieczka & Shih, arXiv:2001.05310 (figure of 1/εB vs 1/JSD at εS = 0.5): up and to the right
is better; each input set traces a front as λ grows (from "uses mass", top left, towards "sculpts
nothing", bottom right). The finite-sample floor of the JSD (:func:`jetlab.metrics.decorrelation.
jsd_floor_curve`) is drawn as a grey band: at a given rejection, a cut that ignores mass entirely
lands inside it, so points in or beyond it show no measurable sculpting. This module draws results;
it computes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

from jetlab.report.style import new_figure, save, style_context

__all__ = ["pareto_indices", "plot_pareto"]


def pareto_indices(x: Sequence[float], y: Sequence[float]) -> list[int]:
    """Indices of the points not dominated in (x, y), both larger = better, ordered by increasing x.

    A point is dominated when another one is at least as good in both and better in one.

    Example:
        >>> pareto_indices([1, 2, 3, 2.5], [5, 4, 1, 3])
        [0, 1, 3, 2]
    """
    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = [i for i in range(xs.size)
            if not np.any((xs >= xs[i]) & (ys >= ys[i]) & ((xs > xs[i]) | (ys > ys[i])))]
    return sorted(keep, key=lambda i: xs[i])


def _finite(points: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [p for p in points if p.get("rejection") and p.get("inv_jsd")]


def _draw_floor(ax: Any, floor: Mapping[str, Sequence[float]]) -> None:
    r = np.asarray(floor["rejection"], dtype=np.float64)
    order = np.argsort(r)
    lo, mid, hi = (np.asarray(floor[k], dtype=np.float64)[order] for k in ("inv_jsd_lo", "inv_jsd", "inv_jsd_hi"))
    ax.fill_betweenx(r[order], lo, hi, color="0.85", lw=0, label="JSD floor (mass-blind cut), 16–84%")
    ax.plot(mid, r[order], color="0.55", lw=1.2, ls="--")


def plot_pareto(fronts: Mapping[str, Sequence[Mapping[str, Any]]], path: str | os.PathLike[str],
                floor: Mapping[str, Sequence[float]] | None = None, title: str = "") -> Path:
    """1/εB against 1/JSD (log-log) for each input set's λ scan; Pareto-optimal points joined, their λ written.

    Arguments:
        fronts: label -> points, each a mapping with ``lambda``, ``rejection`` (1/εB), ``inv_jsd``
            and optionally ``rejection_std`` / ``inv_jsd_std`` (error bars); points without a finite
            rejection or 1/JSD are left out.
        floor: the output of :func:`~jetlab.metrics.decorrelation.jsd_floor_curve` (grey band), or None.
    """
    cmap = matplotlib.colormaps["tab10"]
    with style_context(scale=0.6):
        fig = new_figure(10.0, 7.0)
        ax = fig.subplots()
        if floor and floor.get("rejection"):
            _draw_floor(ax, floor)
        for i, (label, points) in enumerate(fronts.items()):
            pts, color = _finite(points), cmap(i % 10)
            if not pts:
                continue
            x = np.array([p["inv_jsd"] for p in pts])
            y = np.array([p["rejection"] for p in pts])
            xerr = np.array([p.get("inv_jsd_std") or 0.0 for p in pts])
            yerr = np.array([p.get("rejection_std") or 0.0 for p in pts])
            ax.errorbar(x, y, xerr=np.minimum(xerr, 0.95 * x), yerr=np.minimum(yerr, 0.95 * y), fmt="o", ms=5,
                        color=color, ecolor=color, elinewidth=0.8, alpha=0.9, label=label)
            front = pareto_indices(x, y)
            ax.plot(x[front], y[front], color=color, lw=1.5)
            last = (np.inf, np.inf)
            for k in front:                                   # λ next to the Pareto-optimal points, unless crowded
                here = (np.log10(x[k]), np.log10(y[k]))
                if abs(here[0] - last[0]) < 0.05 and abs(here[1] - last[1]) < 0.05:
                    continue
                last = here
                ax.annotate(f"{pts[k]['lambda']:g}", (x[k], y[k]), xytext=(4, 3), textcoords="offset points",
                            fontsize="x-small", color=color)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(r"1 / JSD  (background mass, pass vs fail at $\varepsilon_S$ = 0.5)")
        ax.set_ylabel(r"background rejection 1/$\varepsilon_B$ at $\varepsilon_S$ = 0.5")
        ax.grid(True, which="major", color="0.9", lw=0.8)
        ax.legend(loc="upper right", fontsize="small", title=r"line: Pareto front; numbers: DisCo $\lambda$",
                  title_fontsize="small")
        ax.set_title(title or "DisCo Pareto front", fontsize="medium")
        return save(fig, path)
