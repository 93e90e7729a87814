"""Kinematics as pure, vectorized numpy functions (no per-particle Python loops).

Conventions: pt, eta, phi of massless-or-massive four-vectors (px, py, pz, E);
``delta_phi`` wraps into [-pi, pi); eta of a particle along the beam is +-inf guarded
to a large finite value (|eta| <= 1e3) so that downstream arrays stay finite.
``rapidity`` is FastJet's ``PseudoJet::rap()`` exactly, including its clamp of m² at 0
(float32 storage can leave E² < p² by a few ulp).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "delta_phi",
    "delta_r",
    "pt_eta_phi_m",
    "rapidity",
    "p4_from_pt_eta_phi_m",
    "relative_coordinates",
]

_ETA_MAX = 1e3
_FASTJET_MAX_RAP = 1e5  # fastjet::MaxRap


def delta_phi(phi1: np.ndarray, phi2: np.ndarray) -> np.ndarray:
    """phi1 - phi2 wrapped into [-pi, pi)."""
    return (np.asarray(phi1) - np.asarray(phi2) + np.pi) % (2 * np.pi) - np.pi


def delta_r(eta1: np.ndarray, phi1: np.ndarray, eta2: np.ndarray, phi2: np.ndarray) -> np.ndarray:
    """sqrt(deta^2 + dphi^2) with wrapped dphi."""
    return np.hypot(np.asarray(eta1) - np.asarray(eta2), delta_phi(phi1, phi2))


def pt_eta_phi_m(px: np.ndarray, py: np.ndarray, pz: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, ...]:
    """(pt, eta, phi, m) from Cartesian components; m = sqrt(max(E^2 - p^2, 0))."""
    px, py, pz, e = (np.asarray(a, np.float64) for a in (px, py, pz, e))
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.arcsinh(np.where(pt > 0, pz / np.where(pt > 0, pt, 1.0), np.sign(pz) * _ETA_MAX))
    eta = np.clip(eta, -_ETA_MAX, _ETA_MAX)
    phi = np.arctan2(py, px)
    m = np.sqrt(np.maximum(e * e - px * px - py * py - pz * pz, 0.0))
    return pt, eta, phi, m


def rapidity(px: np.ndarray, py: np.ndarray, pz: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Rapidity as FastJet's ``PseudoJet`` defines it::

        y = sign(pz) · ½ ln((E + |pz|)² / (pT² + max(m², 0))),   m² = E² − p²

    i.e. y = ½ ln((E + pz)/(E − pz)) for m² ≥ 0, but a tachyonic four-vector (m² < 0, as
    rounding to float32 can leave) is treated as massless. A particle along the beam
    (pT = 0, E = |pz|) gets ±(1e5 + |pz|), FastJet's ``MaxRap`` convention.

    Example:
        >>> float(rapidity(3.0, 0.0, 4.0, 5.0))  # massless: y = eta = asinh(4/3)
        1.0986122886681098
    """
    px, py, pz, e = (np.asarray(a, np.float64) for a in (px, py, pz, e))
    kt2 = px * px + py * py
    m2 = np.maximum((e + pz) * (e - pz) - kt2, 0.0)
    e_plus = e + np.abs(pz)
    beam = (kt2 + m2 <= 0) | (e_plus <= 0)  # FastJet's E == |pz|, kt2 == 0 (and 0/0 or log 0 guarded)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = 0.5 * np.log(np.where(beam, 1.0, kt2 + m2) / np.where(beam, 1.0, e_plus * e_plus))
    y = np.where(pz > 0, -y, y)
    return np.where(beam, np.where(pz >= 0, 1.0, -1.0) * (_FASTJET_MAX_RAP + np.abs(pz)), y)


def p4_from_pt_eta_phi_m(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, ...]:
    """(px, py, pz, E) from (pt, eta, phi, m)."""
    pt, eta, phi, m = (np.asarray(a, np.float64) for a in (pt, eta, phi, m))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    return px, py, pz, np.sqrt(px * px + py * py + pz * pz + m * m)


def relative_coordinates(
    eta: np.ndarray, phi: np.ndarray, jet_eta: np.ndarray, jet_phi: np.ndarray, mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(deta, dphi) of particles (N, P) relative to their jet axis (N,); zero where ``mask`` is False."""
    deta = np.asarray(eta) - np.asarray(jet_eta)[:, None]
    dphi = delta_phi(phi, np.asarray(jet_phi)[:, None])
    if mask is not None:
        deta, dphi = np.where(mask, deta, 0.0), np.where(mask, dphi, 0.0)
    return deta, dphi
