"""Dataset plots for ``jetlab plot``: the per-class distributions the course's notebooks show.

:func:`plot_dataset` writes, for the classes present in a dataset,

- ``hlf.png``: the course's 16 high-level features (plus tau21/tau32 when stored), one panel each,
  density-normalised step histograms per class on a log y axis;
- ``images.png``: the average pT-weighted jet image per class on a log colour scale, axes
  Δη, Δφ in [-0.8, 0.8];
- ``multiplicity.png``: constituent multiplicity, jet pT and jet mass per class;
- ``mass.png``: the mMDT-groomed mass per class with the W, Z and top masses marked (only when
  ``j_mass_mmdt`` is stored).

At most ``max_per_class`` jets per class are drawn (a seeded random subset), so plotting a large
dataset takes seconds. Binning is shared by all classes: ``bins`` equal bins between the 0.5 and
99.5 percentiles of all classes together (unit-wide bins for integer features such as
multiplicity). Each class histogram is normalised to unit area over *all* its jets, so jets outside
the drawn range lower the curve rather than being silently renormalised away.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MultipleLocator

from jetlab.classes import CLASSES
from jetlab.io.jets import Jets
from jetlab.report.style import (
    CLASS_COLORS,
    class_color,
    class_label,
    feature_label,
    new_figure,
    save,
    style_context,
)
from jetlab.schema import HLF16

__all__ = ["plot_dataset", "hlf_to_plot", "shared_bins", "REFERENCE_MASSES"]

# Extra HLFs drawn after the course's 16 when present (N-subjettiness ratios, beta = 1).
HLF_RATIOS: tuple[str, ...] = ("j_tau21_b1", "j_tau32_b1")
# Masses marked on the groomed-mass plot [GeV] (PDG: W, Z, top), keyed by class colour.
REFERENCE_MASSES: tuple[tuple[str, str, float], ...] = (("w", "$m_W$", 80.4), ("z", "$m_Z$", 91.2),
                                                        ("t", "$m_t$", 172.8))  # fmt: skip
IMAGE_EXTENT = 0.8
_CHUNK = 4096  # jets per jet_images call, so memory stays ~ CHUNK * bins^2 floats


def plot_dataset(
    jets: Jets,
    out_dir: str | os.PathLike[str],
    images: np.ndarray | None = None,
    *,
    max_per_class: int = 20_000,
    bins: int = 40,
    image_bins: int = 50,
    seed: int = 0,
) -> list[Path]:
    """Write the dataset plots (PNG) into ``out_dir`` and return their paths in order written.

    Arguments:
        jets: a :class:`Jets`, or anything with ``len``, ``labels``, ``meta`` and ``[indices] -> Jets``
            (e.g. a lazy ``ShardedDataset``: only the drawn subset is read). Only classes with at
            least one jet are drawn; unlabelled jets (label -1) are skipped.
        out_dir: created if missing.
        images: optional precomputed jet images (N, 1, B, B) or (N, B, B) aligned with ``jets``,
            axis order ``[..., i_eta, i_phi]``; by default they are made with
            :func:`jetlab.represent.image.jet_images` (``image_bins`` cells, extent ±0.8).
        max_per_class: jets drawn per class at most (seeded random subset).
        bins: bins per histogram for continuous features.
        seed: seed of the subset.
    """
    out = Path(out_dir)
    if images is not None and images.shape[0] != len(jets):
        raise ValueError(f"images has {images.shape[0]} entries for {len(jets)} jets")
    idx = _subsample(np.asarray(jets.labels), max_per_class, seed)
    sub = jets[idx]
    labels = np.asarray(sub.labels)
    classes = jets.scheme.classes if hasattr(jets, "scheme") else CLASSES
    by_class = {c: labels == k for k, c in enumerate(classes) if np.any(labels == k)}
    present = list(by_class)
    title = _dataset_title(jets)
    written: list[Path] = []
    if not present:
        return written
    names = hlf_to_plot(sub.hlf_names)
    if names:
        written.append(_plot_hlf(sub, by_class, names, bins, out / "hlf.png", title))
    imgs = None if images is None else np.asarray(images[idx])
    mean_images = _mean_images(sub, by_class, imgs, image_bins)
    written.append(_plot_images(mean_images, by_class, out / "images.png", title))
    written.append(_plot_kinematics(sub, by_class, bins, out / "multiplicity.png", title))
    if "j_mass_mmdt" in sub.hlf_names:
        written.append(_plot_mass(sub.feature("j_mass_mmdt"), by_class, bins, out / "mass.png", title))
    return written


def hlf_to_plot(hlf_names: Sequence[str]) -> list[str]:
    """The HLFs drawn in ``hlf.png``: the course's 16 (in their order) then tau21/tau32, if stored."""
    have = set(hlf_names)
    return [n for n in HLF16 + HLF_RATIOS if n in have]


