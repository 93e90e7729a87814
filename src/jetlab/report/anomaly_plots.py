"""Plots of anomaly detection and mass decorrelation.

- :func:`plot_score_distributions`: the anomaly score per class, density-normalised step histograms
  on a log y axis (background classes shaded);
- :func:`plot_sic`: the significance improvement SIC = εS/sqrt(εB) against εS per signal class,
  maxima marked (definitions in :mod:`jetlab.metrics.anomaly`);
- :func:`plot_latent`: the (z1, z2) scatter of an encoder's latent space coloured by class, as in
  the lecture's picture;
- :func:`plot_image_examples`: jet images, their reconstructions and the residuals;
- :func:`plot_mass_sculpting`: background mass distributions after successively tighter cuts on
  the score (a mass-correlated tagger moves them towards the signal mass; see
  :mod:`jetlab.metrics.decorrelation`).

Class names ``g, q, w, z, t`` get the class colours and labels of :mod:`jetlab.report.style`; other
names get the tab10 colours. Every function writes one PNG atomically and returns its path.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.colors import LogNorm, SymLogNorm
from matplotlib.lines import Line2D
from numpy.typing import ArrayLike

from jetlab.metrics.decorrelation import threshold_at_efficiency
from jetlab.report.style import CLASS_COLORS, class_label, new_figure, save, style_context

__all__ = ["plot_score_distributions", "plot_sic", "plot_latent", "plot_image_examples", "plot_mass_sculpting"]

_OTHER = matplotlib.colormaps["tab10"].colors


def _color(name: str, i: int) -> object:
    """Class colour of ``name``, else the ``i``-th tab10 colour."""
    return CLASS_COLORS.get(name, _OTHER[i % len(_OTHER)])


def _score_edges(values: np.ndarray, bins: int) -> tuple[np.ndarray, bool]:
    """Common bin edges over the 0.05-99.95 percentile range; log-spaced for positive scores spanning
    more than two decades. Returns the edges and whether they are logarithmic."""
    lo, hi = (float(v) for v in np.percentile(values, [0.05, 99.95]))
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    if lo > 0 and hi / lo > 100:
        return np.geomspace(lo, hi, bins + 1), True
    return np.linspace(lo, hi, bins + 1), False


def plot_score_distributions(scores: ArrayLike, labels: ArrayLike, class_names: Sequence[str],
                             path: str | os.PathLike[str], background: Sequence[int] = (),
                             bins: int = 60, xlabel: str = "anomaly score", title: str = "") -> Path:
    """Score distribution of each class present: step histograms, common bins, log y.

    Each class is normalised to unit sum (the fraction of its jets per bin): on equal-width bins,
    linear or logarithmic, that is a density in the score or in its logarithm, up to a constant.

    Bins cover the 0.05-99.95 percentiles of all jets (log-spaced, with a log x axis, when the
    scores are positive and span more than two decades); scores outside are counted in the first or
    last bin. Background classes are drawn shaded and marked "background".
    """
    s, y = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    if s.ndim != 1 or y.shape != s.shape or s.size == 0:
        raise ValueError(f"scores and labels must be 1-D of equal non-zero length, got {s.shape}, {y.shape}")
    edges, log_x = _score_edges(s, bins)
    clipped = np.clip(s, edges[0], edges[-1])
    with style_context(scale=0.6):
        fig = new_figure(8.5, 6.0)
        ax = fig.subplots()
        low, top = np.inf, 0.0
        for k, name in enumerate(class_names):
            if not np.any(y == k):
                continue
            counts, _ = np.histogram(clipped[y == k], edges)
            dens = counts / counts.sum()                            # (bins,) fraction of the class per bin
            bkg = k in background
            label = class_label(name) + (", background" if bkg else "")
            ax.stairs(dens, edges, color=_color(name, k), label=label, fill=bkg, alpha=0.25 if bkg else 1.0)
            if bkg:
                ax.stairs(dens, edges, color=_color(name, k))
            low, top = min(low, float(dens[dens > 0].min(initial=np.inf))), max(top, float(dens.max()))
        ax.set_yscale("log")
        ax.set_ylim(low / 2 if math.isfinite(low) else 1e-3, top * 8 if top > 0 else 1.0)
        if log_x:
            ax.set_xscale("log")
        ax.set_xlim(edges[0], edges[-1])
        ax.set_xlabel(xlabel)
        ax.set_ylabel("fraction of jets per bin")
        ax.legend(loc="upper right", fontsize="small", ncols=2)
        if title:
            ax.set_title(title, fontsize="medium")
        return save(fig, path)


def plot_sic(curves: Mapping[str, tuple[ArrayLike, ArrayLike]], path: str | os.PathLike[str],
             title: str = "") -> Path:
    """SIC = εS/sqrt(εB) against εS, one curve per class (``name -> (eff_s, sic)``), maxima marked.

    The dotted line is a useless score (εS = εB, SIC = sqrt(εS)); the legend gives each maximum.
    """
    if not curves:
        raise ValueError("plot_sic needs at least one curve")
    with style_context(scale=0.6):
        fig = new_figure(8.0, 6.0)
        ax = fig.subplots()
        top = 1.0
        for i, (name, (eff_s, sic)) in enumerate(curves.items()):
            e, v = np.asarray(eff_s, dtype=np.float64), np.asarray(sic, dtype=np.float64)
            if v.size == 0:
                continue
            best = int(np.argmax(v))
            color = _color(name, i)
            ax.plot(e, v, color=color, label=f"{class_label(name)}, max SIC = {v[best]:.2f}")
            ax.plot(e[best], v[best], marker="o", ms=6, color=color)
            top = max(top, float(v[best]))
        grid = np.linspace(0.0, 1.0, 201)
        ax.plot(grid, np.sqrt(grid), color="0.55", ls=":", lw=1.5, label="random")
        ax.axhline(1.0, color="0.8", lw=0.8)
        ax.set_xlim(0.0, 1.0)
        ax.set_ylim(0.0, top * 1.3)
        ax.set_xlabel(r"signal efficiency $\varepsilon_S$")
        ax.set_ylabel(r"SIC = $\varepsilon_S$ / √$\varepsilon_B$")
        ax.grid(True, which="major", color="0.9", lw=0.8)
        ax.legend(loc="upper right", fontsize="small")
        if title:
            ax.set_title(title, fontsize="medium")
        return save(fig, path)


def plot_latent(z: ArrayLike, labels: ArrayLike, class_names: Sequence[str], path: str | os.PathLike[str],
                max_per_class: int = 2000, seed: int = 0, title: str = "") -> Path:
    """Scatter of the first two latent coordinates (z1, z2), coloured by class.

    At most ``max_per_class`` random jets per class are drawn, in a random order so that no class
    hides another; points are small and translucent, so dense regions read darker.
    """
    zz, y = np.asarray(z, dtype=np.float64), np.asarray(labels)
    if zz.ndim != 2 or zz.shape[1] < 2 or y.shape != (zz.shape[0],):
        raise ValueError(f"z must be (N, >=2) with labels (N,), got {zz.shape} and {y.shape}")
    rng = np.random.default_rng(seed)
    present = [k for k in range(len(class_names)) if np.any(y == k)]
    keep = np.concatenate([rng.permutation(np.flatnonzero(y == k))[:max_per_class] for k in present]
                          or [np.zeros(0, np.int64)])
    keep = rng.permutation(keep)
    colors = {k: _color(class_names[k], k) for k in present}
    with style_context(scale=0.6):
        fig = new_figure(7.5, 7.0)
        ax = fig.subplots()
        ax.scatter(zz[keep, 0], zz[keep, 1], c=[colors[int(k)] for k in y[keep]], s=4, alpha=0.35,
                   linewidths=0, rasterized=True)
        handles = [Line2D([], [], ls="", marker="o", ms=7, color=colors[k], label=class_label(class_names[k]))
                   for k in present]
        ax.legend(handles=handles, loc="upper right", fontsize="small")
        ax.set_xlabel("$z_1$")
        ax.set_ylabel("$z_2$")
        if title:
            ax.set_title(title, fontsize="medium")
        return save(fig, path)


def plot_image_examples(inputs: ArrayLike, recons: ArrayLike, path: str | os.PathLike[str],
                        extent: float = 0.8, title: str = "") -> Path:
    """Rows: jet images (K, 1, n, n), their reconstructions, and residuals input - reconstruction.

    Input and reconstruction share one log colour scale (pixels at or below 1e-4 of the largest
    show as the lowest colour); residuals use a symmetric-log diverging scale, linear below that
    same floor. Images are ``[i_eta, i_phi]`` as made by :mod:`jetlab.represent.image` and drawn
    with Δη along x, over [-extent, extent].
    """
    x, r = np.asarray(inputs, dtype=np.float64), np.asarray(recons, dtype=np.float64)
    if x.ndim != 4 or x.shape[1] != 1 or r.shape != x.shape or x.shape[0] == 0:
        raise ValueError(f"inputs and recons must both be (K, 1, n, n), got {x.shape} and {r.shape}")
    x, r = x[:, 0], r[:, 0]                                       # (K, n, n)
    vmax = max(float(x.max()), float(r.max()), 1e-12)
    floor = vmax * 1e-4
    res = x - r
    rmax = max(float(np.abs(res).max()), floor * 10)
    norms = [LogNorm(vmin=floor, vmax=vmax)] * 2 + [SymLogNorm(linthresh=floor, vmin=-rmax, vmax=rmax, base=10)]
    cmaps = [matplotlib.colormaps["viridis"].with_extremes(under="#440154", bad="#440154")] * 2
    cmaps.append(matplotlib.colormaps["RdBu_r"])
    names = ["input", "reconstruction", "residual"]
    k = x.shape[0]
    ext = (-extent, extent, -extent, extent)
    with style_context(scale=0.45):
        fig = new_figure(2.6 * k + 1.6, 7.6)
        axes = np.asarray(fig.subplots(3, k, squeeze=False))
        for row, (imgs, norm, cmap) in enumerate(zip((x, r, res), norms, cmaps, strict=True)):
            for j in range(k):
                ax = axes[row, j]
                im = ax.imshow(imgs[j].T, origin="lower", extent=ext, norm=norm, cmap=cmap,
                               interpolation="nearest", aspect="equal")
                ax.set_xticks([])
                ax.set_yticks([])
            axes[row, 0].set_ylabel(names[row])
            bar = fig.colorbar(im, ax=list(axes[row]), shrink=0.9, pad=0.02)
        bar.set_ticks(_symlog_ticks(rmax, floor))
        for j in range(k):
            axes[-1, j].set_xlabel(r"$\Delta\eta$")
        fig.suptitle(title or r"Jet images ($\Delta\eta$ along x, $\Delta\phi$ along y)")
        return save(fig, path)


def _symlog_ticks(top: float, linthresh: float) -> list[float]:
    """Colour-bar ticks of a symmetric-log scale: 0 and ± every second decade from ``top`` down."""
    mags = 10.0 ** math.floor(math.log10(top)) / 100.0 ** np.arange(8)
    mags = mags[mags >= linthresh]
    return [*(-mags).tolist(), 0.0, *mags[::-1].tolist()]


def plot_mass_sculpting(mass_bkg: ArrayLike, score_bkg: ArrayLike, path: str | os.PathLike[str],
                        bkg_effs: Sequence[float] = (1.0, 0.5, 0.1, 0.01), bins: int = 40,
                        xlabel: str = "jet mass [GeV]", title: str = "") -> Path:
    """Background mass distributions after cuts keeping fractions ``bkg_effs`` of the background.

    Each cut is ``score >= t`` with ``t`` from :func:`threshold_at_efficiency` on the background
    scores (εB = 1: no cut); each curve is normalised to unit area, binned over the 0.5-99.5
    percentiles of all background jets. A decorrelated tagger keeps all curves on the first.
    """
    m, s = np.asarray(mass_bkg, dtype=np.float64), np.asarray(score_bkg, dtype=np.float64)
    if m.ndim != 1 or s.shape != m.shape or m.size == 0:
        raise ValueError(f"mass_bkg and score_bkg must be 1-D of equal non-zero length, got {m.shape}, {s.shape}")
    lo, hi = (float(v) for v in np.percentile(m, [0.5, 99.5]))
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
    cmap = matplotlib.colormaps["plasma"]
    with style_context(scale=0.6):
        fig = new_figure(11.0, 6.0)
        ax = fig.subplots()
        top = 0.0
        for i, eff in enumerate(sorted(bkg_effs, reverse=True)):
            sel = s >= threshold_at_efficiency(s, eff)
            counts, _ = np.histogram(m[sel], edges)
            dens = counts / max(int(sel.sum()), 1) / np.diff(edges)
            color = cmap(0.85 * i / max(len(bkg_effs) - 1, 1))
            label = "no cut" if eff >= 1.0 else rf"$\varepsilon_B$ = {100 * eff:g}% ({int(sel.sum()):,} jets)"
            ax.stairs(dens, edges, color=color, label=label, lw=2.5 if eff >= 1.0 else 2.0)
            top = max(top, float(dens.max()))
        ax.set_xlim(edges[0], edges[-1])
        ax.set_ylim(0.0, top * 1.3 if top > 0 else 1.0)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("density (unit area)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small", title="background after cut",
                  title_fontsize="small")                       # outside: a sculpted peak can be anywhere
        ax.set_title(title or "Background mass sculpting", fontsize="medium")
        return save(fig, path)
