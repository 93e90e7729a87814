"""The TrackML layout (Kaggle TrackML Particle Identification challenge, arXiv:1904.06778): writer, reader, weights.

An event is four CSV files with a header line, named ``event`` + 9 digits + ``-<part>.csv``:

- ``event000000001-hits.csv``: ``hit_id, x, y, z, volume_id, layer_id, module_id`` (measured position, mm);
- ``event000000001-particles.csv``: ``particle_id, vx, vy, vz, px, py, pz, q, nhits`` (production vertex in
  mm, initial momentum in GeV, charge in units of e, number of hits);
- ``event000000001-truth.csv``: ``hit_id, particle_id, tx, ty, tz, tpx, tpy, tpz, weight`` (true crossing
  point and momentum of the particle at the hit; ``particle_id`` 0 is a noise hit);
- ``event000000001-cells.csv`` (optional): ``hit_id, ch0, ch1, value`` (the cells of each hit).

In memory an event is a dict of parts, each a dict of column name -> 1-D numpy array (the columns of
:data:`INT_COLUMNS` as int64, the others float64), e.g. ``event["hits"]["x"]``. Columns are matched by
name, in any order; columns beyond the required ones (e.g. ``particle_type``, the PDG id of the
particles) are kept. No pandas.

Hit weights (the ``weight`` column, :func:`hit_weights`) follow the challenge's definition:

    w_i = w_pt(pT of the hit's particle) * w_order(rank of the hit on its particle, number of hits),
    normalised so that the weights of an event sum to 1.

- ``w_pt``: 0.2 for 0.05 <= pT <= 0.5 GeV, rising linearly to 1 at pT = 3 GeV, 1 above; 0 below 0.05 GeV.
- ``w_order``: the hits of a particle are ranked by ``|tz - vz|`` (distance along the beam from the
  particle's vertex); the profile 10, 8, 6, 5, 3, 3, 3, 5, 6 is stretched linearly over ranks
  0 .. n-1 of a particle with n hits and normalised to sum 1 over the particle: the first hits (vertexing)
  and the last hits (momentum lever arm) weigh most. A particle with fewer than 4 hits has weight 0; one
  with more than 20 hits uses the n = 20 profile for its first 20 hits and gives the others weight 0.
- Noise hits (``particle_id`` 0) and hits of particles missing from the particles file weigh 0.
  Equal ``|tz - vz|`` on one particle are ranked in hit order.

Example:
    >>> truth = {"hit_id": np.arange(1, 6), "particle_id": np.array([7, 7, 7, 7, 0]),
    ...          "tz": np.array([40.0, 10.0, 20.0, 30.0, 5.0])}
    >>> particles = {"particle_id": np.array([7]), "vz": np.array([0.0]), "px": np.array([4.0]),
    ...              "py": np.array([0.0])}
    >>> hit_weights(truth, particles).round(3).tolist()   # ranks 3, 0, 1, 2 of a 4-hit particle; noise 0
    [0.247, 0.411, 0.219, 0.123, 0.0]
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from jetlab.errors import FormatError, InputError
from jetlab.io.atomic import atomic_write_text

__all__ = ["read_csv", "COLUMNS", "INT_COLUMNS", "PARTS", "event_path", "list_events", "write_event", "read_event",
           "read_part", "check_event", "hit_weights", "assign_hits", "ORDER_PROFILE"]

COLUMNS: dict[str, tuple[str, ...]] = {
    "hits": ("hit_id", "x", "y", "z", "volume_id", "layer_id", "module_id"),
    "particles": ("particle_id", "vx", "vy", "vz", "px", "py", "pz", "q", "nhits"),
    "truth": ("hit_id", "particle_id", "tx", "ty", "tz", "tpx", "tpy", "tpz", "weight"),
    "cells": ("hit_id", "ch0", "ch1", "value"),
}
PARTS = tuple(COLUMNS)
INT_COLUMNS = frozenset({"hit_id", "particle_id", "particle_type", "volume_id", "layer_id", "module_id", "q", "nhits",
                         "ch0", "ch1"})
_FLOAT_FORMAT = "%.10g"  # 1e-7 mm at 1 m, 1e-10 relative on weights
_EVENT_RE = re.compile(r"^event(\d{9})-hits\.csv$")

Part = dict[str, np.ndarray]
Event = dict[str, Part]

# -- weights ---------------------------------------------------------------------------------------------

ORDER_PROFILE = (10.0, 8.0, 6.0, 5.0, 3.0, 3.0, 3.0, 5.0, 6.0)
_ORDER_MIN_HITS, _ORDER_MAX_HITS = 4, 20


def _order_table() -> np.ndarray:
    """(21, 20) table: row n holds the order weights of the ranks 0 .. n-1 of a particle with n hits."""
    table = np.zeros((_ORDER_MAX_HITS + 1, _ORDER_MAX_HITS))
    knots = np.arange(len(ORDER_PROFILE)) / (len(ORDER_PROFILE) - 1)  # profile points at 0 .. 1 of the track
    for n in range(_ORDER_MIN_HITS, _ORDER_MAX_HITS + 1):
        w = np.interp(np.arange(n), knots * (n - 1), ORDER_PROFILE)
        table[n, :n] = w / w.sum()
    return table


_ORDER_TABLE = _order_table()


def _pt_weight(pt: np.ndarray) -> np.ndarray:
    return np.interp(pt, [0.05, 0.5, 3.0], [0.2, 0.2, 1.0], left=0.0, right=1.0)


def hit_weights(truth: Mapping[str, np.ndarray], particles: Mapping[str, np.ndarray]) -> np.ndarray:
    """The TrackML weight of every truth hit (see the module docstring), summing to 1 (0 if all weigh 0).

    Arguments:
        truth: ``particle_id`` (H,) and ``tz`` (H,) of the hits.
        particles: ``particle_id`` (P,), ``vz``, ``px``, ``py`` (P,).
    """
    pid = np.asarray(truth["particle_id"], dtype=np.int64)  # (H,)
    tz = np.asarray(truth["tz"], dtype=np.float64)
    p_id = np.asarray(particles["particle_id"], dtype=np.int64)  # (P,)
    if len(p_id) == 0 or len(pid) == 0:
        return np.zeros(len(pid))
    order = np.argsort(p_id, kind="stable")
    row = order[np.searchsorted(p_id[order], pid).clip(max=len(p_id) - 1)]  # (H,) particle row of each hit
    known = (p_id[row] == pid) & (pid != 0)
    vz = np.where(known, np.asarray(particles["vz"], dtype=np.float64)[row], 0.0)
    w_pt = np.where(known, _pt_weight(np.hypot(particles["px"], particles["py"])[row]), 0.0)  # (H,)

    by_particle = np.lexsort((np.abs(tz - vz), pid))  # hits grouped by particle, nearest the vertex first
    sorted_pid = pid[by_particle]
    start = np.flatnonzero(np.r_[True, sorted_pid[1:] != sorted_pid[:-1]])  # first hit of each particle
    size = np.diff(np.r_[start, len(pid)])
    first = np.repeat(start, size)
    rank = np.empty(len(pid), dtype=np.int64)
    rank[by_particle] = np.arange(len(pid)) - first
    nhits = np.empty(len(pid), dtype=np.int64)
    nhits[by_particle] = np.repeat(size, size)

    in_table = (rank < _ORDER_MAX_HITS) & (nhits >= _ORDER_MIN_HITS)
    w_order = np.where(in_table, _ORDER_TABLE[np.minimum(nhits, _ORDER_MAX_HITS),
                                              np.minimum(rank, _ORDER_MAX_HITS - 1)], 0.0)
    w = w_pt * w_order
    total = w.sum()
    return w / total if total > 0 else w


# -- submissions -----------------------------------------------------------------------------------------


def assign_hits(tracks: Sequence[ArrayLike]) -> tuple[np.ndarray, np.ndarray]:
    """A TrackML submission (``hit_id``, ``track_id``: each hit on at most one track) from hit-id lists.

    A hit on several tracks goes to the one with most hits (ties: the first track); ``track_id`` is the
    index in ``tracks``. Hits on no track are left out.
    """
    if len(tracks) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    lengths = np.array([np.size(t) for t in tracks], dtype=np.int64)
    hid = np.concatenate([np.asarray(t, dtype=np.int64) for t in tracks])  # (K,)
    tid = np.repeat(np.arange(len(tracks)), lengths)
    best = np.lexsort((tid, -lengths[tid], hid))  # per hit: longest track first, then lowest index
    first = best[np.r_[True, hid[best][1:] != hid[best][:-1]]] if len(best) else best
    return hid[first], tid[first]


# -- writing ---------------------------------------------------------------------------------------------


def event_path(directory: str | os.PathLike[str], event_id: int, part: str) -> Path:
    """``directory/event#########-<part>.csv``."""
    return Path(directory) / f"event{int(event_id):09d}-{part}.csv"


