"""The landscape of taggers (``jetlab compare``): one table and one ROC figure over many runs.

:func:`landscape` takes one dict per run::

    {"name": "particlenet-s0", "model": "particlenet", "family": "gnn", "representation": "graph",
     "params": 366_000, "train_time_s": 812.0, "inference_jets_per_s": 41_000.0,
     "metrics": classification_metrics(...),             # jetlab.metrics.classification
     "roc": {"t": {"fpr": [...], "tpr": [...]}, ...}}    # class -> one-vs-rest ROC (roc_points)

and writes into ``out_dir``:

- ``landscape.md``: a markdown table, runs sorted by mean one-vs-rest AUC (best first): run, model,
  family, representation, parameters, mean AUC, accuracy, AUC per class, background rejection
  1/εB at each working point εS per class (in binary mode: of the signal class), training time
  and inference speed; uncertainties are the bootstrap standard deviations of the metrics; the best
  value of each metric column is bold; then the definitions of the metrics;
- ``roc_overlay.png``: one ROC panel per class with every run overlaid
  (:func:`jetlab.report.roc.plot_roc_overlay`);
- ``landscape.html``: the same table (best values highlighted), the ROC figure and the definitions in
  one self-contained page: inline CSS, the PNG embedded as a base64 ``data:`` URI, no external
  reference and no date, so the same runs always give the same bytes.

Missing entries (a run without timing, a class a run does not classify) show as an em dash. An
infinite rejection (εB = 0 at the working point, see :mod:`jetlab.metrics.classification`) shows as
"> n", n the number of background jets, and counts as the best of its column.
"""

from __future__ import annotations

import base64
import html
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jetlab.classes import CLASSES
from jetlab.io.atomic import atomic_write_text
from jetlab.report.bias import BIAS_ORDER
from jetlab.report.roc import Curve, plot_roc_overlay

__all__ = ["landscape", "sort_runs", "landscape_table", "Table", "Column", "render_markdown", "render_html",
           "DEFINITIONS"]

DASH = "—"
DEFINITIONS: tuple[tuple[str, str], ...] = (
    ("εS (signal efficiency)", "fraction of signal jets (the class, one against the rest) above the score cut"),
    ("εB (background mistag rate)", "fraction of background jets (all other classes) above the same cut"),
    ("1/εB @ εS = x", "background rejection at the cut keeping a fraction x of the signal, from the ROC "
                      "interpolated linearly; \"> n\" when no background jet passes (n background jets)"),
    ("AUC", "area under the ROC = probability that a random signal jet scores above a random background "
            "jet; 0.5 is random guessing, 1 perfect. Mean AUC averages the classes"),
    ("accuracy", "fraction of jets whose highest-probability class is the true class"),
    ("± uncertainty", "standard deviation over bootstrap resamples of the test set"),
    ("params, train time, jets/s", "trainable parameters, wall-clock training time, inference speed"),
)  # fmt: skip


@dataclass(frozen=True)
class Column:
    """A table column: header text, HTML header, and which value is best (``"max"``, ``"min"`` or None)."""

    header: str
    html_header: str
    better: str | None = None


@dataclass(frozen=True)
class Table:
    """Rows of (text, value) cells; ``value`` (a float or None) decides the best cell of a column."""

    columns: list[Column]
    rows: list[list[tuple[str, float | None]]]

    def best(self, j: int) -> float | None:
        """Best value of column ``j`` (None when the column is not a metric or has no values)."""
        better = self.columns[j].better
        values = [row[j][1] for row in self.rows if row[j][1] is not None]
        if better is None or not values:
            return None
        return max(values) if better == "max" else min(values)  # type: ignore[type-var]


