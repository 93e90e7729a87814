"""One place for how jetlab's plots look: mplhep style, class colours and labels, saving.

The style is mplhep's CMS style (TeX Gyre Heros fonts, inward ticks on all four sides, frameless
legends). That style is tuned for one 10 x 10 inch panel at 26 pt; :func:`style_context` takes a
``scale`` so that multi-panel grids of small panels keep the same proportions.

Figures are made with :func:`new_figure`, which builds a :class:`matplotlib.figure.Figure` without
pyplot, so plotting works under any backend (headless servers, notebooks, threads) and never opens
a window. :func:`save` writes a PNG atomically (temporary name, then rename) and closes the figure.

Example:
    >>> from jetlab.report.style import CLASS_COLORS, class_label
    >>> CLASS_COLORS["t"], class_label("w")
    ('#D55E00', '$W$ boson')
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib
import mplhep
from matplotlib.figure import Figure

from jetlab.classes import CLASSES
from jetlab.io.atomic import atomic_write

__all__ = [
    "CLASS_COLORS",
    "CLASS_LABELS",
    "CLASS_SYMBOLS",
    "DPI",
    "class_label",
    "feature_label",
    "class_color",
    "class_symbol",
    "style_rc",
    "use_style",
    "style_context",
    "new_figure",
    "save",
]

DPI = 120

# Okabe-Ito colour-blind-safe palette: QCD in blues, bosons green/orange, top vermillion.
CLASS_COLORS: dict[str, str] = {
    "g": "#0072B2", "q": "#56B4E9", "w": "#009E73", "z": "#E69F00", "t": "#D55E00",
}  # fmt: skip
# Mathtext symbols and legend labels, in g, q, w, z, t order.
CLASS_SYMBOLS: dict[str, str] = {"g": "$g$", "q": "$q$", "w": "$W$", "z": "$Z$", "t": "$t$"}
CLASS_LABELS: dict[str, str] = {
    "g": "gluon ($g$)",
    "q": "light quark ($q$)",
    "w": "$W$ boson",
    "z": "$Z$ boson",
    "t": "top quark ($t$)",
}
assert tuple(CLASS_COLORS) == CLASSES == tuple(CLASS_LABELS) == tuple(CLASS_SYMBOLS)

# Sizes in the CMS style that scale with the panel size (fonts, ticks, line widths).
_SCALED = ("font.size", "axes.linewidth", "xtick.major.size", "xtick.minor.size", "ytick.major.size",
           "ytick.minor.size", "xtick.major.pad", "ytick.major.pad")  # fmt: skip


_PALETTE = ("#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
            "#999999", "#882255")  # Okabe-Ito, then two more for ten-class schemes (JetClass)


def class_color(name: str, index: int = 0) -> str:
    """Colour of class ``name``: the fixed one of the generated-jet classes, else the ``index``-th of a palette."""
    return CLASS_COLORS.get(name, _PALETTE[index % len(_PALETTE)])


def class_symbol(name: str) -> str:
    return CLASS_SYMBOLS.get(name, name)


def class_label(name: str) -> str:
    """Legend label of class ``name`` (``"w"`` -> ``"$W$ boson"``); unknown names pass through."""
    return CLASS_LABELS.get(name, name)


_OBS = {"c1": "C_1", "c2": "C_2", "d2": "D_2", "m2": "M_2", "n2": "N_2", "tau21": r"\tau_{21}",
        "tau32": r"\tau_{32}", "tau1": r"\tau_1", "tau2": r"\tau_2", "tau3": r"\tau_3"}  # fmt: skip
_OBS_RE = re.compile(r"^j_(c1|c2|d2|m2|n2|tau21|tau32|tau1|tau2|tau3)(_a(\d))?_b(\d)(_mmdt)?$")
_GROOMS = {"trim": r"\mathrm{trim}", "mmdt": r"\mathrm{mMDT}", "prun": r"\mathrm{prun}",
           "sdb2": r"\mathrm{SD},\beta=2", "sdm1": r"\mathrm{SD},\beta=-1"}  # fmt: skip
_FIXED_LABELS = {
    "j_zlogz": r"$\sum_i z_i \ln z_i$",
    "j_multiplicity": "constituent multiplicity",
    "j_ptfrac": r"$p_T$ fraction",
    "j_pt": r"jet $p_T$ [GeV]",
    "j_eta": r"jet $\eta$",
}


def feature_label(name: str) -> str:
    """Axis label of an hls4ml-style feature, with units.

    ``"j_mass_mmdt"`` becomes ``"$m_{\\mathrm{mMDT}}$ [GeV]"``, ``"j_multiplicity"`` a plain phrase.

    Energy-correlation and N-subjettiness names become e.g. ``$D_2^{\\alpha=1,\\beta=2}$ (mMDT)``;
    names this function does not know are returned unchanged.
    """
    if name in _FIXED_LABELS:
        return _FIXED_LABELS[name]
    if name.startswith("j_mass"):
        groom = name.removeprefix("j_mass").lstrip("_")
        return f"$m_{{{_GROOMS.get(groom, groom)}}}$ [GeV]" if groom else "jet mass [GeV]"
    m = _OBS_RE.match(name)
    if not m:
        return name
    obs, _, alpha, beta, mmdt = m.groups()
    sup = (rf"\alpha={alpha}," if alpha else "") + rf"\beta={beta}"
    return f"${_OBS[obs]}^{{{sup}}}$" + (" (mMDT)" if mmdt else "")


def style_rc(scale: float = 1.0) -> dict[str, Any]:
    """rcParams of the jetlab style; ``scale`` < 1 shrinks fonts and ticks for small panels."""
    rc: dict[str, Any] = dict(mplhep.style.CMS)
    defaults = {"xtick.major.pad": 6.0, "ytick.major.pad": 6.0, "axes.linewidth": 2.0}
    for key in _SCALED:
        rc[key] = float(rc.get(key, defaults.get(key, matplotlib.rcParamsDefault[key]))) * scale
    rc["lines.linewidth"] = max(1.0, 2.0 * scale)
    rc["axes.prop_cycle"] = matplotlib.cycler(color=list(CLASS_COLORS.values()))
    rc["figure.dpi"] = DPI
    rc["savefig.dpi"] = DPI
    rc["xaxis.labellocation"] = "center"  # a grid reads better with centred axis titles
    rc["yaxis.labellocation"] = "center"
    return rc


def use_style(scale: float = 1.0) -> None:
    """Apply the jetlab style globally (rcParams only; the backend is left alone)."""
    matplotlib.rcParams.update(style_rc(scale))


@contextmanager
def style_context(scale: float = 1.0) -> Iterator[None]:
    """Apply the jetlab style inside a ``with`` block and restore the caller's rcParams after it."""
    with matplotlib.rc_context(style_rc(scale)):
        yield


def new_figure(width: float, height: float, **kwargs: Any) -> Figure:
    """A pyplot-free :class:`Figure` (``width`` x ``height`` inches, constrained layout)."""
    kwargs.setdefault("layout", "constrained")
    return Figure(figsize=(width, height), dpi=DPI, **kwargs)


def save(fig: Figure, path: str | os.PathLike[str], dpi: int = DPI) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically (temporary file, then rename); close it; return the path.

    A file at ``path`` is therefore always a whole image, even if the process dies while writing.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=dpi)
        atomic_write(path, buf.getvalue())
    finally:
        _close(fig)
    return path


def _close(fig: Figure) -> None:
    """Release ``fig``: unregister it from pyplot if pyplot made it, and drop its artists."""
    import sys

    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close(fig)
    fig.clear()
