"""From a slice of `Jets` to the batch dict a model consumes, built on the fly per batch.

Batch contract (mask: bool, True = real particle; padding is exactly zero); each representation is a
registered entry (:mod:`jetlab.represent.registry`) that builds its keys:

=============== =====================================================================
representation  keys
=============== =====================================================================
``hlf``         ``x`` (B, H) standardized high-level features
``image``       ``x`` (B, 1, n, n) pT-fraction jet image (centred, rotated, flipped)
``particles``   ``x`` (B, P, F) particle features, ``mask`` (B, P), ``points`` (B, P, 2)
                (Δη, Δφ), ``p4`` (B, P, 4) (E, px, py, pz) in GeV, ``z`` (B, P) pT fraction,
                ``scalars`` (B, P, S) Lorentz-invariant particle scalars (charge, particle-ID
                one-hot; S = 0 when the dataset has no charge/pdgid)
``graph``       ``graph``: a ``torch_geometric.data.Batch`` (kNN edges in Δη-Δφ, node
                features ``x``, ``batch`` vector), plus the ``particles`` keys
``efp``         ``x`` (B, G) energy flow polynomials of degree ≤ ``efp_degree`` (β = ``efp_beta``),
                unscaled (for linear discriminants and trees, which standardize themselves)
=============== =====================================================================

Every batch of jets also carries ``mass`` (B,) (the mMDT mass when the dataset has it, else the jet mass,
in GeV; for mass decorrelation and sculpting plots), a batch of showers ``incident`` (B,) (the incident
energy in GeV; for metrics in bins of energy), ``label`` (B,) the dataset class index, and
``y`` (B,) int64 targets when targets are given.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor

from jetlab.io.jets import Jets
from jetlab.io.showers import Showers
from jetlab.represent.dims import InputDims
from jetlab.represent.hlf import HLFScaler
from jetlab.represent.registry import Representation, RepresentationConfig, get_representation

__all__ = ["RepresentationConfig", "BatchBuilder"]


def _mass(jets: Jets) -> np.ndarray:
    """(B,) float32: groomed (mMDT) mass if stored, else the jet mass."""
    if "j_mass_mmdt" in jets.hlf_names:
        return jets.feature("j_mass_mmdt").astype(np.float32)
    return jets.jet[:, 3].astype(np.float32)


@dataclass
class BatchBuilder:
    """Callable ``jets -> batch dict`` of one representation; ``fit(train_jets)`` learns its state.

    ``state`` is what the representation learned (JSON-able but for live objects with ``to_dict``, such as
    the :class:`HLFScaler`); it is saved in ``RUN/representation.json``.
    """

    config: RepresentationConfig
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def rep(self) -> Representation:
        return get_representation(self.config.name)

    @property
    def fitted(self) -> bool:
        return bool(self.state)

    @property
    def scaler(self) -> HLFScaler | None:
        return self.state.get("scaler")

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(self.state.get("features", ()))

    @property
    def n_scalars(self) -> int:
        return int(self.state.get("n_scalars", 0))

    def fit(self, jets: Any) -> BatchBuilder:
        if not self.state:
            self.state = dict(self.rep.fit(self.config, jets)) or {"fitted": True}
        return self

    def dims(self) -> InputDims:
        return InputDims(**self.rep.dims(self.config, self.state))

    def __call__(self, jets: Any, targets: np.ndarray | None = None) -> dict[str, Any]:
        return self.assemble(self.columns(jets, targets))

    def columns(self, jets: Any, targets: np.ndarray | None = None) -> dict[str, Tensor]:
        """Per-jet tensors of ``jets`` (first axis = jet): the batch less what spans jets.

        Every value is a function of its own jet only, so any rows of the columns of many jets,
        :meth:`assemble`-d, are the batch of those jets (what the data module's cache relies on).
        """
        cols = dict(self.rep.columns(self.config, self.state, jets))
        if isinstance(jets, Jets):
            cols["mass"] = torch.from_numpy(_mass(jets))  # (B,)
        elif isinstance(jets, Showers):
            cols["incident"] = torch.from_numpy(jets.incident.astype(np.float32))  # (B,) GeV
        cols["label"] = torch.as_tensor(np.asarray(jets.labels), dtype=torch.long)  # (B,)
        if targets is not None:
            cols["y"] = torch.as_tensor(targets, dtype=torch.long)
        return cols

    def assemble(self, cols: dict[str, Tensor]) -> dict[str, Any]:
        """The batch dict from (rows of) :meth:`columns` (the graph representation builds its PyG graph)."""
        return self.rep.assemble(self.config, dict(cols))

    def trim(self, jets: Any) -> Any:
        """``jets`` without the particle slots this representation never reads (done once per split, so a
        batch copies only ``max_particles`` slots); the batches built from it are unchanged."""
        if not (self.rep.particles and isinstance(jets, Jets)):
            return jets
        p = self.config.max_particles
        if jets.max_particles <= p:
            return jets
        return replace(jets, constituents=np.ascontiguousarray(jets.constituents[:, :p]),
                       n_particles=np.minimum(jets.n_particles, p).astype(jets.n_particles.dtype))

    def state_dict(self) -> dict[str, Any]:
        """The JSON-able state (live objects by their ``to_dict``)."""
        return {k: v.to_dict() if hasattr(v, "to_dict") else list(v) if isinstance(v, tuple) else v
                for k, v in self.state.items()}

    @classmethod
    def from_saved(cls, config: RepresentationConfig, saved: dict[str, Any]) -> BatchBuilder:
        state = dict(saved)
        if state.get("scaler"):
            state["scaler"] = HLFScaler.from_dict(state["scaler"])
        else:
            state.pop("scaler", None)
        if "features" in state:
            state["features"] = tuple(state["features"])
        return cls(config, {k: v for k, v in state.items() if v not in (None, [], ())} or {})