def landscape(runs: Sequence[Mapping[str, Any]], out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write ``landscape.md``, ``roc_overlay.png`` and ``landscape.html`` for ``runs`` into ``out_dir``.

    Returns the paths written, keyed ``"markdown"``, ``"html"`` and ``"roc_overlay"`` (the last one
    only when some run carries ROC points).
    """
    if not runs:
        raise ValueError("landscape needs at least one run")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ordered = sort_runs(runs)
    table = landscape_table(ordered)
    written: dict[str, Path] = {}
    curves = _overlay_curves(ordered)
    png: bytes | None = None
    if curves:
        title = f"ROC curves, one class vs the rest ({len(curves)} runs)"
        cuts = [str(r.get("name")) for r in ordered if r.get("family") == "cut"]
        written["roc_overlay"] = plot_roc_overlay(curves, out / "roc_overlay.png", title=title, dashed=cuts)
        png = written["roc_overlay"].read_bytes()
    biases = bias_section(ordered)
    written["markdown"] = atomic_write_text(out / "landscape.md", render_markdown(table, biases))
    written["html"] = atomic_write_text(out / "landscape.html", render_html(table, png, biases))
    return {k: written[k] for k in ("markdown", "html", "roc_overlay") if k in written}


def sort_runs(runs: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Runs by mean AUC, best first; runs without one last; ties by name (a stable, total order)."""
    def key(run: Mapping[str, Any]) -> tuple[float, str]:
        auc = (run.get("metrics") or {}).get("macro_auc")
        return (-auc if auc is not None else math.inf, str(run.get("name", "")))

    return sorted(runs, key=key)


def _classes_and_effs(runs: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[float]]:
    """Classes with per-class metrics in any run (``g, q, w, z, t`` order first) and all working points."""
    seen: list[str] = []
    effs: set[float] = set()
    for run in runs:
        metrics = run.get("metrics") or {}
        seen += [c for c in metrics.get("auc") or {} if c not in seen]
        effs.update(float(e) for e in metrics.get("signal_effs", ()))
    return [c for c in CLASSES if c in seen] + [c for c in seen if c not in CLASSES], sorted(effs)


def landscape_table(runs: Sequence[Mapping[str, Any]]) -> Table:
    """The landscape table of ``runs`` in the order given (see :func:`sort_runs`)."""
    classes, effs = _classes_and_effs(runs)
    columns = [Column("#", "#"), Column("run", "run"), Column("model", "model"), Column("family", "family"),
               Column("inductive bias", "inductive bias"), Column("representation", "representation"),
               Column("params", "params"),
               Column("mean AUC", "mean AUC", "max"), Column("accuracy", "accuracy", "max")]  # fmt: skip
    columns += [Column(f"AUC {c}", f"AUC {html.escape(c)}", "max") for c in classes]
    for eff in effs:
        columns += [Column(f"1/εB {c} @ εS={eff:g}", f"1/ε<sub>B</sub> {html.escape(c)}<br>"
                           f"@ ε<sub>S</sub>={eff:g}", "max") for c in classes]  # fmt: skip
    columns += [Column("train time", "train time", "min"), Column("jets/s", "inference jets/s", "max")]
    rows = [_row(i + 1, run, classes, effs) for i, run in enumerate(runs)]
    return Table(columns, rows)


def _row(rank: int, run: Mapping[str, Any], classes: list[str], effs: list[float]) -> list[tuple[str, float | None]]:
    """One table row: identity cells, then the metric cells in the order of :func:`landscape_table`."""
    m = run.get("metrics") or {}
    auc, auc_unc = m.get("auc") or {}, m.get("auc_unc") or {}
    rejection, n_bkg = m.get("rejection") or {}, m.get("n_background") or {}
    params = run.get("params")
    row: list[tuple[str, float | None]] = [(str(rank), None)]
    row += [(_text(run.get(k)), None) for k in ("name", "model", "family", "bias", "representation")]
    row.append((_count(params), None))
    row.append(_pm(m.get("macro_auc"), m.get("macro_auc_unc"), 4))
    row.append(_pm(m.get("accuracy"), m.get("accuracy_unc"), 4))
    row += [_pm(auc.get(c), auc_unc.get(c), 4) for c in classes]
    for eff in effs:
        row += [_rejection_cell((rejection.get(c) or {}).get(f"{eff:g}") or {}, n_bkg.get(c)) for c in classes]
    time_s, speed = run.get("train_time_s"), run.get("inference_jets_per_s")
    row.append((_duration(time_s), None if time_s is None else float(time_s)))
    row.append((_count(speed), None if speed is None else float(speed)))
    return row


def _rejection_cell(rej: Mapping[str, Any], n_background: int | None) -> tuple[str, float | None]:
    """``"87 ± 4"``, ``"> 80,052"`` (infinite: εB = 0, 80,052 background jets) or a dash; the value ranks it."""
    if rej.get("inf"):
        return (f"> {n_background:,}" if n_background is not None else "∞"), math.inf
    value, unc = rej.get("value"), rej.get("unc")
    if value is None:
        return DASH, None
    if unc is None or not unc > 0:
        return _pm(value, unc, 0 if value >= 100 else 1 if value >= 10 else 2)
    digits = 1 - math.floor(math.log10(unc))                   # two significant digits of the uncertainty
    if digits >= 0:
        return _pm(value, unc, digits)
    return f"{round(value, digits):.0f} ± {round(unc, digits):.0f}", float(value)  # 7977 ± 5099 -> 8000 ± 5100


def _pm(value: float | None, unc: float | None, digits: int) -> tuple[str, float | None]:
    """``"value ± unc"`` with ``digits`` decimals (no ± part without an uncertainty), and the value."""
    if value is None or not math.isfinite(value):
        return DASH, None
    text = f"{value:.{digits}f}" + ("" if unc is None else f" ± {unc:.{digits}f}")
    return text, float(value)


def _text(value: Any) -> str:
    return DASH if value is None or value == "" else str(value)


def _count(value: float | None) -> str:
    """``1234567 -> "1.23M"``, ``45600 -> "45.6k"``, ``512 -> "512"``."""
    if value is None:
        return DASH
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def _duration(seconds: float | None) -> str:
    """``42 -> "42 s"``, ``750 -> "12.5 min"``, ``9000 -> "2.5 h"``."""
    if seconds is None:
        return DASH
    if seconds < 120:
        return f"{seconds:.3g} s"
    return f"{seconds / 60:.3g} min" if seconds < 7200 else f"{seconds / 3600:.3g} h"


def _overlay_curves(runs: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Curve]]:
    """run name -> class -> (tpr, fpr, auc) for the runs with ROC points; repeated names get ``(2)``, ..."""
    curves: dict[str, dict[str, Curve]] = {}
    for run in runs:
        roc = run.get("roc") or {}
        aucs = (run.get("metrics") or {}).get("auc") or {}
        if not roc:
            continue
        name, k = str(run.get("name", "run")), 2
        while name in curves:
            name, k = f"{run.get('name', 'run')} ({k})", k + 1
        curves[name] = {c: (pts["tpr"], pts["fpr"], aucs.get(c)) for c, pts in roc.items()}
    return curves


