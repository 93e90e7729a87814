"""Real vs generated calorimeter showers: feature histograms with ratio panels and average shower images.

:func:`plot_showers` writes five PNGs into ``out_dir``:

- ``calo_energy.png``: E_tot/E_inc, E_l/E_inc of the drawn layers and the spectrum of all voxel energies;
- ``calo_centres.png``: centres of energy ⟨x⟩ (top row) and ⟨y⟩ (bottom row) per drawn layer;
- ``calo_widths.png``: widths σ_x and σ_y per drawn layer;
- ``calo_sparsity.png``: sparsity (fraction of voxels at or below the threshold) per drawn layer;
- ``calo_average.png``: the average shower of each drawn layer, real (top), generated (middle) on one log
  colour scale per layer, and their ratio generated / real (bottom): cells in (x, y) mm for grids, polar
  (α, r) bins for cylinders.

Features are those of :mod:`jetlab.metrics.calo_features`; every histogram uses the bins of
:func:`jetlab.metrics.calo.feature_binnings` on the real sample (entries outside the range in the edge
bins), shows the fraction of each sample's entries per bin, and prints the separation power S of the two
histograms, so a panel shows exactly what the metric saw. Layers drawn: all of them when there are at
most six, else six spread evenly from the first to the last (``layers`` chooses others). Ratio panels as
in :mod:`jetlab.report.gen_plots`: generated / real with the generated sample's Poisson error, the real
sample's relative error as a grey band, arrows for ratios outside [0.5, 1.5].
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullLocator

from jetlab.errors import UsageError
from jetlab.metrics.calo import VOXEL_FEATURE, Binning, feature_binnings, separation_power
from jetlab.metrics.calo_features import CaloLayout, check_showers, shower_features, voxel_energies
from jetlab.report.gen_plots import RATIO_RANGE, ratio_with_errors
from jetlab.report.style import new_figure, save, style_context

__all__ = ["FILES", "drawn_layers", "plot_showers"]

FILES = ("calo_energy.png", "calo_centres.png", "calo_widths.png", "calo_sparsity.png", "calo_average.png")
_FAKE_COLOR = "#D55E00"
_MAX_COLS = 6
_RATIO_FLOOR = 1e-3  # image ratio drawn where the real mean exceeds this fraction of its layer's peak


@dataclass(frozen=True)
class _Panel:
    """One histogram: real and generated values on shared bins."""

    real: np.ndarray
    fake: np.ndarray
    bins: Binning
    xlabel: str
    log_y: bool = False


def drawn_layers(n_layers: int, k: int = _MAX_COLS) -> list[int]:
    """All layers when ``n_layers`` <= ``k``, else ``k`` spread evenly from the first to the last."""
    return list(range(n_layers)) if n_layers <= k else sorted({round(i) for i in np.linspace(0, n_layers - 1, k)})


def plot_showers(real: tuple[np.ndarray, np.ndarray], fake: tuple[np.ndarray, np.ndarray], layout: CaloLayout,
                 out_dir: str | os.PathLike[str], *, label_real: str = "simulation", label_fake: str = "generated",
                 layers: Sequence[int] | None = None, n_bins: int = 40, threshold_mev: float = 0.0,
                 max_showers: int = 100_000, seed: int = 0) -> list[Path]:
    """Write the five PNGs of the module docstring into ``out_dir`` (created); return their paths.

    Arguments:
        real, fake: ``(voxels (N, V) MeV, incident (N,) MeV)`` in the flat order of ``layout``.
        layers: layer indices to draw (default: :func:`drawn_layers`).
        n_bins, threshold_mev: as in :class:`jetlab.metrics.calo.CaloMetricsConfig`.
        max_showers: showers drawn per sample at most (seeded random subset).

    Raises:
        FormatError: a sample does not match ``layout`` or holds NaN or negative energies.
        UsageError: a layer index out of range.
    """
    (rv, re), (fv, fe) = (_subset(check_showers(*s, layout, what), max_showers, seed)
                          for s, what in ((real, "real showers"), (fake, "generated showers")))
    chosen = list(layers) if layers is not None else drawn_layers(layout.n_layers)
    if not chosen or min(chosen) < 0 or max(chosen) >= layout.n_layers:
        raise UsageError(f"layers to draw must lie in 0..{layout.n_layers - 1}, got {chosen}")
    fr, ff = (shower_features(v, e, layout, threshold_mev) for v, e in ((rv, re), (fv, fe)))
    bins = feature_binnings(fr, rv, n_bins, threshold_mev)
    cr, cf = fr.columns(), ff.columns()

    def panel(name: str, xlabel: str, log_y: bool = False) -> _Panel:
        return _Panel(cr[name], cf[name], bins[name], xlabel, log_y)

    title = f"{len(rv):,} {label_real} vs {len(fv):,} {label_fake} showers ({layout.name})"
    labels = (label_real, label_fake)
    out = Path(out_dir)
    energy = [panel("etot_einc", r"$E_\mathrm{tot}/E_\mathrm{inc}$")]
    energy += [panel(f"elayer_einc_{k}", rf"$E_{{{k}}}/E_\mathrm{{inc}}$ (layer {k})") for k in chosen]
    energy.append(_Panel(voxel_energies(rv, threshold_mev), voxel_energies(fv, threshold_mev), bins[VOXEL_FEATURE],
                         "voxel energy [MeV]", log_y=True))
    centres = [panel(f"centre_{a}_{k}", rf"$\langle {a}\rangle$ layer {k} [mm]", log_y=True)
               for a in "xy" for k in chosen]
    widths = [panel(f"width_{a}_{k}", rf"$\sigma_{a}$ layer {k} [mm]") for a in "xy" for k in chosen]
    sparsity = [panel(f"sparsity_{k}", f"sparsity, layer {k}") for k in chosen]
    return [
        _plot_hists(energy, len(chosen) + 2, labels, f"Energies: {title}", out / FILES[0]),
        _plot_hists(centres, len(chosen), labels, f"Centres of energy: {title}", out / FILES[1]),
        _plot_hists(widths, len(chosen), labels, f"Shower widths: {title}", out / FILES[2]),
        _plot_hists(sparsity, len(chosen), labels, f"Sparsity: {title}", out / FILES[3]),
        _plot_average(rv.mean(0), fv.mean(0), layout, chosen, labels, f"Average shower: {title}", out / FILES[4]),
    ]


def _subset(s: tuple[np.ndarray, np.ndarray], n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if len(s[0]) <= n:
        return s
    keep = np.sort(np.random.default_rng(seed).choice(len(s[0]), n, replace=False))
    return s[0][keep], s[1][keep]


def _hist_ratio(ax: Axes, rax: Axes, p: _Panel, labels: tuple[str, str]) -> None:
    """Fractions per bin (real filled grey, generated a step) on ``ax``, ratio on ``rax``, S in the corner."""
    edges = p.bins.edges
    cr, cf = p.bins.counts(p.real), p.bins.counts(p.fake)
    dr, df = cr / max(len(p.real), 1), cf / max(len(p.fake), 1)
    ax.stairs(dr, edges, fill=True, color="0.82", label=labels[0])
    ax.stairs(dr, edges, color="0.45", lw=1.0)
    ax.stairs(df, edges, color=_FAKE_COLOR, lw=2.0, label=labels[1])
    top = max(float(dr.max(initial=0)), float(df.max(initial=0))) or 1.0
    if p.log_y:
        low = min(float(d[d > 0].min(initial=top)) for d in (dr, df))
        ax.set_yscale("log")
        ax.set_ylim(low / 3, top * 20)
    else:
        ax.set_ylim(0, top * 1.35)
    ax.text(0.04, 0.95, f"$S$ = {separation_power(cr, cf):.3g}", transform=ax.transAxes, va="top", ha="left")
    ax.set_ylabel("fraction per bin")
    if p.bins.log:
        for a in (ax, rax):
            a.set_xscale("log")
    ratio, err, band = ratio_with_errors(cr, cf, len(p.real), len(p.fake))
    centres = np.sqrt(edges[:-1] * edges[1:]) if p.bins.log else 0.5 * (edges[:-1] + edges[1:])
    rax.stairs(1 + band, edges, baseline=1 - band, fill=True, color="0.9", lw=0)
    rax.axhline(1.0, color="0.3", lw=1.0, ls="--")
    lo, hi = RATIO_RANGE
    inside = (ratio >= lo) & (ratio <= hi)
    rax.errorbar(centres[inside], ratio[inside], yerr=err[inside], fmt="o", ms=3, color=_FAKE_COLOR, lw=1.2)
    for cut, y, marker in ((ratio > hi, hi - 0.04, "^"), (ratio < lo, lo + 0.04, "v")):
        rax.plot(centres[cut], np.full(cut.sum(), y), marker, ms=5, color=_FAKE_COLOR, ls="none")
    rax.set_ylim(lo, hi)
    rax.set_ylabel("gen. / real")
    rax.set_xlim(edges[0], edges[-1])
    rax.set_xlabel(p.xlabel)
    ax.tick_params(labelbottom=False)


def _plot_hists(panels: list[_Panel], n_cols: int, labels: tuple[str, str], title: str, path: Path) -> Path:
    """Panels in rows of ``n_cols`` (at most six), each a histogram over its ratio panel."""
    n_cols = min(n_cols, _MAX_COLS, len(panels))
    n_rows = math.ceil(len(panels) / n_cols)
    with style_context(scale=0.45):
        fig = new_figure(3.6 * n_cols, 4.4 * n_rows + 0.6)
        axes = fig.subplots(2 * n_rows, n_cols, height_ratios=[3, 1.1] * n_rows, squeeze=False)
        engine = fig.get_layout_engine()
        if isinstance(engine, ConstrainedLayoutEngine):
            engine.set(h_pad=0.02, hspace=0.0)
        for k in range(n_rows * n_cols):
            ax, rax = axes[2 * (k // n_cols), k % n_cols], axes[2 * (k // n_cols) + 1, k % n_cols]
            if k >= len(panels):
                ax.set_visible(False)
                rax.set_visible(False)
                continue
            rax.sharex(ax)
            _hist_ratio(ax, rax, panels[k], labels)
        handles, names = axes[0, 0].get_legend_handles_labels()
        handles[0] = Patch(facecolor="0.82", edgecolor="0.45", lw=1.0)
        fig.legend([*handles, Patch(color="0.9")], [*names, "real stat. unc. (ratio)"], loc="outside upper center",
                   ncols=3, title=title, fontsize="medium", title_fontsize="large", columnspacing=2.5)
        return save(fig, path)


def _plot_average(real: np.ndarray, fake: np.ndarray, layout: CaloLayout, layers: list[int],
                  labels: tuple[str, str], title: str, path: Path) -> Path:
    """Rows real, generated, ratio; one column per drawn layer; one log scale per layer for the first two rows."""
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#440154", under="#440154")
    rcmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="0.75")
    with style_context(scale=0.4):
        fig = new_figure(3.3 * len(layers), 9.6)
        kw = {"projection": "polar"} if layout.polar else {}
        axes = fig.subplots(3, len(layers), squeeze=False, subplot_kw=kw)
        for col, k in enumerate(layers):
            r_img, f_img = (layout.layer(m[None], k)[0] for m in (real, fake))          # (rows, cols) each
            vmax = max(float(r_img.max()), float(f_img.max()), 1e-12)
            norm = LogNorm(vmin=vmax * 1e-4, vmax=vmax)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(r_img > _RATIO_FLOOR * r_img.max(), f_img / r_img, np.nan)
            shown = ((r_img, labels[0], cmap, norm), (f_img, labels[1], cmap, norm),
                     (ratio, "ratio", rcmap, LogNorm(0.5, 2.0)))
            for row, (img, name, cm, nm) in enumerate(shown):
                mesh = _draw_layer(axes[row, col], img, layout, k, cm, nm)
                axes[row, col].set_title(f"{name}, layer {k}")
                if row == 1:
                    fig.colorbar(mesh, ax=list(axes[:2, col]), shrink=0.8, pad=0.02, label="mean energy per cell [MeV]")
                elif row == 2:
                    cb = fig.colorbar(mesh, ax=axes[row, col], shrink=0.8, pad=0.02, extend="both", label="gen. / real")
                    cb.ax.yaxis.set_major_locator(FixedLocator([0.5, 0.67, 1.0, 1.5, 2.0]))
                    cb.ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
                    cb.ax.yaxis.set_minor_locator(NullLocator())
        fig.suptitle(f"{title} (ratio grey: real below {_RATIO_FLOOR:g} of its peak)")
        return save(fig, path)


def _draw_layer(ax: Axes, img: np.ndarray, layout: CaloLayout, k: int, cmap: matplotlib.colors.Colormap,
                norm: LogNorm) -> matplotlib.collections.QuadMesh:
    """One layer's mean image: (x, y) cells of a grid with x across, or polar (α, r) bins of a cylinder."""
    e0, e1 = layout.cell_edges[k]
    if layout.polar:
        mesh = ax.pcolormesh(e0, e1, img.T, cmap=cmap, norm=norm)                     # θ = α around, r outward
        ax.set_xticklabels([])
        ax.set_yticklabels([])
        ax.grid(False)
        return mesh
    mesh = ax.pcolormesh(e0, e1, img.T, cmap=cmap, norm=norm)                         # x across, y up
    ax.set_aspect("equal")
    ax.set_xlabel("x [mm]")
    ax.set_ylabel("y [mm]")
    return mesh
