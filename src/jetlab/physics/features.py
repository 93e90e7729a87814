"""All per-jet high-level features, in :data:`jetlab.schema.HLF_NAMES` order.

From the constituents of each jet this computes the 53 feature columns of the hls4ml
dataset (arXiv:1804.06913) and jetlab's τ21 ratios:

- kinematics: ``j_pt``, ``j_eta``, ``j_mass`` of the four-vector sum; ``j_ptfrac`` = jet pT over
  the pT of the matched truth parton/boson/top (1 when no truth is known);
- ``j_zlogz`` = Σ z_i ln z_i with z_i = pT_i / Σ pT (ungroomed jet);
- N-subjettiness τ1..τ3 for β = 1, 2 and their ratios (:mod:`jetlab.physics.nsubjettiness`);
- the 13 energy-correlation ratios (:mod:`jetlab.physics.ecf`);
- each of the two blocks above again on the mMDT-groomed jet (suffix ``_mmdt``);
- groomed masses ``j_mass_trim``, ``j_mass_mmdt``, ``j_mass_prun``, ``j_mass_sdb2``,
  ``j_mass_sdm1`` (:mod:`jetlab.physics.grooming`); ``j_multiplicity`` (ungroomed).

``d2_a1_b1`` equals ``d2_b1`` by construction with the pT-R measure (both are e3/e2^3).
Conventions where FastJet gives no number: a ratio whose denominator is 0 (τ_N/τ_(N-1) or an ECF
ratio of a jet with too few particles) is 0, and a mass with m² < 0 is 0. Every column is tested
against FastJet contrib or a closed form on Pythia jets (``tests/test_physics_reference.py``).
"""

from __future__ import annotations

import numpy as np

from jetlab.physics.ecf import correlator_sums, ecf_observables
from jetlab.physics.grooming import groom_jets
from jetlab.physics.kinematics import pt_eta_phi_m, rapidity
from jetlab.physics.nsubjettiness import nsubjettiness
from jetlab.schema import HLF_NAMES

__all__ = ["jet_features", "features_from_p4"]


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros_like(a), where=b > 0)


def _substructure(p4: np.ndarray, counts: np.ndarray, suffix: str) -> dict[str, np.ndarray]:
    """τ_N, τ ratios and the 13 ECF ratios of padded jets; keys like ``j_tau1_b1`` + suffix."""
    pt = np.hypot(p4[..., 0], p4[..., 1])
    y, phi = rapidity(*np.moveaxis(p4, -1, 0)), np.arctan2(p4[..., 1], p4[..., 0])
    valid = np.arange(p4.shape[1])[None, :] < counts[:, None]
    pt_sum = np.where(valid, pt, 0.0).sum(axis=1)
    out = {f"j_{k}{suffix}": v for k, v in ecf_observables(correlator_sums(pt, y, phi, counts), pt_sum).items()}
    taus = nsubjettiness(p4, counts)
    for beta in (1, 2):
        t1, t2, t3 = (taus[(n, float(beta))] for n in (1, 2, 3))
        out.update({f"j_tau1_b{beta}{suffix}": t1, f"j_tau2_b{beta}{suffix}": t2, f"j_tau3_b{beta}{suffix}": t3})
        out[f"j_tau21_b{beta}{suffix}"] = _ratio(t2, t1)
        out[f"j_tau32_b{beta}{suffix}"] = _ratio(t3, t2)
    return out


def _compact(p4: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Move kept particles to the front (stable, so pT order is preserved); zero the rest."""
    order = np.argsort(~keep, axis=1, kind="stable")  # (N, P)
    packed = np.take_along_axis(p4, order[..., None], axis=1)
    counts = keep.sum(axis=1)
    packed[np.arange(p4.shape[1])[None, :] >= counts[:, None]] = 0.0
    return packed, counts


def features_from_p4(p4: np.ndarray, counts: np.ndarray, truth_pt: np.ndarray | None = None) -> np.ndarray:
    """(N, len(HLF_NAMES)) float32 features from padded (N, P, 4) px, py, pz, E and counts (N,)."""
    p4 = np.asarray(p4, np.float64)
    counts = np.asarray(counts, np.int64)
    valid = np.arange(p4.shape[1])[None, :] < counts[:, None]
    p4 = np.where(valid[..., None], p4, 0.0)
    total = p4.sum(axis=1)  # (N, 4)
    j_pt, j_eta, _, j_mass = pt_eta_phi_m(*total.T)
    pt = np.hypot(p4[..., 0], p4[..., 1])
    z = _ratio(pt, pt.sum(axis=1, keepdims=True) + np.zeros_like(pt))
    cols: dict[str, np.ndarray] = {
        "j_pt": j_pt,
        "j_eta": j_eta,
        "j_mass": j_mass,
        "j_ptfrac": np.ones(len(counts)) if truth_pt is None else _ratio(j_pt, np.asarray(truth_pt, float)),
        "j_zlogz": np.where(z > 0, z * np.log(np.where(z > 0, z, 1.0)), 0.0).sum(axis=1),
        "j_multiplicity": counts.astype(np.float64),
    }
    cols.update(_substructure(p4, counts, ""))
    groomed = groom_jets(p4, counts)
    for name, mass in groomed.mass.items():
        cols[f"j_mass_{name}"] = np.maximum(mass, 0.0)
    cols.update(_substructure(*_compact(p4, groomed.mmdt_mask), "_mmdt"))
    return np.stack([cols[name] for name in HLF_NAMES], axis=1).astype(np.float32)


def jet_features(jets) -> tuple[np.ndarray, list[str]]:  # noqa: ANN001 - Jets (avoid io import cycle)
    """Features of a :class:`jetlab.io.jets.Jets` from its stored constituents.

    Returns the (N, H) float32 array and the H names (:data:`HLF_NAMES`). Constituents beyond
    the stored ``max_particles`` are not available, so very busy jets are approximated.
    """
    p4 = np.stack([jets.particle(k) for k in ("px", "py", "pz", "E")], axis=-1)
    return features_from_p4(p4, jets.n_particles), list(HLF_NAMES)