def _csv_text(part: Mapping[str, np.ndarray], columns: Iterable[str]) -> str:
    columns = list(columns)
    n = len(next(iter(part.values()))) if part else 0
    cells = []
    for name in columns:
        a = np.asarray(part[name])
        if len(a) != n:
            raise ValueError(f"column {name} has {len(a)} rows, expected {n}")
        cells.append(np.char.mod("%d", a.astype(np.int64)) if name in INT_COLUMNS else np.char.mod(_FLOAT_FORMAT, a))
    rows = [",".join(r) for r in zip(*cells)] if n else []
    return "\n".join([",".join(columns), *rows]) + "\n"


def write_event(directory: str | os.PathLike[str], event_id: int, event: Mapping[str, Mapping[str, np.ndarray]],
                parts: Iterable[str] = PARTS) -> list[Path]:
    """Write the parts of ``event`` it has (of ``parts``) as TrackML CSV files; returns their paths.

    Required columns are written first in the public order, extra columns after them. Each file is written
    whole or not at all (:func:`jetlab.io.atomic.atomic_write`).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in parts:
        if name not in event:
            continue
        part = event[name]
        missing = [c for c in COLUMNS[name] if c not in part]
        if missing:
            raise ValueError(f"{name}: missing column(s) {', '.join(missing)}")
        columns = [*COLUMNS[name], *(c for c in part if c not in COLUMNS[name])]
        written.append(atomic_write_text(event_path(directory, event_id, name), _csv_text(part, columns)))
    return written


# -- reading ---------------------------------------------------------------------------------------------


def list_events(directory: str | os.PathLike[str]) -> list[int]:
    """The event ids of the ``event#########-hits.csv`` files in ``directory``, sorted."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f"{directory}: not a directory")
    return sorted(int(m.group(1)) for p in directory.iterdir() if (m := _EVENT_RE.match(p.name)))


