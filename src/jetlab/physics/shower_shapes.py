"""Shower shapes of electromagnetic calorimeter clusters, as photon identification uses them (pure numpy).

The variables of ATLAS's photon identification (arXiv:1908.00005, sect. 5; arXiv:1606.01813), on a calorimeter
with a finely segmented first layer (strips, fine along one axis) and a square-celled middle layer, all
vectorized over N showers. Cells are indexed ``[n, a, b]``; in the middle layer ``a`` plays η and ``b`` φ; the
strip profile ``s_i`` is the first layer summed over its coarse axis. Around the hottest middle cell (i, j) and the
hottest strip k, with E(p×q) the energy in the p × q middle cells centred on (i, j) (cells beyond the edge hold 0):

=============== =======================================================================================
``f_strip``     E_strips / E_total, ``f_middle`` and ``f_back`` likewise (longitudinal shares)
``response``    E_total / E_incident (visible over incident: the sampling fraction, less what leaks)
``r_eta``       E(3×7) / E(7×7): lateral containment along φ of the middle layer
``r_phi``       E(3×3) / E(3×7)
``w_eta2``      √(Σ E_c η_c² / Σ E_c − (Σ E_c η_c / Σ E_c)²) over the 3×5 cells, η_c the cell's row (cell units)
``e_ratio``     (E_max1 − E_max2) / (E_max1 + E_max2): E_max1 = s_k, E_max2 the highest other local maximum
                of the strips (s_i > s_{i−1}, s_i ≥ s_{i+1}; 0 if none): the π⁰ → γγ rejection variable
``delta_e``     E_max2 − E_min, E_min the lowest strip between the two maxima (0 without a second maximum
                or when the two are adjacent), in the unit of the cells
``w_s3``        √(Σ_{|i−k|≤1} s_i (i − k)² / Σ_{|i−k|≤1} s_i): width over 3 strips (strip units)
``w_stot``      the same over 21 strips, |i − k| ≤ 10
``f_side``      (E(|i−k| ≤ 3) − E(|i−k| ≤ 1)) / E(|i−k| ≤ 1): energy beyond the core of the strips
=============== =======================================================================================

A ratio with an empty denominator is 0. The geometry's natural windows (ATLAS: 0.025 × 0.0245 middle cells,
~37 mm at η = 0; 0.003 η strips, ~4.7 mm) are those of CaloGAN's 40 mm cells and 5 mm strips.

Example:
    >>> import numpy as np
    >>> strips = np.zeros((1, 1, 12)); strips[0, 0, [2, 3, 4, 6]] = [1.0, 5.0, 1.0, 3.0]
    >>> middle = np.zeros((1, 12, 12)); middle[0, 5, 5] = 10.0
    >>> v = shower_shapes(strips, middle, np.zeros((1, 12, 6)), np.array([40.0]))
    >>> float(v["e_ratio"][0]), float(v["delta_e"][0]), round(float(v["w_s3"][0]), 4), float(v["response"][0])
    (0.25, 3.0, 0.5345, 0.5)
"""

from __future__ import annotations

import numpy as np

__all__ = ["SHOWER_SHAPES", "shower_shapes", "window_sum", "strip_shapes"]

SHOWER_SHAPES = ("f_strip", "f_middle", "f_back", "response", "r_eta", "r_phi", "w_eta2", "e_ratio", "delta_e",
                 "w_s3", "w_stot", "f_side")


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros_like(a, dtype=np.float64), where=b > 0)


