"""Tagger performance plots in the course's style: ROC curves, confusion matrix, training history.

ROC curves are drawn as the course's notebooks draw them: signal efficiency εS on a linear x axis,
background mistag rate εB on a logarithmic y axis, "AUC = x%" per curve in the legend, and the
random tagger (εB = εS) dotted. εS and εB of one class against the rest are defined in
:mod:`jetlab.metrics.classification`. The y axis starts at the decade below the smallest non-zero
εB of the curves drawn (about 1 / number of background jets), so no curve is cut and no empty
decades are shown; points with εB = 0 cannot appear on a log axis and are left out.

Every function writes one PNG atomically (:func:`jetlab.report.style.save`) and returns its path.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter
from numpy.typing import ArrayLike

from jetlab.classes import CLASSES
from jetlab.report.style import CLASS_COLORS, CLASS_SYMBOLS, class_label, new_figure, save, style_context

__all__ = ["Curve", "run_style", "plot_roc", "plot_roc_overlay", "plot_confusion", "plot_history",
           "read_history"]  # fmt: skip

# One ROC: (tpr = εS, fpr = εB, AUC or None), the argument order of the course's plotting helper.
Curve = tuple[ArrayLike, ArrayLike, "float | None"]
_RUN_COLORS = matplotlib.colormaps["tab10"].colors
_RUN_STYLES = ("-", "--", "-.", ":")
_RANDOM = {"color": "0.55", "ls": ":", "lw": 1.5, "label": "random"}


def run_style(i: int) -> dict[str, object]:
    """Colour and line style of the ``i``-th run of an overlay (10 colours, then dashed, ...)."""
    return {"color": _RUN_COLORS[i % len(_RUN_COLORS)], "ls": _RUN_STYLES[(i // len(_RUN_COLORS)) % 4]}


def _legend_text(name: str, auc: float | None) -> str:
    """``"name, AUC = 98.7%"`` (no AUC part when it is unknown)."""
    return name if auc is None or not math.isfinite(auc) else f"{name}, AUC = {100 * auc:.1f}%"


def _draw_rocs(ax: Axes, curves: Mapping[str, Curve], styles: Sequence[Mapping[str, object]],
               names: Sequence[str]) -> float:
    """Draw ``curves`` on ``ax`` (εS on x, εB on log y); return their smallest non-zero εB."""
    low = 1.0
    for (tpr, fpr, auc), style, name in zip(curves.values(), styles, names, strict=True):
        t, f = np.asarray(tpr, dtype=np.float64), np.asarray(fpr, dtype=np.float64)
        shown = f > 0                                                   # εB = 0 has no place on a log axis
        ax.plot(t[shown], f[shown], label=_legend_text(name, auc), **style)  # type: ignore[arg-type]
        if shown.any():
            low = min(low, float(f[shown].min()))
    return low


def _roc_axes(ax: Axes, low: float, legend_size: str = "small") -> None:
    """Axis titles, limits, the random-tagger line, grid and legend of one ROC panel."""
    grid = np.linspace(0.0, 1.0, 101)
    ax.plot(grid[1:], grid[1:], **_RANDOM)  # type: ignore[arg-type]
    ax.set_yscale("log")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(min(10.0 ** math.floor(math.log10(low)), 0.1), 1.5)
    ax.set_xlabel(r"signal efficiency $\varepsilon_S$")
    ax.set_ylabel(r"background mistag rate $\varepsilon_B$")
    ax.grid(True, which="major", color="0.85", lw=0.8)
    ax.legend(loc="lower right", fontsize=legend_size, handlelength=1.8, labelspacing=0.3)  # empty corner


def _curve_name(key: str) -> str:
    """Legend name of a ROC key: class keys become class labels, run names stay."""
    return class_label(key) if key in CLASS_COLORS else key


def plot_roc(curves: Mapping[str, Curve], path: str | os.PathLike[str], title: str = "") -> Path:
    """One ROC panel: a curve per entry of ``curves`` (label -> (tpr, fpr, auc)) and the random line.

    Class names (``g``, ``q``, ``w``, ``z``, ``t``) get the class colour and label, e.g. one-vs-rest
    curves of one tagger; any other label (a run name, ``"t vs g+q"``) gets a run colour.
    """
    if not curves:
        raise ValueError("plot_roc needs at least one curve")
    styles = [{"color": CLASS_COLORS[k]} if k in CLASS_COLORS else run_style(i) for i, k in enumerate(curves)]
    with style_context(scale=0.6):
        fig = new_figure(8.0, 7.0)
        ax = fig.subplots()
        low = _draw_rocs(ax, curves, styles, [_curve_name(k) for k in curves])
        _roc_axes(ax, low, legend_size="small")
        if title:
            ax.set_title(title, fontsize="medium")
        return save(fig, path)


def _ordered_classes(runs: Mapping[str, Mapping[str, Curve]]) -> list[str]:
    """Classes found in any run: ``g, q, w, z, t`` first in that order, then others as met."""
    seen = list(dict.fromkeys(c for curves in runs.values() for c in curves))
    return [c for c in CLASSES if c in seen] + [c for c in seen if c not in CLASSES]


def plot_roc_overlay(runs: Mapping[str, Mapping[str, Curve]], path: str | os.PathLike[str],
                     title: str = "", dashed: Sequence[str] = ()) -> Path:
    """The landscape figure: one ROC panel per class (one-vs-rest), every run overlaid on it.

    ``runs`` maps run name -> class -> (tpr, fpr, auc). A run keeps its colour in every panel;
    each panel's legend gives every run's AUC for that class. Panels are laid out three per row.
    Runs named in ``dashed`` (baselines such as one-variable cuts) are drawn dashed.
    """
    classes = _ordered_classes(runs)
    if not classes:
        raise ValueError("plot_roc_overlay needs at least one run with a ROC curve")
    ncols = min(3, len(classes))
    nrows = math.ceil(len(classes) / ncols)
    all_styles = {name: run_style(i) | ({"ls": "--"} if name in dashed else {}) for i, name in enumerate(runs)}
    with style_context(scale=0.45):
        fig = new_figure(5.6 * ncols, 5.2 * nrows + (0.4 if title else 0.0))
        axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
        for ax, cls in zip(axes, classes, strict=False):
            have = {name: curves[cls] for name, curves in runs.items() if cls in curves}
            low = _draw_rocs(ax, have, [all_styles[n] for n in have], list(have))
            _roc_axes(ax, low, legend_size="x-small")
            ax.set_title(f"{class_label(cls)} vs rest" if cls in CLASS_COLORS else cls, fontsize="medium")
        for ax in axes[len(classes):]:
            ax.set_visible(False)
        if title:
            fig.suptitle(title)
        return save(fig, path)


def plot_confusion(matrix: ArrayLike, class_names: Sequence[str], path: str | os.PathLike[str],
                   title: str = "") -> Path:
    """Confusion matrix heat map: row = true class, column = predicted class.

    Colours show each row normalised to 1 (the fraction of true-class jets given each prediction);
    each cell prints that fraction and, when ``matrix`` holds counts, the count below it.
    """
    m = np.asarray(matrix, dtype=np.float64)
    n = len(class_names)
    if m.shape != (n, n):
        raise ValueError(f"confusion matrix must be ({n}, {n}) for classes {list(class_names)}, got {m.shape}")
    rows = m.sum(axis=1, keepdims=True)
    frac = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    counts = bool(np.all(m == np.round(m))) and bool(np.any(rows > 1))
    labels = [CLASS_SYMBOLS.get(c, c) for c in class_names]
    with style_context(scale=0.55):
        fig = new_figure(1.3 * n + 3.2, 1.3 * n + 2.0)
        ax = fig.subplots()
        im = ax.imshow(frac, cmap="Blues", vmin=0.0, vmax=1.0, aspect="equal")
        for i, j in np.ndindex(n, n):
            text = f"{100 * frac[i, j]:.1f}%" + (f"\n({int(m[i, j]):,})" if counts else "")
            ax.text(j, i, text, ha="center", va="center", fontsize="x-small" if counts else "small",
                    color="white" if frac[i, j] > 0.5 else "black")
        ax.set_xticks(range(n), labels)
        ax.set_yticks(range(n), labels)
        ax.tick_params(which="minor", length=0)
        ax.tick_params(which="major", top=False, right=False)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        fig.colorbar(im, ax=ax, label="fraction of true class", shrink=0.85)
        if title:
            ax.set_title(title, fontsize="medium")
        return save(fig, path)


def read_history(source: str | os.PathLike[str] | Mapping[str, Sequence[float | None]]) -> dict[str, list[float]]:
    """Per-epoch losses from a training log: ``{"epoch": [...], "<name>": [...], ...}``.

    ``source`` is a CSV (e.g. Lightning's ``metrics.csv``: a header, one row per logging step,
    empty cells where a metric was not logged) or a mapping of column -> values. Columns whose name
    contains ``loss`` are kept (``*_step`` ones only when nothing else is logged); several values of
    one epoch are averaged. Rows without an ``epoch`` column count 0, 1, 2, ...
    """
    table = dict(source) if isinstance(source, Mapping) else _read_csv(Path(source))
    n_rows = max((len(v) for v in table.values()), default=0)
    epochs = [float(e) for e in table.get("epoch", range(n_rows))]  # type: ignore[arg-type]
    names = [k for k in table if "loss" in k]
    names = [k for k in names if not k.endswith("_step")] or names
    per_epoch: dict[str, dict[float, list[float]]] = {k: {} for k in names}
    for name in names:
        for e, v in zip(epochs, table[name], strict=False):
            if v is not None and v != "" and math.isfinite(float(v)):
                per_epoch[name].setdefault(e, []).append(float(v))
    all_epochs = sorted({e for d in per_epoch.values() for e in d})
    out: dict[str, list[float]] = {"epoch": all_epochs}
    for name, d in per_epoch.items():
        out[name] = [float(np.mean(d[e])) if e in d else math.nan for e in all_epochs]
    return out


def _read_csv(path: Path) -> dict[str, list[str]]:
    """Columns of a CSV file with a header row, as strings."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {k: [r.get(k) or "" for r in rows] for k in (rows[0] if rows else {})}


