"""Dataset summary for ``jetlab info``: a JSON-ready dict and its compact text form.

:func:`summarize` reads only per-jet arrays (labels, counts, jet four-vectors), never the
constituents, so it is cheap on large datasets. :func:`format_summary` turns the dict into an
aligned table for the terminal; ``jetlab info --json`` prints the dict itself.

Example:
    >>> import numpy as np
    >>> from jetlab.io.jets import Jets
    >>> s = summarize(Jets.empty(max_particles=8))
    >>> s["n_jets"], s["max_particles"], s["jets_per_class"]
    (0, 8, {})
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from jetlab.classes import JETLAB
from jetlab.io.jets import Jets
from jetlab.schema import HLF16

__all__ = ["summarize", "format_summary"]

# Jet four-vector columns summarised by min / median / max, with their units.
_RANGES: tuple[tuple[str, int, str], ...] = (("pt", 0, "GeV"), ("eta", 1, ""), ("mass", 3, "GeV"))
_MAX_ITEMS = 20  # longer lists in meta are replaced by their length (e.g. a manifest's shard list)
_SHOWN_NAMES = 10  # feature names printed by format_summary before "... (+k more)"


def summarize(jets: Jets) -> dict[str, Any]:
    """A JSON-serializable summary of ``jets``.

    Keys: ``format``, ``path``, ``n_jets``, ``jets_per_class`` (class name -> count, classes present,
    in ``g, q, w, z, t`` order), ``n_unlabelled``, ``max_particles``, ``particle_features``,
    ``hlf_features``, ``n_hlf16`` (how many of the course's 16 HLFs are stored), ``jet``
    (``pt``/``eta``/``mass`` -> ``min``/``median``/``max``, None when empty), ``n_particles_mean``
    (class name -> mean constituent count) and ``meta`` (the remaining ``jets.meta`` entries, such
    as generator settings and seeds, made JSON-safe).
    """
    labels = np.asarray(jets.labels)
    n_particles = np.asarray(jets.n_particles, dtype=np.float64)
    four = np.asarray(jets.jet, dtype=np.float64)
    scheme = jets.scheme
    per_class = {c: m for k, c in enumerate(scheme.classes) if (m := labels == k).any()}
    meta = {str(k): _jsonable(v) for k, v in jets.meta.items() if k not in ("format", "path")}
    return {
        "format": str(jets.meta.get("format", "unknown")),
        "scheme": scheme.to_dict(),
        "path": None if jets.meta.get("path") is None else str(jets.meta["path"]),
        "n_jets": int(labels.shape[0]),
        "jets_per_class": {c: int(m.sum()) for c, m in per_class.items()},
        "n_unlabelled": int((labels < 0).sum()),
        "max_particles": int(jets.constituents.shape[1]),
        "particle_features": [str(n) for n in jets.particle_names],
        "hlf_features": [str(n) for n in jets.hlf_names],
        "n_hlf16": sum(n in set(jets.hlf_names) for n in HLF16),
        "jet": {name: _stats(four[:, col]) for name, col, _ in _RANGES},
        "n_particles_mean": {c: round(float(n_particles[m].mean()), 2) for c, m in per_class.items()},
        "meta": meta,
    }


def format_summary(summary: Mapping[str, Any]) -> str:
    """Multi-line text of a :func:`summarize` dict: header, a class table, jet ranges, meta."""
    n = int(summary["n_jets"])
    counts: Mapping[str, int] = summary["jets_per_class"]
    lines = [
        f"format     {summary['format']}" + (f"  ({summary['path']})" if summary.get("path") else ""),
        f"jets       {n:,} in {len(counts)} class{'es' if len(counts) != 1 else ''}"
        + (f", {summary['n_unlabelled']:,} unlabelled" if summary.get("n_unlabelled") else ""),
        f"particles  up to {summary['max_particles']} per jet; "
        + _names(summary["particle_features"], "feature"),
        f"hlf        {_names(summary['hlf_features'], 'feature', summary['n_hlf16'])}",
        "",
    ]
    scheme = summary.get("scheme") or JETLAB.to_dict()
    titles = dict(zip(scheme["classes"], scheme["descriptions"]))
    name_w = max([5, *(len(c) + 1 for c in counts)])
    title_w = max([1, *(len(titles.get(c, "")) + 2 for c in counts)])
    lines.insert(-1, f"classes    scheme {scheme['name']!r}: {', '.join(scheme['classes'])}")
    lines.append(f"{'class':<{name_w}}{'':<{title_w}}{'jets':>10}{'fraction':>10}{'<n_particles>':>15}")
    means: Mapping[str, float] = summary["n_particles_mean"]
    for c, k in counts.items():
        frac = 100.0 * k / n if n else 0.0
        lines.append(f"{c:<{name_w}}{titles.get(c, ''):<{title_w}}{k:>10,}{frac:>9.1f}%"
                     f"{means.get(c, float('nan')):>15.1f}")
    total = sum(counts.values())
    lines.append(f"{'total':<{name_w + title_w}}{total:>10,}{(100.0 * total / n if n else 0.0):>9.1f}%")
    lines += ["", f"{'jet':<12}{'min':>10}{'median':>10}{'max':>10}"]
    for name, _, unit in _RANGES:
        st = summary["jet"].get(name)
        label = f"{name} [{unit}]" if unit else name
        if st is None:
            lines.append(f"{label:<12}{'-':>10}{'-':>10}{'-':>10}")
        else:
            lines.append(f"{label:<12}{st['min']:>10.2f}{st['median']:>10.2f}{st['max']:>10.2f}")
    if summary.get("meta"):
        lines += ["", "meta"]
        for key, value in summary["meta"].items():
            text = json.dumps(value, sort_keys=True)
            lines.append(f"  {key}: {text if len(text) <= 100 else text[:97] + '...'}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ helpers
def _stats(values: np.ndarray) -> dict[str, float] | None:
    """min / median / max of the finite ``values`` (rounded to 6 significant digits), or None."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return None
    return {k: float(f"{f(v):.6g}") for k, f in (("min", np.min), ("median", np.median), ("max", np.max))}


def _names(names: list[str], what: str, n_hlf16: int | None = None) -> str:
    """``"3 features: a, b, c"``, the list cut after a few names; notes the course's HLF16 if given."""
    if not names:
        return f"no {what}s"
    shown = ", ".join(names[:_SHOWN_NAMES])
    more = f", ... (+{len(names) - _SHOWN_NAMES} more)" if len(names) > _SHOWN_NAMES else ""
    course = f" ({n_hlf16} of the course's 16)" if n_hlf16 is not None else ""
    return f"{len(names)} {what}{'s' if len(names) != 1 else ''}{course}: {shown}{more}"


def _jsonable(obj: Any, depth: int = 0) -> Any:
    """``obj`` as plain JSON types: numpy scalars/arrays converted, long lists replaced by a count."""
    if depth > 6:
        return str(obj)
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else str(obj)
    if isinstance(obj, np.generic):
        return _jsonable(obj.item(), depth)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        if obj.size > _MAX_ITEMS:
            return f"<array of shape {obj.shape}>"
        obj = obj.tolist()
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = list(obj)
        if len(items) > _MAX_ITEMS:
            return f"<{len(items)} items>"
        return [_jsonable(v, depth + 1) for v in items]
    return str(obj)
