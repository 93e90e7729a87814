"""Names shared by every layer: particle features, high-level features, hls4ml columns.

Everything here is data; nothing computes. The names follow the hls4ml LHC jet dataset
(Duarte et al., arXiv:1804.06913; Zenodo 3602260) so that files converted with
``jetlab convert --to hls4ml`` read like the originals.
"""

from __future__ import annotations

__all__ = [
    "PARTICLE_FEATURES",
    "KINEMATIC_FEATURES",
    "JET_FIELDS",
    "ECF_OBSERVABLES",
    "HLS4ML_JET_FEATURES",
    "HLS4ML_PARTICLE_FEATURES",
    "HLF16",
    "HLF_EXTRA",
    "HLF_NAMES",
]

# Per-particle features stored by jetlab, in this order (E in GeV, angles in rad, pdgid signed).
PARTICLE_FEATURES: tuple[str, ...] = ("px", "py", "pz", "E", "pt", "eta", "phi", "charge", "pdgid")
# The subset every reader provides; representations need only these.
KINEMATIC_FEATURES: tuple[str, ...] = ("px", "py", "pz", "E", "pt", "eta", "phi")
# The jet four-vector, in this order.
JET_FIELDS: tuple[str, ...] = ("pt", "eta", "phi", "mass")

# The 13 energy-correlation observables of the hls4ml dataset (computed on a jet or its mMDT groom).
ECF_OBSERVABLES: tuple[str, ...] = (
    "c1_b0", "c1_b1", "c1_b2", "c2_b1", "c2_b2", "d2_b1", "d2_b2",
    "d2_a1_b1", "d2_a1_b2", "m2_b1", "m2_b2", "n2_b1", "n2_b2",
)  # fmt: skip

_TAU = ("tau1_b1", "tau2_b1", "tau3_b1", "tau1_b2", "tau2_b2", "tau3_b2", "tau32_b1", "tau32_b2")

# The 59 columns of the hls4ml `jets` array (jetFeatureNames); the one-hot label is columns -6:-1.
HLS4ML_JET_FEATURES: tuple[str, ...] = (
    ("j_ptfrac", "j_pt", "j_eta", "j_mass")
    + tuple(f"j_{t}" for t in _TAU)
    + ("j_zlogz",)
    + tuple(f"j_{e}" for e in ECF_OBSERVABLES)
    + tuple(f"j_{t}_mmdt" for t in _TAU)
    + tuple(f"j_{e}_mmdt" for e in ECF_OBSERVABLES)
    + ("j_mass_trim", "j_mass_mmdt", "j_mass_prun", "j_mass_sdb2", "j_mass_sdm1", "j_multiplicity")
    + ("j_g", "j_q", "j_w", "j_z", "j_t", "j_undef")
)

# The 16 per-particle columns of the hls4ml `jetConstituentList` (particleFeatureNames).
HLS4ML_PARTICLE_FEATURES: tuple[str, ...] = (
    "j1_px", "j1_py", "j1_pz", "j1_e", "j1_erel", "j1_pt", "j1_ptrel", "j1_eta", "j1_etarel",
    "j1_etarot", "j1_phi", "j1_phirel", "j1_phirot", "j1_deltaR", "j1_costheta", "j1_costhetarel",
)  # fmt: skip

# The course's 16 high-level features: hls4ml columns 12, 34-46, 48, 52.
HLF16: tuple[str, ...] = (
    ("j_zlogz",) + tuple(f"j_{e}_mmdt" for e in ECF_OBSERVABLES) + ("j_mass_mmdt", "j_multiplicity")
)

# Added by jetlab next to the hls4ml columns.
HLF_EXTRA: tuple[str, ...] = ("j_tau21_b1", "j_tau21_b2", "j_tau21_b1_mmdt", "j_tau21_b2_mmdt")

# Everything jetlab's generator stores per jet, in this order (the hls4ml feature columns, then extras).
HLF_NAMES: tuple[str, ...] = HLS4ML_JET_FEATURES[:-6] + HLF_EXTRA

assert len(HLS4ML_JET_FEATURES) == 59 and len(HLF16) == 16
assert HLS4ML_JET_FEATURES[12] == "j_zlogz" and HLS4ML_JET_FEATURES[52] == "j_multiplicity"
assert HLS4ML_JET_FEATURES[34:47] == HLF16[1:14] and HLS4ML_JET_FEATURES[48] == "j_mass_mmdt"
