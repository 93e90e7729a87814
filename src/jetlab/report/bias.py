"""Which inductive bias each model encodes: the lecture's closing question, as a report section.

:func:`inductive_bias` gives a short label (a table column) and a sentence (the report's section)
for a registry model, from its family with a few per-model refinements.
"""

from __future__ import annotations

__all__ = ["inductive_bias", "BIAS_ORDER"]

# family -> (label, what the architecture assumes about jets)
_FAMILY: dict[str, tuple[str, str]] = {
    "cut": ("one variable", "one engineered substructure variable and a threshold: all the physics is in the "
                            "choice of variable"),
    "bdt": ("engineered features", "axis-aligned cuts on engineered substructure features; the network learns "
                                   "nothing about particles"),
    "mlp": ("engineered features", "no structure in the architecture; the physics is in the high-level inputs"),
    "linear": ("IRC-safe basis", "a linear function of energy flow polynomials, a complete basis of IRC-safe "
                                 "observables"),
    "cnn": ("translation, locality", "translation equivariance and locality on the η-φ image; pixelization loses "
                                     "particle identity"),
    "rnn": ("sequence order", "an ordered sequence (pT order); permuting particles changes the output"),
    "deepsets": ("permutation", "permutation invariance: a sum over per-particle functions"),
    "pointnet": ("permutation", "permutation invariance: a max over per-particle functions"),
    "transformer": ("permutation, attention", "permutation invariance with learned all-pairs attention"),
    "gnn": ("permutation, graph locality", "permutation invariance and locality: messages between nearest "
                                           "neighbours in η-φ or feature space"),
    "lorentz": ("permutation, Lorentz", "permutation invariance and Lorentz symmetry: four-momenta enter only "
                                        "through Minkowski products"),
}
_MODEL: dict[str, tuple[str, str]] = {
    "efn": ("permutation, IRC safety", "permutation invariance and IRC safety: an energy-weighted sum over "
                                       "angular functions"),
    "part": ("permutation, pairwise physics", "permutation invariance with attention biased by pairwise physics "
                                              "(ΔR, kT, z, m² of each particle pair)"),
    "part_lite": ("permutation, pairwise physics", "as ParT: attention biased by pairwise ΔR, kT, z, m²"),
}
BIAS_ORDER = ("one variable", "engineered features", "IRC-safe basis", "translation, locality", "sequence order",
              "permutation", "permutation, IRC safety", "permutation, attention", "permutation, pairwise physics",
              "permutation, graph locality", "permutation, Lorentz")


def inductive_bias(model: str, family: str) -> tuple[str, str]:
    """``(label, sentence)`` for a registry model; ``("—", "")`` for families without an entry.

    Example:
        >>> inductive_bias("lorentznet", "lorentz")[0]
        'permutation, Lorentz'
    """
    return _MODEL.get(model) or _FAMILY.get(family, ("—", ""))
