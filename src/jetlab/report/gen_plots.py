"""Real vs generated jets: histograms with ratio panels and average jet images.

:func:`plot_real_vs_generated` writes four PNGs into ``out_dir``:

- ``gen_jets.png``: relative jet mass m/pT (from the particle clouds, as W1M uses it), jet pT and
  constituent multiplicity (real slots among the ``n_particles`` hardest);
- ``gen_particles.png``: particle Δη, Δφ and pT/pT_jet over the real particles of all jets;
- ``gen_efps.png``: a few connected EFPs (β = 1, unnormalized: z = pT_rel) of degree 1 to 4, as
  JetNet's FPD/KPD use them;
- ``gen_images.png``: average pT-weighted jet image (centred, rotated, flipped; 40 x 40 cells over
  ±0.8) of each sample on one log colour scale, and their ratio generated / real.

Every histogram is normalised to unit area over all of its sample's entries (entries outside the drawn
range lower the curve); bins are shared and come from the 0.5-99.5 percentiles of the *real* sample
(log-spaced when the values are positive and span more than two decades). Real is drawn as a filled
grey histogram, generated as a coloured step. Each ratio panel shows generated / real with the
generated sample's Poisson error, the real sample's relative error as a grey band around 1, and arrows
for ratios outside [0.5, 1.5].
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FormatStrFormatter, MultipleLocator, NullLocator

from jetlab.errors import UsageError
from jetlab.io.jets import Jets
from jetlab.metrics.generative import jet_mass_from_relative
from jetlab.metrics.jetnet import jetnet_efps
from jetlab.report.plots import shared_bins
from jetlab.report.style import class_color, class_symbol, new_figure, save, style_context
from jetlab.represent import relative_clouds as clouds

__all__ = ["plot_real_vs_generated", "EFP_PANELS", "ratio_with_errors"]

# EFPs drawn (column in efp_graphs(4) order, label): one per graph shape, degrees 1 to 4.
EFP_PANELS: tuple[tuple[int, str], ...] = (
    (0, r"EFP $d{=}1$ (one edge, $\sum z_i z_j \theta_{ij}$)"),
    (2, r"EFP $d{=}2$ (wedge)"),
    (5, r"EFP $d{=}3$ (triangle)"),
    (7, r"EFP $d{=}3$ (chain of 4)"),
    (16, r"EFP $d{=}4$ (square)"),
)
RATIO_RANGE = (0.5, 1.5)
IMAGE_BINS, IMAGE_EXTENT = 40, 0.8
_MIXED_COLOR = "#D55E00"
_RATIO_FLOOR = 1e-3  # image ratio drawn where the real mean image exceeds this fraction of its peak
_CHUNK = 4096  # jets per jet_images call


@dataclass(frozen=True)
class _Look:
    """Labels, colour and title shared by every figure of one call."""

    real: str
    fake: str
    color: str
    title: str


@dataclass(frozen=True)
class _Panel:
    """One histogram column: real and generated values, x label, wished log axes."""

    real: np.ndarray
    fake: np.ndarray
    xlabel: str
    log_x: bool = False  # granted only for positive values spanning more than two decades
    log_y: bool = False


def plot_real_vs_generated(
    real: Jets,
    fake: Jets,
    out_dir: str | os.PathLike[str],
    n_particles: int = 30,
    label_real: str = "Pythia 8 + FastJet",
    label_fake: str = "generated",
    *,
    bins: int = 40,
    max_jets: int = 50_000,
    seed: int = 0,
) -> list[Path]:
    """Write ``gen_jets.png``, ``gen_particles.png``, ``gen_efps.png``, ``gen_images.png``; return their paths.

    Arguments:
        real, fake: jets with constituents (single class or mixed; labels only enter the title).
        out_dir: created if missing.
        n_particles: hardest constituents kept per jet, as in ``jetlab gen-metrics``.
        label_real, label_fake: legend labels.
        bins: bins per histogram (continuous features).
        max_jets: jets drawn per sample at most (seeded random subset).
        seed: seed of the subset.

    Raises:
        UsageError: a sample is empty or has no constituents (an HLF-only dataset), or ``n_particles`` < 1.
    """
    if n_particles < 1:
        raise UsageError(f"n_particles must be >= 1, got {n_particles}")
    for name, jets in (("real", real), ("generated", fake)):
        _check(name, jets)
    rng = np.random.default_rng(seed)
    real, fake = (j[np.sort(rng.choice(len(j), max_jets, replace=False))] if len(j) > max_jets else j
                  for j in (real, fake))
    (rx, rm), (fx, fm) = clouds(real, n_particles), clouds(fake, n_particles)  # (N, P, 3), (N, P)
    look = _Look(label_real, label_fake, _color(real), _title(real, fake))
    out = Path(out_dir)
    jet_panels = [
        _Panel(jet_mass_from_relative(rx, rm), jet_mass_from_relative(fx, fm), r"jet $m/p_T$"),
        _Panel(real.jet[:, 0], fake.jet[:, 0], r"jet $p_T$ [GeV]"),
        _Panel(rm.sum(1), fm.sum(1), f"constituent multiplicity (of {n_particles} hardest)"),
    ]
    particle_panels = [
        _Panel(rx[rm][:, 0], fx[fm][:, 0], r"particle $\Delta\eta$", log_y=True),
        _Panel(rx[rm][:, 1], fx[fm][:, 1], r"particle $\Delta\phi$", log_y=True),
        _Panel(rx[rm][:, 2], fx[fm][:, 2], r"particle $p_T/p_{T,\mathrm{jet}}$", log_x=True, log_y=True),
    ]
    re, fe = jetnet_efps(rx, rm)[:, 1:21], jetnet_efps(fx, fm)[:, 1:21]  # (N, 20) connected, unnormalized
    efp_panels = [_Panel(re[:, k], fe[:, k], lab, log_x=True) for k, lab in EFP_PANELS]
    return [
        _plot_hists(jet_panels, bins, look, "Jets", out / "gen_jets.png"),
        _plot_hists(particle_panels, bins, look, "Particles (real slots only)", out / "gen_particles.png"),
        _plot_hists(efp_panels, bins, look, r"Energy flow polynomials ($\beta=1$)", out / "gen_efps.png"),
        _plot_images(_mean_image(real), _mean_image(fake), look, out / "gen_images.png"),
    ]


def ratio_with_errors(real_counts: np.ndarray, fake_counts: np.ndarray, n_real: int,
                      n_fake: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-bin ratio of densities generated / real, its error and the real sample's relative error.

    ``r = (c_f / n_f) / (c_r / n_r)``; ``σ_r = sqrt(max(c_f, 1)) / n_f / (c_r / n_r)`` (Poisson error of the
    generated count, one count when empty); the real error ``1 / sqrt(c_r)`` is returned apart, for a band
    around 1. Bins without real entries give NaN.
    """
    cr, cf = np.asarray(real_counts, np.float64), np.asarray(fake_counts, np.float64)
    ref = np.where(cr > 0, cr / max(n_real, 1), np.nan)
    ratio = cf / max(n_fake, 1) / ref
    err = np.sqrt(np.maximum(cf, 1.0)) / max(n_fake, 1) / ref
    return ratio, err, np.where(cr > 0, 1.0 / np.sqrt(np.maximum(cr, 1.0)), np.nan)


