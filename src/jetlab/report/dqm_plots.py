"""Plots of data-quality monitoring: maps, reconstructions and error maps with the true faulty channels outlined,
and every method's metric against the fault strength. House style (:mod:`jetlab.report.style`)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.patches import Rectangle

from jetlab.report.style import new_figure, save, style_context

__all__ = ["plot_map_examples", "plot_metric_vs_strength"]


def _outline(ax: Any, faults: np.ndarray) -> None:
    """A red square around each faulty channel of ``faults`` (H, W) bool."""
    for i, j in np.argwhere(faults):
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=1.2))


def plot_map_examples(inputs: np.ndarray, recons: np.ndarray | None, errors: np.ndarray, faults: np.ndarray,
                      titles: Sequence[str], path: str | os.PathLike[str], title: str = "") -> Path:
    """Columns: K maps. Rows: the normalized input (K, H, W), its reconstruction (if any), the per-channel error
    (K, H, W); the true faulty channels (K, H, W) outlined in red on every panel."""
    rows = [("input (pull)", inputs, "RdBu_r", True)]
    if recons is not None:
        rows.append(("reconstruction", recons, "RdBu_r", True))
    rows.append(("channel error", errors, "viridis", False))
    k = len(inputs)
    with style_context(scale=0.45):
        fig = new_figure(2.6 * k + 1.6, 2.6 * len(rows) + 0.6)
        axes = np.asarray(fig.subplots(len(rows), k, squeeze=False))
        for r, (name, imgs, cmap, signed) in enumerate(rows):
            vmax = max(float(np.abs(imgs).max()), 1e-6)
            for j in range(k):
                ax = axes[r, j]
                im = ax.imshow(imgs[j], origin="lower", cmap=cmap, vmin=-vmax if signed else 0.0, vmax=vmax,
                               interpolation="nearest")
                _outline(ax, faults[j])
                ax.set_xticks([])
                ax.set_yticks([])
                if r == 0:
                    ax.set_title(titles[j])
            axes[r, 0].set_ylabel(name)
            fig.colorbar(im, ax=list(axes[r]), shrink=0.9, pad=0.02)
        fig.suptitle(title or "Detector maps (faulty channels outlined)")
        return save(fig, path)


def plot_metric_vs_strength(metrics: Mapping[str, Mapping[str, Any]], key: str, path: str | os.PathLike[str],
                            ylabel: str = "") -> Path:
    """One line per method: ``key`` (``auc``, ``eff@0.01``, ``localization``) of ``metrics[method]["by_strength"]``."""
    with style_context(scale=0.6):
        fig = new_figure(6.4, 4.8)
        ax = fig.subplots()
        for method, m in metrics.items():
            pts = []
            for s, entry in m.get("by_strength", {}).items():
                value = entry.get("auc") if key == "auc" else None
                if key.startswith("eff@"):
                    value = entry["efficiency"].get(key[4:], {}).get("efficiency")
                if key == "localization":
                    value = (entry.get("localization") or {}).get("efficiency")
                if value is not None:
                    pts.append((float(s), float(value)))
            if pts:
                xs, ys = zip(*sorted(pts))
                ax.plot(xs, ys, marker="o", label=method)
        ax.set_xlabel("fault strength")
        ax.set_ylabel(ylabel or key)
        ax.set_xscale("log")
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
        return save(fig, path)