def _history_label(name: str) -> tuple[str, str | None]:
    """Legend label and colour of a loss column: train* -> training, val* -> validation."""
    if name.startswith("train") or name in ("loss", "loss_epoch"):
        return "training", CLASS_COLORS["g"]
    if name.startswith("val"):
        return "validation", CLASS_COLORS["t"]
    return name, None


def _log_loss_axis(ax: Axes, low: float, high: float) -> None:
    """Log y for losses with plain-number labels; minor ticks labelled too when the span is short.

    Under one decade every minor tick (2x .. 9x) is labelled, under two decades 2x, 3x and 5x.
    """
    ax.set_yscale("log")
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_major_formatter(plain)
    short = high / low < 10
    ax.yaxis.set_minor_locator(LogLocator(subs=np.arange(2.0, 10.0) if short else (2.0, 3.0, 5.0)))
    ax.yaxis.set_minor_formatter(plain if high / low < 100 else NullFormatter())


def plot_history(source: str | os.PathLike[str] | Mapping[str, Sequence[float | None]],
                 path: str | os.PathLike[str], title: str = "") -> Path:
    """Training and validation loss vs epoch (log y when all losses are positive), best epoch marked.

    ``source`` as in :func:`read_history`. The epoch of the lowest validation loss gets a dotted line.
    """
    hist = read_history(source)
    epochs = np.asarray(hist.pop("epoch"))
    if not hist or epochs.size == 0:
        raise ValueError("no loss values found in the training history")
    with style_context(scale=0.6):
        fig = new_figure(8.0, 6.0)
        ax = fig.subplots()
        for name, values in hist.items():
            label, color = _history_label(name)
            v = np.asarray(values)
            ax.plot(epochs, v, marker="o", ms=3, label=label, color=color)
            if label == "validation" and np.isfinite(v).any():
                best = int(np.nanargmin(v))
                ax.axvline(epochs[best], color="0.5", ls=":", lw=1.5, label=f"best epoch ({epochs[best]:g})")
        finite = np.concatenate([np.asarray(v)[np.isfinite(v)] for v in hist.values()])
        if finite.size and finite.min() > 0:
            _log_loss_axis(ax, float(finite.min()), float(finite.max()))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.legend(loc="upper right", fontsize="small")
        if title:
            ax.set_title(title, fontsize="medium")
        return save(fig, path)