def shared_bins(values: Sequence[np.ndarray], bins: int = 40) -> np.ndarray:
    """Bin edges common to several samples: 0.5-99.5 percentile range of all of them together.

    Integer-valued samples get edges at half-integers (one or more units per bin, at most ``bins``
    bins); a degenerate range is widened to one unit around its value.
    """
    finite = [v[np.isfinite(v)] for v in values]
    allv = np.concatenate(finite) if finite else np.zeros(0)
    if allv.size == 0:
        return np.linspace(0.0, 1.0, bins + 1)
    lo, hi = (float(x) for x in np.percentile(allv, [0.5, 99.5]))
    if np.all(allv == np.round(allv)):
        lo, hi = math.floor(lo), math.ceil(hi)
        step = max(1, math.ceil((hi - lo + 1) / bins))
        return np.arange(lo - 0.5, hi + step, step, dtype=float)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, bins + 1)


# ------------------------------------------------------------------------------------------ helpers
def _subsample(labels: np.ndarray, max_per_class: int, seed: int) -> np.ndarray:
    """Sorted indices of at most ``max_per_class`` random jets of each labelled class."""
    rng = np.random.default_rng(seed)
    keep = []
    for k in np.unique(labels[labels >= 0]):
        where = np.flatnonzero(labels == k)
        if where.size > max_per_class:
            where = rng.choice(where, size=max_per_class, replace=False)
        keep.append(where)
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, np.int64)


def _dataset_title(jets: Jets) -> str:
    """A short name for figure titles: the file or directory name, else the source format."""
    path = jets.meta.get("path")
    name = Path(str(path)).name if path else str(jets.meta.get("format", "dataset"))
    return name.replace("$", r"\$")


def _step_hists(ax: Axes, values: np.ndarray, by_class: dict[str, np.ndarray], edges: np.ndarray,
                log: bool) -> None:
    """One density-normalised step histogram per class on ``ax``."""
    widths = np.diff(edges)
    top, low = 0.0, np.inf
    for c, sel in by_class.items():
        v = values[sel]
        v = v[np.isfinite(v)]
        counts, _ = np.histogram(v, edges)
        dens = counts / (max(v.size, 1) * widths)
        ax.stairs(dens, edges, color=class_color(c, list(by_class).index(c)), label=class_label(c))
        top = max(top, float(dens.max(initial=0.0)))
        low = min(low, float(dens[dens > 0].min(initial=np.inf)))
    ax.set_xlim(edges[0], edges[-1])
    if log and top > 0:
        ax.set_yscale("log")
        ax.set_ylim(low / 2, top * 3)
    else:
        ax.set_ylim(0, top * 1.25 if top > 0 else 1)


def _legend_top(fig: Figure, ax: Axes, title: str) -> None:
    """Figure title over one class legend across the top of ``fig`` (handles taken from ``ax``).

    The title is the legend's title, so constrained layout places both as one block, never overlapping.
    """
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=len(labels), title=title,
               fontsize="medium", title_fontsize="large", columnspacing=2.5, handlelength=2.5)


# ------------------------------------------------------------------------------------------- figures
def _plot_hlf(jets: Jets, by_class: dict[str, np.ndarray], names: list[str], bins: int, path: Path,
              title: str) -> Path:
    ncols = min(6, len(names))
    nrows = math.ceil(len(names) / ncols)
    with style_context(scale=0.42):
        fig = new_figure(3.3 * ncols, 2.9 * nrows + 0.9)
        axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
        for ax, name in zip(axes, names, strict=False):
            values = np.asarray(jets.feature(name), dtype=np.float64)
            edges = shared_bins([values[s] for s in by_class.values()], bins)
            _step_hists(ax, values, by_class, edges, log=True)
            ax.set_xlabel(feature_label(name))
        for ax in axes[:: ncols]:
            ax.set_ylabel("density")
        for ax in axes[len(names):]:
            ax.set_visible(False)
        n = int(sum(s.sum() for s in by_class.values()))
        _legend_top(fig, axes[0], f"High-level features per class — {title} ({n:,} jets)")
        return save(fig, path)


def _mean_images(jets: Jets, by_class: dict[str, np.ndarray], images: np.ndarray | None,
                 bins: int) -> dict[str, np.ndarray]:
    """Average jet image per class, (B, B) each, indexed ``[i_eta, i_phi]``."""
    means: dict[str, np.ndarray] = {}
    for c, sel in by_class.items():
        if images is not None:
            img = images[sel]                                       # (n, 1, B, B) or (n, B, B)
            means[c] = img.reshape(img.shape[0], img.shape[-2], img.shape[-1]).mean(axis=0)
            continue
        from jetlab.represent.image import jet_images

        part = jets[np.flatnonzero(sel)]
        total = np.zeros((bins, bins), np.float64)
        for start in range(0, len(part), _CHUNK):                   # chunks of jets, not single jets
            total += jet_images(part[start:start + _CHUNK], bins=bins, extent=IMAGE_EXTENT,
                                rotate=True, flip=True)[:, 0].sum(0)
        means[c] = total / max(len(part), 1)
    return means


