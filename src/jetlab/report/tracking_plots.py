"""Plots of tracking data and tracking results: hits per layer, particle spectra, event displays, rates.

- :func:`plot_rates`: efficiency, fake rate and duplicate rate in bins of pT or η (from the ``vs_pt`` /
  ``vs_eta`` sections of ``jetlab tracks evaluate``'s metrics.json), binomial error bars;
- :func:`plot_hits_per_layer`: mean hits per event in each (volume, layer);
- :func:`plot_particles`: particle pT (log bins) and η, charged and neutral;
- :func:`plot_event_display`: one event in the x-y (transverse) and r-z (longitudinal) views; hits
  coloured by a group id (particle or track), other hits light grey, the detector's module centres as a
  faint outline when known (x-y: the barrel modules, those whose normal is transverse);
- :func:`plot_tracking_dir`: all of them for a TrackML directory (``jetlab tracks plot``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes

from jetlab.generate.tracking.dataset import TrackingDir
from jetlab.report.style import new_figure, save, style_context

__all__ = ["plot_rates", "plot_hits_per_layer", "plot_particles", "plot_event_display", "plot_tracking_dir"]

_GREY, _OUTLINE = "#b4b4b4", "#e4e4e4"
_PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#882255", "#000000", "#117733",
            "#AA4499", "#DDAA33", "#6699CC")  # Okabe-Ito, then Tol's: strong on white
_RATE_PANELS = (("efficiency", "n_particles", "efficiency", "#0072B2"),
                ("fake_rate", "n_tracks", "fake rate", "#D55E00"),
                ("duplicate_rate", "n_matched", "duplicate rate", "#009E73"))
_VAR_LABEL = {"pt": r"$p_T$ [GeV]", "eta": r"$\eta$"}


def plot_rates(binned: Mapping[str, Any], var: str, path: str | os.PathLike[str], title: str = "") -> Path:
    """Efficiency, fake and duplicate rates vs ``var`` ("pt": particle or track pT, log axis; "eta")."""
    edges = np.asarray(binned["edges"], dtype=np.float64)
    centre = np.sqrt(edges[:-1] * edges[1:]) if var == "pt" else (edges[:-1] + edges[1:]) / 2
    with style_context(scale=0.5):
        fig = new_figure(14.0, 4.6)
        for ax, (key, count, label, color) in zip(fig.subplots(1, 3), _RATE_PANELS):
            rate = np.array([np.nan if v is None else v for v in binned[key]], dtype=np.float64)
            n = np.asarray(binned[count], dtype=np.float64)
            err = np.sqrt(np.clip(rate * (1 - rate), 0, None) / np.maximum(n, 1))
            xerr = np.abs(np.stack([centre - edges[:-1], edges[1:] - centre]))
            ax.errorbar(centre, rate, yerr=err, xerr=xerr, fmt="o", color=color, ms=5, capsize=0)
            ax.set_xlabel(_VAR_LABEL[var])
            ax.set_ylabel(label)
            top = 1.05 if key == "efficiency" else max(0.05, float(np.nanmax(rate + err, initial=0)) * 1.3)
            ax.set_ylim(-0.03 * top, top)
            if var == "pt":
                ax.set_xscale("log")
            ax.set_xlim(edges[0], edges[-1])
            ax.grid(alpha=0.3)
        if title:
            fig.suptitle(title)
        return save(fig, path)


def _layer_key(name: str) -> tuple[int, ...]:
    return tuple(int(s) for s in name.split("/"))


def plot_hits_per_layer(hits_per_layer: Mapping[str, int], n_events: int, path: str | os.PathLike[str]) -> Path:
    """Bar chart of the mean hits per event in each ``"volume/layer"``, volumes in alternating shades."""
    names = sorted(hits_per_layer, key=_layer_key)
    volume = [_layer_key(n)[0] for n in names]
    shade = np.cumsum([0] + [int(a != b) for a, b in zip(volume[:-1], volume[1:])]) % 2
    with style_context(scale=0.5):
        fig = new_figure(max(8.0, 0.32 * len(names) + 2.0), 5.0)
        ax = fig.subplots()
        ax.bar(np.arange(len(names)), [hits_per_layer[n] / max(n_events, 1) for n in names],
               color=np.where(shade == 0, "#0072B2", "#56B4E9"))
        ax.set_xticks(np.arange(len(names)), names, rotation=90, fontsize="small")
        ax.set_xlabel("volume / layer")
        ax.set_ylabel("hits per event")
        ax.set_title(f"{n_events} event(s)", fontsize="medium")
        return save(fig, path)


def plot_particles(pt: np.ndarray, eta: np.ndarray, charge: np.ndarray, n_events: int,
                   path: str | os.PathLike[str]) -> Path:
    """Particles per event vs pT (log bins) and vs η, charged and neutral."""
    weights = np.full(len(pt), 1.0 / max(n_events, 1))
    charged = charge != 0
    with style_context(scale=0.5):
        fig = new_figure(12.0, 4.8)
        ax_pt, ax_eta = fig.subplots(1, 2)
        pt_bins = np.geomspace(0.01, max(float(np.max(pt, initial=1.0)), 0.1), 40)  # below 10 MeV: not drawn
        for sel, label, color in ((charged, "charged", "#0072B2"), (~charged, "neutral", "#E69F00")):
            ax_pt.hist(pt[sel], bins=pt_bins, weights=weights[sel], histtype="step", color=color, label=label, lw=2)
            ax_eta.hist(eta[sel], bins=np.linspace(-4.5, 4.5, 46), weights=weights[sel], histtype="step",
                        color=color, label=label, lw=2)
        ax_pt.set(xscale="log", yscale="log", xlabel=r"particle $p_T$ [GeV]", ylabel="particles per event")
        ax_eta.set(xlabel=r"particle $\eta$", ylabel="particles per event")
        ax_eta.legend()
        return save(fig, path)


def _group_colors(group: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """(K, 4) RGBA per hit of the groups (K,): groups ranked by mean φ take the palette in turn, so that
    neighbouring particles or tracks differ in colour."""
    from matplotlib.colors import to_rgba_array

    uniq, inv = np.unique(group, return_inverse=True)
    inv = inv.ravel()
    mean_phi = np.arctan2(np.bincount(inv, np.sin(phi)), np.bincount(inv, np.cos(phi)))  # (G,)
    rank = np.empty(len(uniq), np.int64)
    rank[np.argsort(mean_phi)] = np.arange(len(uniq))
    return to_rgba_array(_PALETTE)[rank[inv] % len(_PALETTE)]


def _trajectories(ax: Axes, a: np.ndarray, b: np.ndarray, order: np.ndarray, group: np.ndarray,
                  colors: np.ndarray) -> None:
    """One polyline per group through its hits in ``order`` (radius)."""
    from matplotlib.collections import LineCollection

    idx = np.lexsort((order, group))
    g = group[idx]
    same = g[1:] == g[:-1]  # consecutive hits of one group make a segment
    seg = np.stack([np.stack([a[idx][:-1], b[idx][:-1]], 1), np.stack([a[idx][1:], b[idx][1:]], 1)], 1)[same]
    ax.add_collection(LineCollection(seg, colors=colors[idx][:-1][same], linewidths=0.8, alpha=0.6, zorder=2))


def _outline(ax_xy: Axes, ax_rz: Axes, modules: Mapping[str, np.ndarray] | None) -> None:
    if modules is None:
        return
    cx, cy, cz = (np.asarray(modules[c]) for c in ("cx", "cy", "cz"))
    barrel = np.abs(np.asarray(modules["rot_zw"])) < 0.5 if "rot_zw" in modules else np.abs(cz) < np.abs(cz).max() / 3
    ax_xy.scatter(cx[barrel], cy[barrel], s=0.6, c=_OUTLINE, lw=0, rasterized=True, zorder=0)
    ax_rz.scatter(cz, np.hypot(cx, cy), s=0.6, c=_OUTLINE, lw=0, rasterized=True, zorder=0)


def plot_event_display(hits: Mapping[str, np.ndarray], group: np.ndarray, path: str | os.PathLike[str],
                       title: str = "", modules: Mapping[str, np.ndarray] | None = None, legend: str = "") -> Path:
    """x-y and r-z views of one event's hits (H,); ``group`` (H,) > 0 coloured by id, <= 0 light grey."""
    x, y, z = (np.asarray(hits[c], np.float64) for c in "xyz")
    r = np.hypot(x, y)
    group = np.asarray(group, np.int64)
    on = group > 0
    with style_context(scale=0.55):
        fig = new_figure(16.0, 7.2)
        ax_xy, ax_rz = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.6]})
        _outline(ax_xy, ax_rz, modules)
        colors = _group_colors(group[on], np.arctan2(y[on], x[on]))
        for ax, (a, b) in ((ax_xy, (x, y)), (ax_rz, (z, r))):
            ax.scatter(a[~on], b[~on], s=2, c=_GREY, lw=0, rasterized=True, zorder=1)
            _trajectories(ax, a[on], b[on], r[on], group[on], colors)
            ax.scatter(a[on], b[on], s=7, c=colors, lw=0, rasterized=True, zorder=3)
        lim = float(np.max(r, initial=1.0)) * 1.05
        ax_xy.set(xlim=(-lim, lim), ylim=(-lim, lim), xlabel="x [mm]", ylabel="y [mm]", aspect="equal")
        zlim = float(np.max(np.abs(z), initial=1.0)) * 1.05
        ax_rz.set(xlim=(-zlim, zlim), ylim=(0, lim), xlabel="z [mm]", ylabel="r [mm]")
        ax_xy.set_title("transverse view", fontsize="medium")
        ax_rz.set_title(legend or "longitudinal view", fontsize="medium")
        if title:
            fig.suptitle(title)
        return save(fig, path)


