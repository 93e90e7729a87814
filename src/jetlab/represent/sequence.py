"""Per-particle feature sequences: ``(x (N, P, F), mask (N, P))`` for RNNs, DeepSets and transformers.

Particles keep their stored order (pT-descending). Padded slots are exactly 0 in ``x`` and False in
``mask`` (True = real particle). Features are relative to the jet four-vector ``jets.jet``
(pt, eta, phi, mass); Δφ is wrapped into [-π, π).

Named features (F columns, in the order requested):

============================ =================================================================
``log_pt``, ``log_e``        log pT, log E of the particle (GeV)
``log_pt_rel``, ``log_e_rel`` log(pT / pT_jet), log(E / E_jet)
``deta``, ``dphi``, ``dr``   η - η_jet, wrapped φ - φ_jet, sqrt(Δη² + Δφ²)
``charge``                   electric charge (needs the ``charge`` column)
``is_electron`` ...          one-hot particle type from |pdgid| (needs ``pdgid``): electron (11),
                             muon (13), photon (22), charged hadron (π±, K±, p, Σ±, Ξ⁻, Ω⁻),
                             neutral hadron (any other |pdgid| >= 100: K⁰_L, n, Λ, ...); a dataset
                             that stores the flags themselves (JetClass) gives its stored columns
``tanh_d0``, ``tanh_dz``     tanh of the transverse / longitudinal impact parameter (needs ``d0`` / ``dz``,
                             JetClass's ``part_d0val`` / ``part_dzval``), as Particle Transformer feeds them
``d0err``, ``dzerr``         their uncertainties clipped to [0, 1] (needs ``d0err`` / ``dzerr``)
``etarel``, ``phirel``,      the course's DeepSets / Set Transformer inputs (hls4ml definitions,
``pt``, ``e``, ``ptrel``,    :data:`COURSE7`): Δη, Δφ, pT, E, pT/pT_jet, E/E_jet, ΔR
``erel``, ``deltaR``
============================ =================================================================

Logarithms take ``max(value, 1e-8)``, so a real particle with pT = 0 gives a finite value, never -inf.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property

import numpy as np

from jetlab.errors import FormatError
from jetlab.io.jets import Jets
from jetlab.physics.kinematics import p4_from_pt_eta_phi_m, relative_coordinates

__all__ = [
    "FEATURES",
    "COURSE7",
    "PARTICLE_TYPES",
    "IMPACT",
    "ParticleView",
    "as_view",
    "default_features",
    "particle_features",
    "stack_features",
    "check_features",
]

_TINY = 1e-8
_CHARGED_HADRONS = (211, 321, 2212, 3112, 3222, 3312, 3334)
PARTICLE_TYPES: tuple[str, ...] = (
    "is_electron", "is_muon", "is_photon", "is_charged_hadron", "is_neutral_hadron",
)  # fmt: skip
COURSE7: tuple[str, ...] = ("etarel", "phirel", "pt", "e", "ptrel", "erel", "deltaR")


class ParticleView:
    """Per-particle arrays of a batch of jets, each (N, P) float64 and 0 at padded slots.

    ``max_particles`` truncates to the first (hardest) slots or zero-pads up to that many slots.
    Shared by the sequence, cloud and image builders; computed lazily, once per attribute.
    """

    def __init__(self, jets: Jets, max_particles: int | None = None) -> None:
        cons = jets.constituents  # (N, P, F)
        width = cons.shape[1] if max_particles is None else int(max_particles)
        if width < cons.shape[1]:
            cons = cons[:, :width]
        elif width > cons.shape[1]:
            cons = np.pad(cons, ((0, 0), (0, width - cons.shape[1]), (0, 0)))
        self.constituents = cons  # (N, P', F)
        self.names = list(jets.particle_names)
        self.jet = np.asarray(jets.jet, np.float64)  # (N, 4) pt, eta, phi, mass
        self.mask = np.arange(width)[None, :] < np.asarray(jets.n_particles)[:, None]  # (N, P')

    def _index(self, name: str) -> int:
        if name not in self.names:
            raise FormatError(f"particle feature {name!r} not in this dataset ({', '.join(self.names)})")
        return self.names.index(name)

    def column(self, name: str) -> np.ndarray:
        """(N, P) float64 values of one stored particle column, 0 at padded slots."""
        return np.where(self.mask, self.constituents[..., self._index(name)], 0.0)

    def columns32(self, names: Sequence[str]) -> np.ndarray:
        """(N, P, len(names)) float32 stored columns, 0 at padded slots (no float64 round trip)."""
        cols = self.constituents[..., [self._index(n) for n in names]]  # (N, P, C)
        return np.where(self.mask[..., None], cols, 0).astype(np.float32, copy=False)

    @cached_property
    def pt(self) -> np.ndarray:
        return self.column("pt")  # (N, P)

    @cached_property
    def e(self) -> np.ndarray:
        return self.column("E")  # (N, P)

    @cached_property
    def jet_e(self) -> np.ndarray:
        return p4_from_pt_eta_phi_m(*self.jet.T)[3]  # (N,)

    @cached_property
    def deta_dphi(self) -> tuple[np.ndarray, np.ndarray]:
        return relative_coordinates(self.column("eta"), self.column("phi"),
                                    self.jet[:, 1], self.jet[:, 2], self.mask)  # 2 x (N, P)

    @cached_property
    def abs_pdgid(self) -> np.ndarray:
        return np.abs(np.rint(self.column("pdgid"))).astype(np.int64)  # (N, P)

    @cached_property
    def is_charged_hadron(self) -> np.ndarray:
        return np.isin(self.abs_pdgid, _CHARGED_HADRONS)  # (N, P) bool

    def log(self, value: np.ndarray) -> np.ndarray:
        """log(max(value, 1e-8)) at real slots, 0 at padded slots."""
        return np.where(self.mask, np.log(np.maximum(value, _TINY)), 0.0)

    def ratio(self, value: np.ndarray, per_jet: np.ndarray) -> np.ndarray:
        """value / per_jet[:, None], with a jet total <= 0 treated as 1."""
        return value / np.where(per_jet > 0, per_jet, 1.0)[:, None]


def as_view(jets: Jets | ParticleView, max_particles: int | None = None) -> ParticleView:
    """``jets`` itself when it is already a view (built once per batch and shared), else a new view."""
    return jets if isinstance(jets, ParticleView) else ParticleView(jets, max_particles)


def _dr(v: ParticleView) -> np.ndarray:
    return np.hypot(*v.deta_dphi)


# name -> (stored columns it needs beyond the kinematic ones, function of the view giving (N, P))
_BUILDERS: dict[str, tuple[tuple[str, ...], Callable[[ParticleView], np.ndarray]]] = {
    "log_pt": ((), lambda v: v.log(v.pt)),
    "log_e": ((), lambda v: v.log(v.e)),
    "log_pt_rel": ((), lambda v: v.log(v.ratio(v.pt, v.jet[:, 0]))),
    "log_e_rel": ((), lambda v: v.log(v.ratio(v.e, v.jet_e))),
    "deta": ((), lambda v: v.deta_dphi[0]),
    "dphi": ((), lambda v: v.deta_dphi[1]),
    "dr": ((), _dr),
    "charge": (("charge",), lambda v: v.column("charge")),
    "is_electron": (("pdgid",), lambda v: v.abs_pdgid == 11),
    "is_muon": (("pdgid",), lambda v: v.abs_pdgid == 13),
    "is_photon": (("pdgid",), lambda v: v.abs_pdgid == 22),
    "is_charged_hadron": (("pdgid",), lambda v: v.is_charged_hadron),
    "is_neutral_hadron": (("pdgid",), lambda v: (v.abs_pdgid >= 100) & ~v.is_charged_hadron),
    "etarel": ((), lambda v: v.deta_dphi[0]),
    "phirel": ((), lambda v: v.deta_dphi[1]),
    "pt": ((), lambda v: v.pt),
    "e": ((), lambda v: v.e),
    "ptrel": ((), lambda v: v.ratio(v.pt, v.jet[:, 0])),
    "erel": ((), lambda v: v.ratio(v.e, v.jet_e)),
    "deltaR": ((), _dr),
    "tanh_d0": (("d0",), lambda v: np.tanh(v.column("d0"))),
    "tanh_dz": (("dz",), lambda v: np.tanh(v.column("dz"))),
    "d0err": (("d0err",), lambda v: np.clip(v.column("d0err"), 0.0, 1.0)),
    "dzerr": (("dzerr",), lambda v: np.clip(v.column("dzerr"), 0.0, 1.0)),
}
IMPACT: tuple[str, ...] = ("tanh_d0", "tanh_dz", "d0err", "dzerr")


def _stored_flag(feature: str, names: Sequence[str]) -> bool:
    """A particle-type feature the dataset stores as its own 0/1 column (and has no pdgid to derive it)."""
    return feature in PARTICLE_TYPES and feature in names and "pdgid" not in names
FEATURES: tuple[str, ...] = tuple(_BUILDERS)


def default_features(particle_names: Sequence[str]) -> tuple[str, ...]:
    """The default feature list for a dataset with these stored columns.

    Seven kinematic features always; ``charge`` and the particle-type one-hot when the columns exist.

    Example:
        >>> default_features(["px", "py", "pz", "E", "pt", "eta", "phi"])
        ('log_pt', 'log_e', 'log_pt_rel', 'log_e_rel', 'deta', 'dphi', 'dr')
    """
    names = ["log_pt", "log_e", "log_pt_rel", "log_e_rel", "deta", "dphi", "dr"]
    if "charge" in particle_names:
        names.append("charge")
    if "pdgid" in particle_names or set(PARTICLE_TYPES) <= set(particle_names):
        names.extend(PARTICLE_TYPES)
    names.extend(f for f in IMPACT if set(_BUILDERS[f][0]) <= set(particle_names))
    return tuple(names)


def check_features(features: Sequence[str], particle_names: Sequence[str]) -> None:
    """Raise :class:`FormatError` naming unknown features or the stored columns they need."""
    unknown = [f for f in features if f not in _BUILDERS]
    if unknown:
        raise FormatError(f"unknown particle features {unknown}; known: {', '.join(FEATURES)}")
    lacking = [f for f in features if not _stored_flag(f, particle_names)
               and any(c not in particle_names for c in _BUILDERS[f][0])]
    if lacking:
        need = sorted({c for f in lacking for c in _BUILDERS[f][0] if c not in particle_names})
        raise FormatError(f"particle features {lacking} need columns {need}, missing in this dataset")


def particle_features(
    jets: Jets, features: Sequence[str] | None = None, max_particles: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Named per-particle features of every jet.

    Arguments:
        jets: N jets with P particle slots.
        features: names from :data:`FEATURES` (e.g. :data:`COURSE7`); None = :func:`default_features`.
        max_particles: keep the first (hardest) slots, or zero-pad up to this many.

    Returns:
        ``x`` (N, P, F) float32, exactly 0 at padded slots, and ``mask`` (N, P) bool, True = real particle.

    Example:
        >>> x, mask = particle_features(Jets.empty(max_particles=4), COURSE7)
        >>> x.shape, mask.shape
        ((0, 4, 7), (0, 4))
    """
    view = ParticleView(jets, max_particles)
    return stack_features(view, features), view.mask


def stack_features(view: ParticleView, features: Sequence[str] | None = None) -> np.ndarray:
    """(N, P, F) float32 features of a :class:`ParticleView`, exactly 0 at padded slots."""
    features = default_features(view.names) if features is None else tuple(features)
    check_features(features, view.names)
    x = np.empty((*view.mask.shape, len(features)), np.float32)  # (N, P, F)
    for i, f in enumerate(features):
        x[..., i] = view.column(f) if _stored_flag(f, view.names) else _BUILDERS[f][1](view)  # (N, P) -> float32
    x[~view.mask] = 0.0
    return x
