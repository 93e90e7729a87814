"""N-subjettiness (Thaler, Van Tilburg, arXiv:1011.2268)::

    tau_N^(β) = Σ_i pT_i min_k ΔR_{i,k}^β / Σ_i pT_i R0^β,   R0 = 0.8

with axes the N exclusive kT subjets of the jet's constituents (FastJet, E-scheme;
the ``KT_Axes`` choice of the Nsubjettiness contrib) and ΔR in (rapidity, φ).
Jets with at most N particles have tau_N = 0. The axes are found for all jets in one
vectorized FastJet call per N; the distance sums are numpy.
"""

from __future__ import annotations

import warnings

import awkward as ak
import fastjet
import numpy as np

from jetlab._quiet import fastjet_quiet
from jetlab.physics.kinematics import delta_phi, rapidity

fastjet_quiet()

__all__ = ["nsubjettiness"]

_KT = fastjet.JetDefinition(fastjet.kt_algorithm, 10.0)


def _axes(p4: np.ndarray, counts: np.ndarray, n_axes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rapidity, phi) of n_axes exclusive kT axes for jets with > n_axes particles; `ok` mask."""
    ok = counts > n_axes
    rows = np.flatnonzero(ok)
    y = np.zeros((len(counts), n_axes))
    phi = np.zeros((len(counts), n_axes))
    if len(rows) == 0:
        return y, phi, ok
    sub, c = p4[rows], counts[rows]
    valid = np.arange(sub.shape[1])[None, :] < c[:, None]
    flat = sub[valid]
    arr = ak.unflatten(ak.zip({"px": flat[:, 0], "py": flat[:, 1], "pz": flat[:, 2], "E": flat[:, 3]}), c)
    with warnings.catch_warnings():  # fastjet warns about dcut semantics even for kT
        warnings.simplefilter("ignore", UserWarning)
        jets = fastjet.ClusterSequence(arr, _KT).exclusive_jets(n_jets=n_axes)
    comp = {k: ak.to_numpy(ak.flatten(jets[k])).reshape(len(rows), n_axes) for k in ("px", "py", "pz", "E")}
    y[rows] = rapidity(comp["px"], comp["py"], comp["pz"], comp["E"])
    phi[rows] = np.arctan2(comp["py"], comp["px"])
    return y, phi, ok


def nsubjettiness(
    p4: np.ndarray, counts: np.ndarray, n_max: int = 3, betas: tuple[float, ...] = (1.0, 2.0), r0: float = 0.8
) -> dict[tuple[int, float], np.ndarray]:
    """tau_N^(β) for N = 1..n_max and each β.

    Args:
        p4: (N, P, 4) px, py, pz, E; slots >= ``counts`` ignored.
        counts: (N,) real particles per jet.

    Returns:
        {(N, β): (n_jets,) array}.
    """
    pt = np.hypot(p4[..., 0], p4[..., 1])  # (B, P)
    valid = np.arange(p4.shape[1])[None, :] < counts[:, None]
    pt = np.where(valid, pt, 0.0)
    y, phi = rapidity(*np.moveaxis(p4, -1, 0)), np.arctan2(p4[..., 1], p4[..., 0])
    out: dict[tuple[int, float], np.ndarray] = {}
    for n in range(1, n_max + 1):
        ay, aphi, ok = _axes(p4, counts, n)  # (B, n)
        dr = np.hypot(y[:, :, None] - ay[:, None, :], delta_phi(phi[:, :, None], aphi[:, None, :]))  # (B, P, n)
        dmin = dr.min(axis=2)  # (B, P)
        for beta in betas:
            d0 = pt.sum(axis=1) * r0**beta
            tau = np.divide((pt * dmin**beta).sum(axis=1), d0, out=np.zeros(len(counts)), where=d0 > 0)
            out[(n, beta)] = np.where(ok, tau, 0.0)
    return out