def bias_section(runs: Sequence[Mapping[str, Any]]) -> list[tuple[str, str, list[str]]]:
    """(inductive bias, what it assumes, models) for the biases present, from none to the most physics."""
    groups: dict[str, tuple[str, list[str]]] = {}
    for run in runs:
        label, note = run.get("bias"), run.get("bias_note")
        if label and note:
            models = groups.setdefault(str(label), (str(note), []))[1]
            if run.get("model") not in models:
                models.append(str(run.get("model")))
    order = {b: i for i, b in enumerate(BIAS_ORDER)}
    return [(b, note, models) for b, (note, models) in sorted(groups.items(), key=lambda kv: order.get(kv[0], 99))]


_BIAS_INTRO = ("What each architecture assumes about a jet before it sees data, from none (engineered variables) "
               "to exact symmetries of the physics. A stronger correct bias needs less data to learn the same "
               "function; the table above shows where it pays at this data size.")


def render_markdown(table: Table, biases: Sequence[tuple[str, str, list[str]]] = ()) -> str:
    """The table as GitHub markdown (best metric values bold), the inductive biases, the definitions."""
    def cell(text: str) -> str:
        return text.replace("|", r"\|")

    best = [table.best(j) for j in range(len(table.columns))]
    lines = ["# Tagger landscape", "",
             f"{len(table.rows)} runs, sorted by mean one-vs-rest AUC; best value per metric column in bold.", "",
             "| " + " | ".join(cell(c.header) for c in table.columns) + " |",
             "|" + "|".join("---:" if c.better else ":---" for c in table.columns) + "|"]  # fmt: skip
    for row in table.rows:
        cells = [f"**{cell(t)}**" if b is not None and v == b else cell(t) for (t, v), b in zip(row, best)]
        lines.append("| " + " | ".join(cells) + " |")
    if biases:
        lines += ["", "## Inductive bias", "", _BIAS_INTRO, ""]
        lines += [f"- **{b}** ({', '.join(models)}): {note}." for b, note, models in biases]
    lines += ["", "## Definitions", ""] + [f"- **{term}**: {text}." for term, text in DEFINITIONS]
    return "\n".join(lines) + "\n"


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1500px; padding: 0 1em; color: #1a1a1a; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.88em; white-space: nowrap; }
th, td { padding: 0.35em 0.7em; border-bottom: 1px solid #ddd; }
th { background: #f3f4f6; position: sticky; top: 0; vertical-align: bottom; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.best { background: #d9f2e6; font-weight: 600; }
tr:hover td { background: #fafafa; } tr:hover td.best { background: #c6ebd8; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
dt { font-weight: 600; margin-top: 0.4em; } dd { margin-left: 1.5em; }
"""


def render_html(table: Table, roc_png: bytes | None, biases: Sequence[tuple[str, str, list[str]]] = ()) -> str:
    """A self-contained HTML page: the table (best values highlighted), the ROC figure, the inductive
    biases, the definitions."""
    best = [table.best(j) for j in range(len(table.columns))]
    head = "".join(f"<th>{c.html_header}</th>" for c in table.columns)
    body = []
    for row in table.rows:
        tds = []
        for (text, value), b, col in zip(row, best, table.columns):
            cls = ["num"] if col.better or col.header in ("#", "params") else []
            cls += ["best"] if b is not None and value == b else []
            attr = f' class="{" ".join(cls)}"' if cls else ""
            tds.append(f"<td{attr}>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    figure = "<p>No run carries ROC points.</p>"
    if roc_png is not None:
        data = base64.b64encode(roc_png).decode("ascii")
        figure = f'<img src="data:image/png;base64,{data}" alt="ROC curves per class, every run overlaid">'
    terms = "".join(f"<dt>{html.escape(t)}</dt><dd>{html.escape(d)}.</dd>" for t, d in DEFINITIONS)
    bias = ""
    if biases:
        items = "".join(f"<dt>{html.escape(b)} ({html.escape(', '.join(m))})</dt><dd>{html.escape(n)}.</dd>"
                        for b, n, m in biases)
        bias = f"<h2>Inductive bias</h2><p>{html.escape(_BIAS_INTRO)}</p><dl>{items}</dl>"
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        "<title>jetlab: tagger landscape</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
        "<h1>Tagger landscape</h1>",
        f"<p>{len(table.rows)} runs, sorted by mean one-vs-rest AUC; the best value of each metric column "
        "is highlighted.</p>",
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>', *body, "</tbody></table></div>",
        "<h2>ROC curves</h2>", figure, bias, "<h2>Definitions</h2>", f"<dl>{terms}</dl>", "</body>", "</html>", "",
    ])  # fmt: skip