def _plot_images(means: dict[str, np.ndarray], by_class: dict[str, np.ndarray], path: Path,
                 title: str) -> Path:
    shown = {c: m / m.sum() if m.sum() > 0 else m for c, m in means.items()}  # pT fraction per cell
    vmax = max(float(m.max()) for m in shown.values())
    positive = [float(m[m > 0].min()) for m in shown.values() if np.any(m > 0)]
    vmax = vmax if vmax > 0 else 1.0
    vmin = max(min(positive, default=vmax * 1e-6), vmax * 1e-6)
    norm = LogNorm(vmin=vmin, vmax=vmax if vmax > vmin else vmin * 10)
    n = len(shown)
    ext = (-IMAGE_EXTENT, IMAGE_EXTENT, -IMAGE_EXTENT, IMAGE_EXTENT)
    with style_context(scale=0.45):
        fig = new_figure(3.0 * n + 1.0, 3.9)
        axes = np.atleast_1d(fig.subplots(1, n, squeeze=False)).ravel()
        for ax, (c, img) in zip(axes, shown.items(), strict=True):
            cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#440154", under="#440154")
            # image[i_eta, i_phi] -> transpose so that eta runs along x and phi along y
            im = ax.imshow(img.T, origin="lower", extent=ext, norm=norm, cmap=cmap,
                           interpolation="nearest", aspect="equal")
            ax.set_title(f"{class_label(c)}  ({int(by_class[c].sum()):,} jets)")
            ax.set_xlabel(r"$\Delta\eta$")
            for axis in (ax.xaxis, ax.yaxis):    # labels at ±0.5 so neighbouring panels never touch
                axis.set_major_locator(MultipleLocator(0.5))
                axis.set_minor_locator(MultipleLocator(0.1))
        axes[0].set_ylabel(r"$\Delta\phi$")
        fig.colorbar(im, ax=list(axes), label=r"fraction of jet $p_T$ per cell", shrink=0.9, pad=0.02)
        fig.suptitle(rf"Average jet image ($p_T$-weighted; centred, rotated, flipped) — {title}")
        return save(fig, path)


def _plot_kinematics(jets: Jets, by_class: dict[str, np.ndarray], bins: int, path: Path,
                     title: str) -> Path:
    panels = [
        (np.asarray(jets.n_particles, dtype=np.float64), "constituent multiplicity", "density"),
        (np.asarray(jets.jet[:, 0], dtype=np.float64), r"jet $p_T$ [GeV]", "density [1/GeV]"),
        (np.asarray(jets.jet[:, 3], dtype=np.float64), "jet mass [GeV]", "density [1/GeV]"),
    ]
    with style_context(scale=0.5):
        fig = new_figure(14.0, 4.8)
        axes = fig.subplots(1, 3)
        for ax, (values, xlabel, ylabel) in zip(axes, panels, strict=True):
            edges = shared_bins([values[s] for s in by_class.values()], bins)
            _step_hists(ax, values, by_class, edges, log=False)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
        _legend_top(fig, axes[0], f"Multiplicity and jet kinematics — {title}")
        return save(fig, path)


def _plot_mass(mass: np.ndarray, by_class: dict[str, np.ndarray], bins: int, path: Path,
               title: str) -> Path:
    mass = np.asarray(mass, dtype=np.float64)
    edges = shared_bins([mass[s] for s in by_class.values()], bins)
    lo, hi = min(edges[0], 0.0), max(edges[-1], 200.0)           # keep the reference masses in view
    edges = np.linspace(lo, hi, max(bins, 60) + 1)
    with style_context(scale=0.6):
        fig = new_figure(9.5, 5.6)
        ax = fig.subplots()
        _step_hists(ax, mass, by_class, edges, log=False)
        ax.set_ylim(0, ax.get_ylim()[1] * 1.4)                      # headroom for the mass labels
        for c, text, m in REFERENCE_MASSES:
            ax.axvline(m, color=CLASS_COLORS[c], ls="--", lw=1.2, alpha=0.8)
            ax.text(m, 0.97, f"{text} = {m:g} GeV", transform=ax.get_xaxis_transform(), rotation=90,
                    ha="right", va="top", color=CLASS_COLORS[c], fontsize="x-small")
        ax.set_xlabel(feature_label("j_mass_mmdt"))
        ax.set_ylabel("density [1/GeV]")
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))    # outside: never hides a label
        ax.set_title(f"Groomed (mMDT) jet mass — {title}")
        return save(fig, path)