# ------------------------------------------------------------------------------------------ helpers
def _check(name: str, jets: Jets) -> None:
    if len(jets) == 0:
        raise UsageError(f"{name} sample: no jets to plot")
    if jets.max_particles == 0 or not np.any(jets.n_particles > 0):
        raise UsageError(f"{name} sample has no constituents (an HLF-only dataset?); real-vs-generated "
                         "plots need particle-level jets")


def _color(jets: Jets) -> str:
    """Colour of the generated sample: its class colour for a single class, else a fixed one."""
    present = list(jets.counts())
    return class_color(present[0]) if len(present) == 1 else _MIXED_COLOR


def _title(real: Jets, fake: Jets) -> str:
    what = ", ".join(class_symbol(c) for c in real.counts()) or "unlabelled"
    return f"{len(real):,} real vs {len(fake):,} generated jets ({what})"


def _edges(values: np.ndarray, bins: int, log: bool) -> tuple[np.ndarray, bool]:
    """Bin edges from the 0.5-99.5 percentiles of ``values``; log-spaced if positive over > 2 decades."""
    v = values[np.isfinite(values)]
    if log and v.size and v.min() > 0:
        lo, hi = np.percentile(v, [0.5, 99.5])
        if hi > 100 * lo:
            return np.geomspace(lo, hi, bins + 1), True
    return shared_bins([v], bins), False