def _parse(path: Path, text: str, required: tuple[str, ...]) -> Part:
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise FormatError(f"{path}: empty file, expected a header line")
    header = [c.strip() for c in lines[0].split(",")]
    missing = [c for c in required if c not in header]
    if missing:
        raise FormatError(f"{path}: missing column(s) {', '.join(missing)}")
    if len(set(header)) != len(header):
        raise FormatError(f"{path}: repeated column name in the header")
    rows = [ln for ln in lines[1:] if ln.strip()]
    fields = np.fromiter((ln.count(",") for ln in rows), dtype=np.int64, count=len(rows)) + 1
    bad = np.flatnonzero(fields != len(header))
    if len(bad):
        raise FormatError(f"{path}: row {bad[0] + 1} has {fields[bad[0]]} fields, expected {len(header)} "
                          f"(truncated file?)")
    out: Part = {}
    for kind, dtype in ((True, np.int64), (False, np.float64)):
        idx = [i for i, c in enumerate(header) if (c in INT_COLUMNS) == kind]
        if not idx:
            continue
        if rows:
            try:
                values = np.loadtxt(rows, delimiter=",", usecols=idx, dtype=dtype, ndmin=2)
            except ValueError as e:
                what = "integer" if kind else "numeric"
                raise FormatError(f"{path}: non-{what} value ({str(e).splitlines()[0][:120]})") from None
        else:
            values = np.zeros((0, len(idx)), dtype=dtype)
        for j, i in enumerate(idx):
            out[header[i]] = values[:, j]
    for name, a in out.items():
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            row = np.flatnonzero(~np.isfinite(a))[0] + 1
            raise FormatError(f"{path}: column {name} has a NaN or infinite value (row {row})")
    return {c: out[c] for c in header}


