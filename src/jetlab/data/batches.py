"""From a slice of `Jets` to the batch dict a model consumes, built on the fly per batch.

Batch contract (mask: bool, True = real particle; padding is exactly zero):

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

Every batch also carries ``mass`` (B,) (the mMDT mass when the dataset has it, else the jet mass,
in GeV; for mass decorrelation and sculpting plots), ``label`` (B,) the dataset class index, and
``y`` (B,) int64 targets when targets are given.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor

from jetlab.errors import UsageError
from jetlab.io.jets import Jets
from jetlab.models.registry import InputDims
from jetlab.represent import (
    HLFScaler,
    default_features,
    efp_features,
    four_momenta,
    jet_images,
    knn_indices,
    lorentz_scalars,
    n_efp_features,
    point_cloud,
    to_pyg,
)
from jetlab.represent.sequence import ParticleView
from jetlab.schema import HLF16

__all__ = ["RepresentationConfig", "BatchBuilder", "REPRESENTATION_NAMES"]

REPRESENTATION_NAMES = ("hlf", "image", "particles", "graph", "efp")


def _mass(jets: Jets) -> np.ndarray:
    """(B,) float32: groomed (mMDT) mass if stored, else the jet mass."""
    if "j_mass_mmdt" in jets.hlf_names:
        return jets.feature("j_mass_mmdt").astype(np.float32)
    return jets.jet[:, 3].astype(np.float32)


@dataclass(frozen=True)
class RepresentationConfig:
    """How jets become model inputs (one per run, saved with it)."""

    name: str = "particles"
    hlf_names: tuple[str, ...] = HLF16
    image_bins: int = 40
    image_rotate: bool = True
    image_flip: bool = True
    features: tuple[str, ...] | None = None  # particle features; None = default for the dataset
    max_particles: int = 64
    k: int = 16
    efp_degree: int = 5
    efp_beta: float = 1.0

    def __post_init__(self) -> None:
        if self.name not in REPRESENTATION_NAMES:
            raise UsageError(f"representation {self.name!r} unknown (known: {', '.join(REPRESENTATION_NAMES)})")
        if self.max_particles < 1 or self.image_bins < 4 or self.k < 1:
            raise UsageError("representation: max_particles >= 1, image_bins >= 4 and k >= 1 required")
        if not 1 <= self.efp_degree <= 7 or self.efp_beta <= 0:
            raise UsageError("representation: efp_degree in 1..7 and efp_beta > 0 required")
        object.__setattr__(self, "hlf_names", tuple(self.hlf_names))
        if self.features is not None:
            object.__setattr__(self, "features", tuple(self.features))

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass
class BatchBuilder:
    """Callable ``jets -> batch dict``; ``fit(train_jets)`` learns the HLF standardization."""

    config: RepresentationConfig
    scaler: HLFScaler | None = None
    features: tuple[str, ...] = field(default=())
    n_scalars: int = 0  # Lorentz scalars per particle (see `lorentz_scalars`)

    def fit(self, jets: Jets) -> BatchBuilder:
        if self.config.name == "hlf" and self.scaler is None:
            self.scaler = HLFScaler.fit(jets, names=self.config.hlf_names)
        if self.config.name in ("particles", "graph"):
            self.features = self.config.features or default_features(jets.particle_names)
            self.n_scalars = lorentz_scalars(jets[:0]).shape[-1]
        return self

    def dims(self) -> InputDims:
        hlf = n_efp_features(self.config.efp_degree) if self.config.name == "efp" else len(self.config.hlf_names)
        return InputDims(hlf=hlf, particle_features=len(self.features) or 13,
                         image_bins=self.config.image_bins, max_particles=self.config.max_particles,
                         scalars=self.n_scalars)

    def __call__(self, jets: Jets, targets: np.ndarray | None = None) -> dict[str, Any]:
        return self.assemble(self.columns(jets, targets))

    def columns(self, jets: Jets, targets: np.ndarray | None = None) -> dict[str, Tensor]:
        """Per-jet tensors of ``jets`` (first axis = jet): the batch less what spans jets.

        The graph representation keeps each jet's kNN slots as ``knn`` (B, P, k) in place of the PyG
        graph. Every value is a function of its own jet only, so any rows of the columns of many jets,
        :meth:`assemble`-d, are the batch of those jets (what the data module's cache relies on).
        """
        cfg = self.config
        cols: dict[str, Tensor] = {}
        if cfg.name == "hlf":
            if self.scaler is None:
                raise RuntimeError("BatchBuilder.fit() must run before building HLF batches")
            cols["x"] = torch.from_numpy(self.scaler.transform(jets))  # (B, H)
        elif cfg.name == "image":
            img = jet_images(jets, bins=cfg.image_bins, rotate=cfg.image_rotate, flip=cfg.image_flip)
            cols["x"] = torch.from_numpy(img)  # (B, 1, n, n)
        elif cfg.name == "efp":
            efp = efp_features(jets, dmax=cfg.efp_degree, beta=cfg.efp_beta, max_particles=cfg.max_particles)
            cols["x"] = torch.from_numpy(efp)  # (B, G) float64: EFPs span many orders of magnitude
        else:
            cols.update(self._particles(jets))
            if cfg.name == "graph":
                small = torch.int16 if cfg.max_particles < 2**15 else torch.int64
                cols["knn"] = knn_indices(cols["points"], cols["mask"], cfg.k).to(small)  # (B, P, k)
        cols["mass"] = torch.from_numpy(_mass(jets))  # (B,)
        cols["label"] = torch.as_tensor(jets.labels, dtype=torch.long)  # (B,)
        if targets is not None:
            cols["y"] = torch.as_tensor(targets, dtype=torch.long)
        return cols

    def assemble(self, cols: dict[str, Tensor]) -> dict[str, Any]:
        """The batch dict from (rows of) :meth:`columns`: the graph representation gets its PyG graph."""
        batch: dict[str, Any] = dict(cols)
        knn = batch.pop("knn", None)
        if knn is not None:
            batch["graph"] = to_pyg(batch["points"], batch["x"], batch["mask"], k=self.config.k, neighbours=knn)
        return batch

    def _particles(self, jets: Jets) -> dict[str, Tensor]:
        view = ParticleView(jets, self.config.max_particles)  # shared: each column is read once per batch
        points, x, mask = point_cloud(view, features=self.features or None)  # (B, P, 2), (B, P, F), (B, P)
        p4 = four_momenta(view)  # (B, P, 4) E, px, py, pz
        pt = np.hypot(p4[..., 1], p4[..., 2])
        z = pt / np.maximum(pt.sum(axis=1, keepdims=True), 1e-12)  # (B, P)
        return {"x": torch.from_numpy(x), "mask": torch.from_numpy(mask), "points": torch.from_numpy(points),
                "p4": torch.from_numpy(p4), "z": torch.from_numpy(z.astype(np.float32)),
                "scalars": torch.from_numpy(lorentz_scalars(view))}

    def trim(self, jets: Jets) -> Jets:
        """``jets`` without the particle slots this representation never reads (done once per split, so a
        batch copies only ``max_particles`` slots); the batches built from it are unchanged."""
        p = self.config.max_particles
        if self.config.name not in ("particles", "graph") or jets.max_particles <= p:
            return jets
        return replace(jets, constituents=np.ascontiguousarray(jets.constituents[:, :p]),
                       n_particles=np.minimum(jets.n_particles, p).astype(jets.n_particles.dtype))