def _hist_ratio(ax: Axes, rax: Axes, panel: _Panel, edges: np.ndarray, log_x: bool, look: _Look) -> None:
    """Histograms of ``panel`` (real filled grey, generated as a step) on ``ax``; their ratio on ``rax``.

    Density per unit x on linear bins; on log-spaced bins the fraction of entries per bin (a density per
    unit log x), so that the shape is not distorted by the growing bin widths.
    """
    real, fake = (np.asarray(a, np.float64) for a in (panel.real, panel.fake))
    real, fake = real[np.isfinite(real)], fake[np.isfinite(fake)]
    widths = np.ones(len(edges) - 1) if log_x else np.diff(edges)
    cr, _ = np.histogram(real, edges)
    cf, _ = np.histogram(fake, edges)
    dr, df = cr / (max(real.size, 1) * widths), cf / (max(fake.size, 1) * widths)
    ax.stairs(dr, edges, fill=True, color="0.82", label=look.real)
    ax.stairs(dr, edges, color="0.45", lw=1.0)
    ax.stairs(df, edges, color=look.color, lw=2.0, label=look.fake)
    top = max(float(dr.max(initial=0)), float(df.max(initial=0))) or 1.0
    if panel.log_y:
        low = min(float(d[d > 0].min(initial=top)) for d in (dr, df))
        ax.set_yscale("log")
        ax.set_ylim(low / 3, top * 8)
    else:
        ax.set_ylim(0, top * 1.3)
    ax.set_ylabel("fraction per bin" if log_x else "density")
    ratio, err, band = ratio_with_errors(cr, cf, real.size, fake.size)
    centres = np.sqrt(edges[:-1] * edges[1:]) if log_x else 0.5 * (edges[:-1] + edges[1:])
    rax.stairs(1 + band, edges, baseline=1 - band, fill=True, color="0.9", lw=0)
    rax.axhline(1.0, color="0.3", lw=1.0, ls="--")
    lo, hi = RATIO_RANGE
    inside = (ratio >= lo) & (ratio <= hi)
    rax.errorbar(centres[inside], ratio[inside], yerr=err[inside], fmt="o", ms=3, color=look.color, lw=1.2)
    for cut, y, marker in ((ratio > hi, hi - 0.04, "^"), (ratio < lo, lo + 0.04, "v")):
        rax.plot(centres[cut], np.full(cut.sum(), y), marker, ms=5, color=look.color, ls="none")
    rax.set_ylim(lo, hi)
    rax.yaxis.set_major_locator(MultipleLocator(0.5))
    rax.yaxis.set_minor_locator(MultipleLocator(0.1))
    rax.set_ylabel("gen. / real")
    rax.set_xlim(edges[0], edges[-1])