def read_csv(path: str | os.PathLike[str], required: tuple[str, ...]) -> Part:
    """A CSV file with a header holding at least ``required`` as column name -> array; one-line errors."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot be read ({type(e).__name__})") from None
    return _parse(path, text, required)


def read_part(path: str | os.PathLike[str], part: str) -> Part:
    """One TrackML CSV file (``part`` one of :data:`PARTS`) as column name -> array."""
    return read_csv(path, COLUMNS[part])


def check_event(event: Mapping[str, Mapping[str, np.ndarray]], source: str) -> None:
    """Raise :class:`FormatError` naming ``source`` if the parts of ``event`` contradict each other.

    Checked: unique hit ids; every hit has exactly one truth row and no truth row lacks a hit; the event has
    particles; every non-noise truth particle is in the particles; cells point at known hits.
    """
    hits, truth, particles = event.get("hits"), event.get("truth"), event.get("particles")
    if hits is not None and len(np.unique(hits["hit_id"])) != len(hits["hit_id"]):
        raise FormatError(f"{source}: repeated hit_id in the hits")
    if particles is not None and len(particles["particle_id"]) == 0:
        raise FormatError(f"{source}: event without particles")
    if truth is not None and hits is not None:
        no_truth = np.setdiff1d(hits["hit_id"], truth["hit_id"])
        if len(no_truth):
            raise FormatError(f"{source}: {len(no_truth)} hit(s) without truth, e.g. hit_id {no_truth[0]}")
        if len(truth["hit_id"]) != len(hits["hit_id"]) or len(np.setdiff1d(truth["hit_id"], hits["hit_id"])):
            raise FormatError(f"{source}: truth rows do not match the hits one to one")
    if truth is not None and particles is not None:
        pid = truth["particle_id"]
        unknown = np.setdiff1d(pid[pid != 0], particles["particle_id"])
        if len(unknown):
            raise FormatError(f"{source}: truth names {len(unknown)} particle(s) missing from the particles, "
                              f"e.g. particle_id {unknown[0]}")
    cells = event.get("cells")
    if cells is not None and hits is not None:
        if len(np.setdiff1d(cells["hit_id"], hits["hit_id"])):
            raise FormatError(f"{source}: cells of unknown hits")


def read_event(directory: str | os.PathLike[str], event_id: int,
               parts: Iterable[str] = ("hits", "particles", "truth", "cells")) -> Event:
    """Read one event's files from ``directory``; ``cells`` is skipped when its file is absent.

    Raises :class:`InputError` for a missing or unreadable required file and :class:`FormatError`
    (one line naming the file and the problem) for malformed or inconsistent content; see :func:`check_event`.
    """
    event: Event = {}
    for part in parts:
        path = event_path(directory, event_id, part)
        if part == "cells" and not path.exists():
            continue
        event[part] = read_part(path, part)
    check_event(event, str(event_path(directory, event_id, "*")))
    return event