def window_sum(cells: np.ndarray, centre: tuple[np.ndarray, np.ndarray], size: tuple[int, int],
               weight: np.ndarray | None = None) -> np.ndarray:
    """(N,) Σ of ``cells`` (N, A, B) (times ``weight`` (p, q) if given) over the p × q window centred on
    ``centre`` = (i, j), each (N,); p, q odd; cells beyond the edge count 0."""
    (p, q), (i, j) = size, centre
    pad = max(p, q) // 2
    padded = np.pad(cells, ((0, 0), (pad, pad), (pad, pad)))                       # (N, A + 2 pad, B + 2 pad)
    rows = i[:, None] + pad + np.arange(-(p // 2), p // 2 + 1)                     # (N, p)
    cols = j[:, None] + pad + np.arange(-(q // 2), q // 2 + 1)                     # (N, q)
    window = padded[np.arange(len(cells))[:, None, None], rows[:, :, None], cols[:, None, :]]   # (N, p, q)
    return (window * (1.0 if weight is None else weight)).sum(axis=(1, 2))


def strip_shapes(s: np.ndarray) -> dict[str, np.ndarray]:
    """``e_ratio``, ``delta_e``, ``w_s3``, ``w_stot``, ``f_side`` of strip profiles ``s`` (N, S) (module docstring)."""
    n, width = s.shape
    k = s.argmax(axis=1)                                                           # (N,) hottest strip
    rows = np.arange(n)
    e1 = s[rows, k]
    padded = np.pad(s, ((0, 0), (1, 1)))
    local = (s > padded[:, :-2]) & (s >= padded[:, 2:]) & (s > 0)                  # (N, S) local maxima
    local[rows, k] = False
    others = np.where(local, s, -1.0)
    k2 = others.argmax(axis=1)
    has2 = others[rows, k2] > 0
    e2 = np.where(has2, s[rows, k2], 0.0)
    pos = np.arange(width)
    between = (pos > np.minimum(k, k2)[:, None]) & (pos < np.maximum(k, k2)[:, None]) & has2[:, None]   # (N, S)
    e_min = np.where(between.any(axis=1), np.where(between, s, np.inf).min(axis=1), e2)
    d = pos - k[:, None]                                                           # (N, S) strips from the maximum

    def near(m: int, power: int = 0) -> np.ndarray:
        return (np.where(np.abs(d) <= m, s, 0.0) * d**power).sum(axis=1)

    return {"e_ratio": _ratio(e1 - e2, e1 + e2), "delta_e": e2 - e_min,
            "w_s3": np.sqrt(_ratio(near(1, 2), near(1))), "w_stot": np.sqrt(_ratio(near(10, 2), near(10))),
            "f_side": _ratio(near(3) - near(1), near(1))}


def shower_shapes(strips: np.ndarray, middle: np.ndarray, back: np.ndarray, incident: np.ndarray
                  ) -> dict[str, np.ndarray]:
    """The variables of the module docstring, each (N,) float64, in :data:`SHOWER_SHAPES` order.

    ``strips`` (N, c, S) first layer (fine along its last axis), ``middle`` (N, A, B), ``back`` (N, ...) cell
    energies; ``incident`` (N,) incident energies in the unit of the cells."""
    strips, middle, back = (np.asarray(a, np.float64) for a in (strips, middle, back))
    n = len(middle)
    layers = np.stack([strips.reshape(n, -1).sum(1), middle.reshape(n, -1).sum(1), back.reshape(n, -1).sum(1)], 1)
    total = layers.sum(axis=1)                                                     # (N,)
    hot = np.unravel_index(middle.reshape(n, -1).argmax(axis=1), middle.shape[1:])   # ((N,), (N,))
    e33, e37, e77 = (window_sum(middle, hot, size) for size in ((3, 3), (3, 7), (7, 7)))
    eta = np.arange(-1, 2, dtype=np.float64)[:, None]                              # (3, 1) rows of the 3×5 window
    e35 = window_sum(middle, hot, (3, 5))
    mean_eta = _ratio(window_sum(middle, hot, (3, 5), eta), e35)
    w_eta2 = np.sqrt(np.maximum(_ratio(window_sum(middle, hot, (3, 5), eta**2), e35) - mean_eta**2, 0.0))
    out = {"f_strip": _ratio(layers[:, 0], total), "f_middle": _ratio(layers[:, 1], total),
           "f_back": _ratio(layers[:, 2], total), "response": _ratio(total, np.asarray(incident, np.float64)),
           "r_eta": _ratio(e37, e77), "r_phi": _ratio(e33, e37), "w_eta2": w_eta2,
           **strip_shapes(strips.sum(axis=1))}
    return {name: out[name] for name in SHOWER_SHAPES}