def _particle_groups(event: Mapping[str, Mapping[str, np.ndarray]], pt_min: float) -> tuple[np.ndarray, int]:
    """Per hit: its particle id if that particle has pT >= pt_min, else 0; and the number of such particles."""
    p, truth = event["particles"], event["truth"]
    fast = p["particle_id"][np.hypot(p["px"], p["py"]) >= pt_min]
    order = np.argsort(truth["hit_id"])
    pid = truth["particle_id"][order[np.searchsorted(truth["hit_id"], event["hits"]["hit_id"], sorter=order)]]
    return np.where(np.isin(pid, fast), pid, 0), len(np.intersect1d(fast, pid))


def _track_groups(hits: Mapping[str, np.ndarray], hit_id: np.ndarray, track_id: np.ndarray) -> np.ndarray:
    """Per hit: 1 + the rank of its track in a submission, 0 for hits on no track."""
    group = np.zeros(len(hits["hit_id"]), np.int64)
    if len(hit_id):
        rank = np.unique(track_id, return_inverse=True)[1].ravel() + 1
        order = np.argsort(hit_id)
        pos = np.searchsorted(hit_id, hits["hit_id"], sorter=order).clip(max=len(order) - 1)
        found = hit_id[order[pos]] == hits["hit_id"]
        group[found] = rank[order[pos[found]]]
    return group


