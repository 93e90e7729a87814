"""Energy correlation functions and the 13 hls4ml ratios built from them.

Energy correlators (Larkoski, Salam, Thaler, arXiv:1305.0007) with the ``pt_R`` measure,
energies pT_i and angles ΔR_ij in (rapidity, φ) as FastJet's ``EnergyCorrelator`` uses::

    ECF(2, β) = Σ_{i<j}   pT_i pT_j ΔR_ij^β
    ECF(3, β) = Σ_{i<j<k} pT_i pT_j pT_k (ΔR_ij ΔR_ik ΔR_jk)^β

and generalized correlators (Moult, Necib, Thaler, arXiv:1609.07483), normalized by Σ pT_i
(as FastJet contrib's ``EnergyCorrelatorGeneralized`` with the pt_R measure)::

    1e3(β) = Σ_{i<j<k} z_i z_j z_k min(ΔR_ij, ΔR_ik, ΔR_jk)^β
    2e3(β) = Σ_{i<j<k} z_i z_j z_k (product of the two smallest of the three angles)^β

Ratios (ECF(1) = Σ pT_i; e_n = ECF(n)/ECF(1)^n):
C1 = ECF(2)/ECF(1)^2, C2 = ECF(3) ECF(1)/ECF(2)^2, D2 = ECF(3) ECF(1)^3/ECF(2)^3,
D2^(α,β) = e3^(α)/(e2^(β))^(3α/β), M2 = 1e3/1e2, N2 = 2e3/(1e2)^2.

All sums run in one compiled pass over particle triplets (numba); the brute-force
reference lives in the tests.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["correlator_sums", "ecf_observables"]


@njit(cache=True)
def _dr(y1: float, p1: float, y2: float, p2: float) -> float:
    dphi = abs(p1 - p2)
    if dphi > np.pi:
        dphi = 2 * np.pi - dphi
    return np.sqrt((y1 - y2) ** 2 + dphi * dphi)


@njit(cache=True)
def _sums_one(pt: np.ndarray, y: np.ndarray, phi: np.ndarray, n: int, out: np.ndarray) -> None:
    dr = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            dr[i, j] = dr[j, i] = _dr(y[i], phi[i], y[j], phi[j])
    for i in range(n):
        for j in range(i + 1, n):
            a, wij = dr[i, j], pt[i] * pt[j]
            out[0] += wij
            out[1] += wij * a
            out[2] += wij * a * a
            for k in range(j + 1, n):
                b, c, w = dr[i, k], dr[j, k], wij * pt[k]
                prod = a * b * c
                lo = min(a, min(b, c))
                hi = max(a, max(b, c))
                two = prod / hi if hi > 0.0 else 0.0
                out[3] += w * prod
                out[4] += w * prod * prod
                out[5] += w * lo
                out[6] += w * lo * lo
                out[7] += w * two
                out[8] += w * two * two


@njit(cache=True)
def _sums_batch(pt: np.ndarray, y: np.ndarray, phi: np.ndarray, counts: np.ndarray) -> np.ndarray:
    out = np.zeros((pt.shape[0], 9))
    for b in range(pt.shape[0]):
        _sums_one(pt[b], y[b], phi[b], counts[b], out[b])
    return out


def correlator_sums(pt: np.ndarray, y: np.ndarray, phi: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Raw correlator sums for padded jets.

    Args:
        pt, y, phi: (N, P) particle pT, rapidity, azimuth; slots >= ``counts`` are ignored.
        counts: (N,) number of real particles.

    Returns:
        (N, 9) float64: ECF(2, β=0,1,2), ECF(3, β=1,2), Σ min^β (β=1,2), Σ two-smallest^β (β=1,2),
        all unnormalized (pT in GeV).
    """
    args = [np.ascontiguousarray(a, np.float64) for a in (pt, y, phi)]
    return _sums_batch(*args, np.ascontiguousarray(counts, np.int64))


def ecf_observables(sums: np.ndarray, pt_sum: np.ndarray) -> dict[str, np.ndarray]:
    """The 13 hls4ml energy-correlation ratios from :func:`correlator_sums`.

    ``pt_sum`` is Σ pT_i = ECF(1), which also normalizes the generalized correlators.
    Jets with fewer than 3 particles give 0 for 3-point ratios.
    """
    e2 = {0: sums[:, 0], 1: sums[:, 1], 2: sums[:, 2]}
    e3 = {1: sums[:, 3], 2: sums[:, 4]}
    g13 = {1: sums[:, 5], 2: sums[:, 6]}
    g23 = {1: sums[:, 7], 2: sums[:, 8]}
    e1 = pj = pt_sum

    def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        return np.divide(num, den, out=np.zeros_like(num), where=den > 0)

    out = {f"c1_b{b}": ratio(e2[b], e1**2) for b in (0, 1, 2)}
    for b in (1, 2):
        n2 = e2[b] / pj**2  # normalized 1e2(β)
        out[f"c2_b{b}"] = ratio(e3[b] * e1, e2[b] ** 2)
        out[f"d2_b{b}"] = ratio(e3[b] * e1**3, e2[b] ** 3)
        out[f"d2_a1_b{b}"] = ratio(e3[1] / pj**3, n2 ** (3.0 / b))
        out[f"m2_b{b}"] = ratio(g13[b] / pj**3, n2)
        out[f"n2_b{b}"] = ratio(g23[b] / pj**3, n2**2)
    return out
