"""Detector faults of data-quality monitoring: where they are and how they change a lumisection's readout.

A fault of strength ``s`` ∈ (0, 1] acts on a region of detector channels (``mask`` (H, W) bool, drawn among the
active channels) through three per-channel quantities every detector model applies the same way:

========= ======================== =========================================================================
kind      region                   effect
========= ======================== =========================================================================
``dead``  1-3 × 1-3 channels       signal amplitude × (1 − s)      (s = 1: the channels read nothing)
``hot``   1-2 single channels      extra hits per event 5 s · b    (b: median reference occupancy)
``noisy`` 2-4 × 2-4 channels       extra hits per event s · b, low-energy noise
``gain``  one 4 × 4 module         signal amplitude × (1 + s)      (a gain drift up: energies, threshold)
``shift`` one 4 × 4 module         read-out displaced by one channel in W: (1 − s) own + s neighbour
========= ======================== =========================================================================

Everything is a per-channel array, so a map is made without a loop over channels (or events).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jetlab.io.maps import FAULT_KINDS

__all__ = ["Fault", "draw_fault", "no_fault", "MODULE"]

MODULE = 4  # side of a module (a block of channels read out together), in channels


@dataclass(frozen=True)
class Fault:
    """One map's fault: ``kind`` (index of :data:`FAULT_KINDS`), ``strength``, the channels it touches, and its
    effect as per-channel ``gain`` (H, W) and ``extra`` hits per event (H, W), plus the ``shift`` mixing fraction."""

    kind: int
    strength: float
    mask: np.ndarray
    gain: np.ndarray
    extra: np.ndarray
    shift: float = 0.0


def no_fault(shape: tuple[int, int]) -> Fault:
    return Fault(0, 0.0, np.zeros(shape, bool), np.ones(shape), np.zeros(shape))


def _rectangle(active: np.ndarray, lo: int, hi: int, rng: np.random.Generator) -> np.ndarray:
    """A random a × b rectangle (lo ≤ a, b ≤ hi) of active channels (H, W) bool, cut to the active ones."""
    h, w = active.shape
    a, b = rng.integers(lo, hi + 1, 2)
    rows, cols = np.nonzero(active)
    k = rng.integers(len(rows))  # its corner: a random active channel
    r0, c0 = min(rows[k], h - a), min(cols[k], w - b)
    mask = np.zeros_like(active)
    mask[r0:r0 + a, c0:c0 + b] = True
    return mask & active


def _module(active: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One MODULE × MODULE block of the module grid with active channels."""
    h, w = active.shape
    blocks = active[:h // MODULE * MODULE, :w // MODULE * MODULE].reshape(h // MODULE, MODULE, w // MODULE, MODULE)
    alive = np.argwhere(blocks.any(axis=(1, 3)))  # (K, 2) block indices
    i, j = alive[rng.integers(len(alive))]
    mask = np.zeros_like(active)
    mask[i * MODULE:(i + 1) * MODULE, j * MODULE:(j + 1) * MODULE] = True
    return mask & active


def draw_fault(kind: str, strength: float, active: np.ndarray, base: float, rng: np.random.Generator) -> Fault:
    """A fault of ``kind`` and ``strength`` at a random place among the ``active`` (H, W) channels; ``base`` the
    median reference occupancy (hits per event) hot and noisy channels are scaled by."""
    s, shape = float(strength), active.shape
    gain, extra = np.ones(shape), np.zeros(shape)
    if kind == "dead":
        mask = _rectangle(active, 1, 3, rng)
        gain[mask] = 1.0 - s
    elif kind == "hot":
        mask = np.zeros(shape, bool)
        rows, cols = np.nonzero(active)
        pick = rng.choice(len(rows), size=int(rng.integers(1, 3)), replace=False)
        mask[rows[pick], cols[pick]] = True
        extra[mask] = 5.0 * s * base
    elif kind == "noisy":
        mask = _rectangle(active, 2, 4, rng)
        extra[mask] = s * base
    elif kind in ("gain", "shift"):
        mask = _module(active, rng)
        gain[mask] = 1.0 + s if kind == "gain" else 1.0
    else:
        raise ValueError(f"unknown fault kind {kind!r} (known: {', '.join(FAULT_KINDS[1:])})")
    return Fault(FAULT_KINDS.index(kind), s, mask, gain, extra, s if kind == "shift" else 0.0)


def shifted(values: np.ndarray, fault: Fault) -> np.ndarray:
    """``values`` (C, H, W) with the fault's module read out displaced by one channel in W (a mis-cabled or
    misaligned module): inside the mask ``(1 − s) v + s v[..., w + 1]`` (the neighbour, periodic)."""
    if fault.shift == 0.0:
        return values
    neighbour = np.roll(values, -1, axis=-1)  # (C, H, W)
    mixed = (1.0 - fault.shift) * values + fault.shift * neighbour
    return np.where(fault.mask, mixed, values)
