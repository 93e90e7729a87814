"""Write jets in the hls4ml LHC jet layout (Duarte et al., arXiv:1804.06913; Zenodo 3602260).

:func:`to_hls4ml` writes files ``jetImage_0_{P}p_{start}_{stop}.h5`` (jets ``[start:stop)``), each whole or not at all
(:mod:`jetlab.io.atomic`), readable by :func:`jetlab.io.readers.read_hls4ml`::

    jets                 (N, 59)   float32  schema.HLS4ML_JET_FEATURES; one-hot j_g..j_t, j_undef (label -1)
    jetFeatureNames      (59,)     bytes
    jetConstituentList   (N, P, 16) float32 schema.HLS4ML_PARTICLE_FEATURES, first P particles, zero padded
    particleFeatureNames (16,)     bytes
    jetImage             (N, B, B) float32  pixel = sum of pT (GeV), (deta, dphi) in [-0.8, 0.8]^2

The 16 particle features of particle i in jet J, with J's four-vector from ``jets.jet``:

    erel = E_i / E_J               ptrel = pt_i / pt_J           deltaR = sqrt(etarel^2 + phirel^2)
    etarel = eta_i - eta_J         phirel = wrap(phi_i - phi_J)  costheta = pz_i / |p_i|
    costhetarel = p_i . p_J / (|p_i| |p_J|)
    (etarot, phirot) = R(-theta) (etarel, phirel),  theta = 1/2 atan2(2 C_ep, C_ee - C_pp)

where C are the pT-weighted second moments of (etarel, phirel) about the jet axis: the rotation
puts the principal (major) axis of the pT-weighted particle distribution along eta.
The 53 feature columns come from ``jets.hlf`` when it has them all, else from
:func:`jetlab.physics.features.jet_features`; j_pt, j_eta, j_mass are always ``jets.jet``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from jetlab.classes import JETLAB
from jetlab.errors import FormatError, UsageError
from jetlab.io.atomic import atomic_h5
from jetlab.io.jets import Jets
from jetlab.physics.kinematics import p4_from_pt_eta_phi_m, relative_coordinates
from jetlab.schema import HLS4ML_JET_FEATURES, HLS4ML_PARTICLE_FEATURES

__all__ = ["to_hls4ml", "hls4ml_jet_table", "hls4ml_constituents", "principal_rotation"]

_FEATURES = HLS4ML_JET_FEATURES[:-6]  # the 53 feature columns before the one-hot label
_COMPRESSION = {"compression": "gzip", "compression_opts": 4, "shuffle": True}


def to_hls4ml(
    jets: Jets,
    out_dir: str | os.PathLike[str],
    n_particles: int = 100,
    image_bins: int = 100,
    jets_per_file: int = 10000,
) -> list[Path]:
    """Write ``jets`` as hls4ml files of ``jets_per_file`` jets with ``n_particles`` slots; return the paths.

    Jets with more than ``n_particles`` particles keep their leading ones; images use all particles.
    Raises :class:`UsageError` for non-positive sizes, no jets, or an ``out_dir`` that is a file.
    """
    out = Path(out_dir)
    sizes = {"n_particles": n_particles, "image_bins": image_bins, "jets_per_file": jets_per_file}
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise UsageError(f"{name} must be a positive integer, got {value!r}")
    if len(jets) == 0:
        raise UsageError("no jets to convert")
    if not jets.scheme.same_classes(JETLAB):
        raise UsageError(f"hls4ml files hold the classes g,q,w,z,t; these jets use the label scheme {jets.scheme}")
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is not a directory")
    jets.validate("jets to convert")
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for start in range(0, len(jets), jets_per_file):
        stop = min(start + jets_per_file, len(jets))
        path = out / f"jetImage_0_{n_particles}p_{start}_{stop}.h5"
        _write(path, jets[start:stop], n_particles, image_bins)
        paths.append(path)
    return paths


def hls4ml_jet_table(jets: Jets) -> np.ndarray:
    """(N, 59) float32 ``jets`` array: 53 features (see module doc) then the one-hot label."""
    if all(name in jets.hlf_names for name in _FEATURES):
        values, names = jets.hlf, list(jets.hlf_names)
    else:
        from jetlab.physics.features import jet_features

        values, names = jet_features(jets)
        missing = [name for name in _FEATURES if name not in names]
        if missing:
            raise FormatError(f"jet_features does not provide hls4ml columns {missing[:4]}")
    table = np.zeros((len(jets), len(HLS4ML_JET_FEATURES)), np.float32)  # (N, 59)
    table[:, : len(_FEATURES)] = np.asarray(values)[:, [names.index(name) for name in _FEATURES]]
    for k, field in ((0, "j_pt"), (1, "j_eta"), (3, "j_mass")):
        table[:, _FEATURES.index(field)] = jets.jet[:, k]
    label = np.where(jets.labels >= 0, jets.labels, 5)  # j_undef for unknown labels
    table[np.arange(len(jets)), len(_FEATURES) + label] = 1.0
    return table


def hls4ml_constituents(jets: Jets, n_particles: int) -> np.ndarray:
    """(N, n_particles, 16) float32 ``jetConstituentList`` (see module doc); padding rows exactly zero."""
    slots = min(n_particles, jets.max_particles)
    pad = ((0, 0), (0, n_particles - slots))
    px, py, pz, e, pt, eta, phi = (np.pad(jets.particle(k)[:, :slots].astype(np.float64), pad)
                                   for k in ("px", "py", "pz", "E", "pt", "eta", "phi"))  # fmt: skip
    mask = np.arange(n_particles)[None, :] < jets.n_particles[:, None]  # (N, P)
    jpt, jeta, jphi, jm = jets.jet.astype(np.float64).T  # (N,) each
    jpx, jpy, jpz, je = p4_from_pt_eta_phi_m(jpt, jeta, jphi, jm)
    deta, dphi = relative_coordinates(eta, phi, jeta, jphi, mask)  # (N, P)
    etarot, phirot = principal_rotation(deta, dphi, np.where(mask, pt, 0.0))
    p_abs, j_abs = np.sqrt(px * px + py * py + pz * pz), np.sqrt(jpx * jpx + jpy * jpy + jpz * jpz)
    dot = px * jpx[:, None] + py * jpy[:, None] + pz * jpz[:, None]
    costhetarel = _div(dot, p_abs * j_abs[:, None])
    feats = [px, py, pz, e, _div(e, je[:, None]), pt, _div(pt, jpt[:, None]), eta, deta, etarot, phi,
             dphi, phirot, np.hypot(deta, dphi), _div(pz, p_abs), costhetarel]  # fmt: skip
    cons = np.stack(feats, axis=-1)  # (N, P, 16)
    return np.where(mask[..., None], cons, 0.0).astype(np.float32)


def principal_rotation(
    deta: np.ndarray, dphi: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(deta, dphi) (N, P) rotated per jet so the weighted principal axis lies along +-eta."""
    w = _div(weight, weight.sum(1, keepdims=True))  # (N, P), sums to 1
    c_ee, c_pp, c_ep = (w * deta * deta).sum(1), (w * dphi * dphi).sum(1), (w * deta * dphi).sum(1)
    theta = 0.5 * np.arctan2(2.0 * c_ep, c_ee - c_pp)[:, None]  # (N, 1) angle of the major axis
    cos, sin = np.cos(theta), np.sin(theta)
    return cos * deta + sin * dphi, -sin * deta + cos * dphi


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b, 0 where b == 0."""
    return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b != 0)


def _write(path: Path, jets: Jets, n_particles: int, image_bins: int) -> None:
    from jetlab.represent.image import jet_images

    table = hls4ml_jet_table(jets)  # (N, 59)
    cons = hls4ml_constituents(jets, n_particles)  # (N, P, 16)
    image = np.asarray(jet_images(jets, bins=image_bins, extent=0.8, normalize=False), np.float32)  # (N, 1, B, B)
    image = image.reshape(len(jets), image_bins, image_bins)
    chunk = max(1, min(len(jets), 256))
    with atomic_h5(path) as f:  # built in memory, renamed into place when whole
        f.create_dataset("jets", data=table)
        f.create_dataset("jetFeatureNames", data=_bytes(HLS4ML_JET_FEATURES))
        f.create_dataset("jetConstituentList", data=cons, chunks=(chunk, *cons.shape[1:]), **_COMPRESSION)
        f.create_dataset("particleFeatureNames", data=_bytes(HLS4ML_PARTICLE_FEATURES))
        f.create_dataset("jetImage", data=image, chunks=(chunk, *image.shape[1:]), **_COMPRESSION)


def _bytes(names: tuple[str, ...]) -> np.ndarray:
    return np.array([name.encode() for name in names])