def plot_tracking_dir(tdir: TrackingDir, out: str | os.PathLike[str], event_id: int | None = None,
                      submission: tuple[np.ndarray, np.ndarray] | None = None, max_events: int = 10,
                      pt_min: float = 1.0) -> list[Path]:
    """Hits per layer and particle spectra (first ``max_events`` events), and an event display of ``event_id``
    (default the first) coloured by particle (pT >= ``pt_min``) or, with ``submission`` (hit_id, track_id), by track."""
    out = Path(out)
    ids = tdir.event_ids[:max_events]
    layers: dict[str, int] = {}
    pt, eta, q = [], [], []
    for i in ids:
        ev = tdir.read(i, ("hits", "particles"))
        keys, counts = np.unique(np.stack([ev["hits"]["volume_id"], ev["hits"]["layer_id"]]), axis=1,
                                 return_counts=True)
        for (v, lay), c in zip(keys.T.tolist(), counts.tolist()):
            layers[f"{v}/{lay}"] = layers.get(f"{v}/{lay}", 0) + c
        p = ev["particles"]
        t = np.hypot(p["px"], p["py"])
        pt.append(t)
        eta.append(np.arcsinh(p["pz"] / np.maximum(t, 1e-12)))
        q.append(p["q"])
    paths = [plot_hits_per_layer(layers, len(ids), out / "hits_per_layer.png"),
             plot_particles(np.concatenate(pt), np.concatenate(eta), np.concatenate(q), len(ids),
                            out / "particles.png")]
    shown = tdir.event_ids[0] if event_id is None else event_id
    if submission is None:
        event = tdir.read(shown)
        group, n = _particle_groups(event, pt_min)
        legend = f"{n} particles with $p_T \\geq$ {pt_min:g} GeV coloured; other hits grey"
    else:
        event = tdir.read(shown, ("hits",))
        group = _track_groups(event["hits"], *submission)
        legend = f"{len(np.unique(submission[1]))} tracks coloured; hits on no track grey"
    title = f"event {shown}: {len(event['hits']['hit_id'])} hits"
    paths.append(plot_event_display(event["hits"], group, out / f"event{shown:09d}_display.png", title,
                                    tdir.modules, legend))
    return paths
