"""Shared fixtures: a seeded RNG and small synthetic `Jets` that need no Pythia."""

from __future__ import annotations

import numpy as np
import pytest

from jetlab.io.jets import Jets
from jetlab.physics.kinematics import p4_from_pt_eta_phi_m
from jetlab.schema import HLF_NAMES, PARTICLE_FEATURES


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def make_jets(n: int = 50, max_particles: int = 30, seed: int = 0, n_classes: int = 5) -> Jets:
    """Synthetic jets: random pT-ordered particles around an axis, labels cycling over classes."""
    r = np.random.default_rng(seed)
    counts = r.integers(3, max_particles + 1, size=n).astype(np.int32)
    jet_eta, jet_phi = r.uniform(-1.5, 1.5, n), r.uniform(-np.pi, np.pi, n)
    pt = np.sort(r.exponential(50.0, (n, max_particles)) + 1.0, axis=1)[:, ::-1]
    eta = jet_eta[:, None] + r.normal(0, 0.2, (n, max_particles))
    phi = (jet_phi[:, None] + r.normal(0, 0.2, (n, max_particles)) + np.pi) % (2 * np.pi) - np.pi
    px, py, pz, e = p4_from_pt_eta_phi_m(pt, eta, phi, np.zeros_like(pt))
    charge = r.integers(-1, 2, (n, max_particles)).astype(float)
    pdgid = np.where(charge == 0, 22.0, 211.0 * charge)
    cons = np.stack([px, py, pz, e, pt, eta, phi, charge, pdgid], axis=-1).astype(np.float32)
    mask = np.arange(max_particles)[None, :] < counts[:, None]
    cons[~mask] = 0.0
    sx, sy, sz, se = (np.where(mask, a, 0).sum(1) for a in (px, py, pz, e))
    from jetlab.physics.kinematics import pt_eta_phi_m

    jpt, jeta, jphi, jm = pt_eta_phi_m(sx, sy, sz, se)
    hlf = r.normal(size=(n, len(HLF_NAMES))).astype(np.float32)
    return Jets(
        constituents=cons,
        n_particles=counts,
        particle_names=list(PARTICLE_FEATURES),
        jet=np.stack([jpt, jeta, jphi, jm], axis=1).astype(np.float32),
        hlf=hlf,
        hlf_names=list(HLF_NAMES),
        labels=(np.arange(n) % n_classes).astype(np.int64),
        meta={"format": "synthetic"},
    )


@pytest.fixture
def jets() -> Jets:
    return make_jets()


def make_separable_jets(n: int = 300, max_particles: int = 24, seed: int = 0) -> Jets:
    """Synthetic jets whose classes differ (HLF shift, angular spread, multiplicity): models can learn them."""
    jets = make_jets(n, max_particles=max_particles, seed=seed)
    r = np.random.default_rng(seed + 1)
    lab = jets.labels.astype(float)
    jets.hlf += lab[:, None] * 0.8
    idx = {k: jets.particle_names.index(k) for k in ("eta", "phi", "px", "py", "pz", "E", "pt")}
    deta = jets.constituents[..., idx["eta"]] - jets.jet[:, 1:2]
    scale = (0.5 + 0.4 * lab)[:, None]
    eta = jets.jet[:, 1:2] + deta * scale
    phi = jets.constituents[..., idx["phi"]]
    pt = jets.constituents[..., idx["pt"]]
    px, py, pz, e = p4_from_pt_eta_phi_m(pt, eta, phi, np.zeros_like(pt))
    for k, v in (("eta", eta), ("px", px), ("py", py), ("pz", pz), ("E", e)):
        jets.constituents[..., idx[k]] = np.where(jets.mask, v, 0.0)
    jets.n_particles = np.minimum(jets.n_particles, 4 + 4 * jets.labels + r.integers(0, 4, n)).astype(np.int32)
    jets.constituents[~jets.mask] = 0.0
    return jets


def write_dataset(path, jets: Jets, shard_size: int = 100):  # noqa: ANN001, ANN201
    """Write ``jets`` as a jetlab dataset directory (shards + manifest), as `jetlab generate` would."""
    from pathlib import Path

    from jetlab.io.format import SCHEMA_VERSION, sha256, write_manifest, write_shard

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    shards = []
    for k, start in enumerate(range(0, len(jets), shard_size)):
        name = f"s_{k:04d}.h5"
        part = jets[start:start + shard_size]
        write_shard(path / name, part, {"class": "mixed", "index": k})
        shards.append({"file": name, "n_jets": len(part), "sha256": sha256(path / name)})
    write_manifest(path, {"format": "jetlab", "schema": SCHEMA_VERSION, "n_jets": len(jets), "shards": shards})
    return path


def permute_particles(jets: Jets, seed: int) -> Jets:
    """The same jets with their real particles in a random order (padding stays at the end)."""
    keys = np.where(jets.mask, np.random.default_rng(seed).random(jets.mask.shape), np.inf)
    out = jets[:]
    out.constituents = np.take_along_axis(jets.constituents, np.argsort(keys, axis=1)[..., None], axis=1)
    return out
