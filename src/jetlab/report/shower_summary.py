"""``jetlab info`` and ``jetlab plot`` of a shower dataset: counts, energy response, layers, sparsity.

The numbers come from :mod:`jetlab.metrics.calo_features` (the CaloChallenge definitions), so what
``info`` prints is what ``gen-metrics`` compares.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.ticker import NullFormatter

from jetlab.io.showers import Showers
from jetlab.metrics.calo_features import CHALLENGE_THRESHOLD_MEV, layout_for, shower_features
from jetlab.report.style import new_figure, save, style_context

__all__ = ["summarize_showers", "format_showers", "plot_shower_dataset", "shower_arrays"]


def shower_arrays(showers: Showers) -> tuple[np.ndarray, np.ndarray]:
    """``(voxels (N, V) MeV, incident (N,) MeV)``: the inputs of the calorimeter metrics."""
    return showers.voxels.astype(np.float64), showers.incident.astype(np.float64) * 1e3


def summarize_showers(showers: Showers) -> dict[str, Any]:
    """A JSON-serializable summary: geometry, showers per particle, incident-energy range, mean response
    E_tot/E_inc, mean fraction of the deposit per layer, mean sparsity per layer (CaloChallenge threshold)."""
    layout = layout_for(showers.geometry)
    f = shower_features(*shower_arrays(showers), layout, threshold_mev=CHALLENGE_THRESHOLD_MEV)
    response = f.e_tot / f.e_inc
    fraction = f.e_layer / np.maximum(f.e_tot, 1e-12)[:, None]  # (N, L)
    e = showers.incident
    return {
        "kind": "showers", "format": str(showers.meta.get("format", "unknown")), "path": showers.meta.get("path"),
        "geometry": showers.geometry, "n_showers": len(showers), "scheme": showers.scheme.to_dict(),
        "showers_per_class": showers.counts(), "n_voxels": int(showers.voxels.shape[1]),
        "layers": [list(s) for s in showers.layer_shapes],
        "incident_gev": ({"min": float(e.min()), "median": float(np.median(e)), "max": float(e.max())}
                         if len(e) else None),
        "response_mean": float(response.mean()) if len(e) else None,
        "response_std": float(response.std()) if len(e) else None,
        "layer_fraction_mean": fraction.mean(0).round(4).tolist() if len(e) else [],
        "sparsity_mean": f.sparsity.mean(0).round(4).tolist() if len(e) else [],
    }


def format_showers(s: dict[str, Any]) -> str:
    """Multi-line text of :func:`summarize_showers`."""
    lines = [f"format     {s['format']}" + (f"  ({s['path']})" if s.get("path") else ""),
             f"showers    {s['n_showers']:,} in geometry {s['geometry']} ({s['n_voxels']} voxels, "
             f"{len(s['layers'])} layers)",
             f"classes    scheme {s['scheme']['name']!r}: " +
             ", ".join(f"{c} {n:,}" for c, n in s["showers_per_class"].items())]
    if s["incident_gev"]:
        e = s["incident_gev"]
        lines.append(f"E_inc      {e['min']:.3g} .. {e['max']:.3g} GeV (median {e['median']:.3g})")
        lines.append(f"response   E_tot / E_inc = {s['response_mean']:.4f} +- {s['response_std']:.4f}")
        shown = s["layer_fraction_mean"][:12]
        more = " ..." if len(s["layer_fraction_mean"]) > 12 else ""
        lines.append("layers     mean share of the deposit: " + " ".join(f"{v:.3f}" for v in shown) + more)
        lines.append("sparsity   mean per layer: " + " ".join(f"{v:.2f}" for v in s["sparsity_mean"][:12]) + more)
    return "\n".join(lines)


def plot_shower_dataset(showers: Showers, out: Path) -> list[Path]:
    """Average shower per layer, response per incident energy, centre and width per layer, sparsity (PNGs)."""
    from jetlab.report.calo_plots import drawn_layers

    layout = layout_for(showers.geometry)
    voxels, incident = shower_arrays(showers)
    f = shower_features(voxels, incident, layout, threshold_mev=CHALLENGE_THRESHOLD_MEV)
    out.mkdir(parents=True, exist_ok=True)
    paths = [_average(voxels, layout, drawn_layers(layout.n_layers), out / "average_shower.png")]
    paths.append(_response(f.e_inc / 1e3, f.e_layer / f.e_inc[:, None], out / "response.png"))
    paths.append(_per_layer({"centre x [mm]": f.centre_x, "centre y [mm]": f.centre_y, "width x [mm]": f.width_x,
                             "width y [mm]": f.width_y, "sparsity": f.sparsity}, out / "layers.png"))
    return paths


def _average(voxels: np.ndarray, layout: Any, layers: list[int], path: Path) -> Path:
    with style_context(scale=0.6):
        fig = new_figure(3.2 * len(layers), 3.4)
        axes = fig.subplots(1, len(layers), squeeze=False)[0]
        mean = voxels.mean(0, keepdims=True)
        for ax, k in zip(axes, layers):
            img = layout.layer(mean, k)[0]
            shown = ax.imshow(np.log10(np.maximum(img, 1e-4)), origin="lower", aspect="auto", cmap="viridis")
            ax.set_title(f"layer {k}: {img.sum():.3g} MeV", fontsize="small")
            fig.colorbar(shown, ax=ax, label="log10 mean energy [MeV]")
        return save(fig, path)


def _response(e_inc_gev: np.ndarray, fractions: np.ndarray, path: Path) -> Path:
    """Mean E_l/E_inc and E_tot/E_inc in bins of incident energy (± standard deviation)."""
    edges = np.geomspace(max(e_inc_gev.min(), 1e-3), e_inc_gev.max() * 1.0001, 9)
    idx = np.clip(np.digitize(e_inc_gev, edges) - 1, 0, len(edges) - 2)
    centres = np.sqrt(edges[:-1] * edges[1:])
    with style_context(scale=0.6):
        fig = new_figure(7.5, 5.0)
        ax = fig.subplots()
        shown = range(min(fractions.shape[1], 6))
        curves = {"total": fractions.sum(1), **{f"layer {k}": fractions[:, k] for k in shown}}
        for name, values in curves.items():
            m = np.array([values[idx == b].mean() if (idx == b).any() else np.nan for b in range(len(centres))])
            s = np.array([values[idx == b].std() if (idx == b).any() else np.nan for b in range(len(centres))])
            ax.errorbar(centres, m, s, marker="o", ms=3, capsize=2, label=name, lw=2 if name == "total" else 1)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # decade labels only
        ax.set_xlabel("incident energy [GeV]")
        ax.set_ylabel(r"$E / E_\mathrm{inc}$ (visible)")
        ax.legend(fontsize="x-small", ncol=2)
        return save(fig, path)


def _per_layer(values: dict[str, np.ndarray], path: Path) -> Path:
    with style_context(scale=0.6):
        fig = new_figure(4.0 * len(values), 3.6)
        axes = fig.subplots(1, len(values), squeeze=False)[0]
        for ax, (name, v) in zip(axes, values.items()):
            layers = np.arange(v.shape[1])
            ax.errorbar(layers, v.mean(0), v.std(0), marker="o", ms=3, capsize=2)
            ax.set_xlabel("layer")
            ax.set_ylabel(name)
        return save(fig, path)
