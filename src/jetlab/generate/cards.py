"""Pythia 8 process cards, one per jet class, and the settings every class shares.

Classes follow the hls4ml LHC jet dataset: gluon (g) and light-quark (q) jets from hard
QCD 2 -> 2, W and Z from boson + jet production with hadronic decays, top from ttbar with
hadronic W decays. The pT-hat window selects the hard-process pT (boson or top pT for
W, Z, t). Long-lived hadrons (cτ > 10 mm: K0S, Λ, ...) are stable, as at the LHC.
"""

from __future__ import annotations

__all__ = ["PROCESS_CARDS", "TRUTH_PDG", "common_settings"]

_HADRONIC_W = ["24:onMode = off", "24:onIfAny = 1 2 3 4 5"]

PROCESS_CARDS: dict[str, list[str]] = {
    # both outgoing partons are gluons
    "g": ["HardQCD:gg2gg = on", "HardQCD:qqbar2gg = on"],
    # both outgoing partons are quarks; only u, d, s jets are kept (c, b are dropped at matching)
    "q": ["HardQCD:qq2qq = on", "HardQCD:qqbar2qqbarNew = on", "HardQCD:nQuarkNew = 3"],
    "w": ["WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on", *_HADRONIC_W],
    "z": [
        "WeakBosonAndParton:qqbar2gmZg = on",
        "WeakBosonAndParton:qg2gmZq = on",
        "WeakZ0:gmZmode = 2",  # pure Z, no photon interference
        "23:onMode = off",
        "23:onIfAny = 1 2 3 4 5",
    ],
    "t": ["Top:gg2ttbar = on", "Top:qqbar2ttbar = on", *_HADRONIC_W],
}

# |PDG id| of the truth object a jet of each class must match.
TRUTH_PDG: dict[str, tuple[int, ...]] = {"g": (21,), "q": (1, 2, 3), "w": (24,), "z": (23,), "t": (6,)}


def common_settings(seed: int, sqrt_s: float, pthat: tuple[float, float]) -> list[str]:
    """Beam, phase-space, stability, seed and quiet-output settings."""
    return [
        f"Beams:eCM = {sqrt_s:.1f}",
        f"PhaseSpace:pTHatMin = {pthat[0]:.3f}",
        f"PhaseSpace:pTHatMax = {pthat[1]:.3f}",
        "ParticleDecays:limitTau0 = on",
        "ParticleDecays:tau0Max = 10",
        "Random:setSeed = on",
        f"Random:seed = {seed}",
        "Print:quiet = on",
        "Next:numberCount = 0",
    ]