def _plot_hists(panels: list[_Panel], bins: int, look: _Look, what: str, path: Path) -> Path:
    """One column per panel: histogram over its ratio panel; legend and title across the top."""
    n = len(panels)
    with style_context(scale=0.45):
        fig = new_figure(3.9 * n, 4.9)
        axes = fig.subplots(2, n, sharex="col", height_ratios=[3, 1.1], squeeze=False)
        fig.get_layout_engine().set(h_pad=0.02, hspace=0.0)
        for k, panel in enumerate(panels):
            ax, rax = axes[0, k], axes[1, k]
            edges, log_x = _edges(np.asarray(panel.real, np.float64), bins, panel.log_x)
            if log_x:
                ax.set_xscale("log")
            _hist_ratio(ax, rax, panel, edges, log_x, look)
            ax.tick_params(labelbottom=False)
            rax.set_xlabel(panel.xlabel)
        handles, labels = axes[0, 0].get_legend_handles_labels()
        handles[0] = Patch(facecolor="0.82", edgecolor="0.45", lw=1.0)         # the filled real histogram
        handles.append(Patch(color="0.9"))
        labels.append("real stat. unc. (ratio)")
        fig.legend(handles, labels, loc="outside upper center", ncols=3, title=f"{what}: {look.title}",
                   fontsize="medium", title_fontsize="large", columnspacing=2.5)
        return save(fig, path)


def _mean_image(jets: Jets) -> np.ndarray:
    """Average pT-fraction jet image (B, B), indexed ``[i_eta, i_phi]``."""
    from jetlab.represent.image import jet_images

    total = np.zeros((IMAGE_BINS, IMAGE_BINS), np.float64)
    for start in range(0, len(jets), _CHUNK):                       # chunks: memory ~ CHUNK * B^2 floats
        total += jet_images(jets[start:start + _CHUNK], bins=IMAGE_BINS, extent=IMAGE_EXTENT,
                            rotate=True, flip=True)[:, 0].sum(0)
    return total / max(len(jets), 1)


def _plot_images(real: np.ndarray, fake: np.ndarray, look: _Look, path: Path) -> Path:
    vmax = max(float(real.max()), float(fake.max()), 1e-12)
    positive = [float(m[m > 0].min()) for m in (real, fake) if np.any(m > 0)]
    vmin = max(min(positive, default=vmax * 1e-5), vmax * 1e-5)
    norm = LogNorm(vmin=vmin, vmax=vmax if vmax > vmin else vmin * 10)
    with np.errstate(divide="ignore", invalid="ignore"):           # only cells the real sample fills well
        ratio = np.where(real > _RATIO_FLOOR * real.max(), fake / real, np.nan)
    ext = (-IMAGE_EXTENT, IMAGE_EXTENT, -IMAGE_EXTENT, IMAGE_EXTENT)
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#440154", under="#440154")
    rcmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="0.75")
    with style_context(scale=0.45):
        fig = new_figure(13.0, 4.2)
        axes = fig.subplots(1, 3)
        shown = ((real, look.real, cmap, norm), (fake, look.fake, cmap, norm),
                 (ratio, f"ratio {look.fake} / real", rcmap, LogNorm(0.5, 2.0)))
        ims = []
        for ax, (img, title, cm, nm) in zip(axes, shown):
            # image[i_eta, i_phi] -> transpose so that eta runs along x and phi along y
            ims.append(ax.imshow(img.T, origin="lower", extent=ext, norm=nm, cmap=cm, interpolation="nearest"))
            ax.set_title(title)
            ax.set_xlabel(r"$\Delta\eta$")
            for axis in (ax.xaxis, ax.yaxis):
                axis.set_major_locator(MultipleLocator(0.5))
                axis.set_minor_locator(MultipleLocator(0.1))
        axes[0].set_ylabel(r"$\Delta\phi$")
        fig.colorbar(ims[0], ax=list(axes[:2]), label=r"fraction of jet $p_T$ per cell", shrink=0.9, pad=0.02)
        cb = fig.colorbar(ims[2], ax=axes[2], shrink=0.9, pad=0.02, extend="both",
                          label=f"ratio (grey: real below {_RATIO_FLOOR:g} of its peak)")
        cb.ax.yaxis.set_major_locator(FixedLocator([0.5, 0.67, 1.0, 1.5, 2.0]))
        cb.ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        cb.ax.yaxis.set_minor_locator(NullLocator())
        fig.suptitle(rf"Average jet image ($p_T$-weighted; centred, rotated, flipped): {look.title}")
        return save(fig, path)
