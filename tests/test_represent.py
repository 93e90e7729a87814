"""Representations: hand-checked tiny jets, symmetries (padding, permutation), references for kNN."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from jetlab.errors import FormatError, InputError
from jetlab.io.jets import Jets
from jetlab.physics.kinematics import p4_from_pt_eta_phi_m
from jetlab.represent import (
    COURSE7,
    REPRESENTATIONS,
    HLFScaler,
    default_features,
    four_momenta,
    fully_connected_edges,
    hlf_matrix,
    jet_graphs,
    jet_images,
    knn_indices,
    particle_features,
    point_cloud,
    to_pyg,
)
from jetlab.represent.image import flip_coords, rotate_coords
from jetlab.schema import HLF16, KINEMATIC_FEATURES, PARTICLE_FEATURES
from tests.conftest import make_jets


def tiny_jets(pt: Any, eta: Any, phi: Any, jet_eta: float = 0.0, jet_phi: float = 0.0, pdgid: Any = None,
              counts: Any = None) -> Jets:
    """Jets from (N, P) particle pt/eta/phi lists; massless particles; jet axis given explicitly."""
    pt, eta, phi = (np.atleast_2d(np.asarray(a, np.float64)) for a in (pt, eta, phi))
    n, p = pt.shape
    counts = np.full(n, p) if counts is None else np.asarray(counts)
    px, py, pz, e = p4_from_pt_eta_phi_m(pt, eta, phi, np.zeros_like(pt))
    pid = np.full_like(pt, 211.0) if pdgid is None else np.atleast_2d(np.asarray(pdgid, np.float64))
    cons = np.stack([px, py, pz, e, pt, eta, phi, np.sign(pid), pid], axis=-1).astype(np.float32)
    cons[np.arange(p)[None, :] >= counts[:, None]] = 0.0
    jet = np.stack([pt.sum(1), np.full(n, jet_eta), np.full(n, jet_phi), np.zeros(n)], axis=1)
    return Jets(cons, counts.astype(np.int32), list(PARTICLE_FEATURES), jet.astype(np.float32),
                np.zeros((n, 0), np.float32), [], np.zeros(n, np.int64))


def pad_slots(jets: Jets, extra: int) -> Jets:
    from dataclasses import replace

    return replace(jets, constituents=np.pad(jets.constituents, ((0, 0), (0, extra), (0, 0))))


def permute_real(jets: Jets, seed: int) -> tuple[Jets, np.ndarray]:
    """Shuffle the real particles of every jet (padding stays last); returns the jets and (N, P) order."""
    from dataclasses import replace

    keys = np.random.default_rng(seed).random(jets.mask.shape) + ~jets.mask  # padding keys >= 1
    order = np.argsort(keys, axis=1)  # (N, P): new slot s holds old slot order[s]
    cons = np.take_along_axis(jets.constituents, order[..., None], axis=1)
    return replace(jets, constituents=cons), order


# ----------------------------------------------------------------------------- images
def _center_of(i: int, bins: int = 16, extent: float = 0.8) -> float:
    return -extent + (i + 0.5) * 2 * extent / bins


def test_image_pixel_and_pt_fraction() -> None:
    deta, dphi = _center_of(10), _center_of(3)
    j = tiny_jets([[30.0, 10.0]], [[0.3 + deta, 0.3]], [[1.0 + dphi, 1.0]], jet_eta=0.3, jet_phi=1.0)
    img = jet_images(j, bins=16, extent=0.8, center=False)
    assert img.shape == (1, 1, 16, 16) and img.dtype == np.float32
    assert img[0, 0, 10, 3] == pytest.approx(0.75)
    assert img[0, 0, 8, 8] == pytest.approx(0.25)  # Δη = Δφ = 0 is the corner of pixel (8, 8)
    assert img.sum() == pytest.approx(1.0)
    raw = jet_images(j, bins=16, center=False, normalize=False)
    assert raw[0, 0, 10, 3] == pytest.approx(30.0)


def test_image_dphi_wraps_across_pi() -> None:
    j = tiny_jets([[5.0]], [[0.0]], [[-np.pi + 0.1]], jet_phi=np.pi - 0.05)  # Δφ = +0.15
    img = jet_images(j, bins=16, extent=0.8, center=False)
    assert img[0, 0, 8, 9] == pytest.approx(1.0)
    x, _ = particle_features(j, ["dphi"])
    assert x[0, 0, 0] == pytest.approx(0.15, abs=1e-5)


def test_image_rotation_makes_principal_axis_vertical() -> None:
    t = np.linspace(-0.3, 0.3, 7)
    j = tiny_jets([np.full(7, 10.0)], [0.5 + t], [0.2 + 0.5 * t], jet_eta=0.5, jet_phi=0.2)
    img = jet_images(j, bins=15, extent=0.8, rotate=True)  # odd bins: the central column holds Δφ = 0
    col = img[0, 0].sum(axis=0)
    assert col[7] == pytest.approx(1.0) and np.count_nonzero(img[0, 0].sum(axis=1)) >= 5


def test_rotate_coords_diagonalizes_inertia() -> None:
    j = make_jets(40, 25, seed=3)
    x, y = (np.where(j.mask, j.particle(c), 0) for c in ("eta", "phi"))
    x, y = x - j.jet[:, 1:2], y - j.jet[:, 2:3]
    w = np.where(j.mask, j.particle("pt"), 0.0).astype(np.float64)
    u, v = rotate_coords(x, y, w)
    assert np.allclose((w * u * v).sum(1), 0, atol=1e-4)
    assert ((w * u * u).sum(1) >= (w * v * v).sum(1) - 1e-6).all()


def test_flip_puts_harder_half_top_right() -> None:
    j = make_jets(40, 25, seed=4)
    img = jet_images(j, bins=20, extent=3.0, rotate=True, flip=True)[:, 0]  # all particles inside
    assert (img[:, 10:].sum((1, 2)) >= img[:, :10].sum((1, 2)) - 1e-6).all()  # Δη > 0 rows
    assert (img[:, :, 10:].sum((1, 2)) >= img[:, :, :10].sum((1, 2)) - 1e-6).all()  # Δφ > 0 columns
    x, y = flip_coords(np.array([[-1.0, 0.5]]), np.array([[0.2, -0.1]]), np.array([[3.0, 1.0]]))
    assert x.tolist() == [[1.0, -0.5]] and y.tolist() == [[0.2, -0.1]]


def test_image_empty_jet_and_centering() -> None:
    j = tiny_jets([[4.0, 4.0], [0.0, 0.0]], [[0.05, 0.35], [0.0, 0.0]], [[0.0, 0.0]] * 2, counts=[2, 0])
    img = jet_images(j, bins=16, extent=0.8)
    assert not img[1].any() and np.isfinite(img).all()
    assert img[0, 0, 6, 8] == pytest.approx(0.5) and img[0, 0, 9, 8] == pytest.approx(0.5)  # ±0.15 about 0.2


# ----------------------------------------------------------------------------- symmetries
@pytest.mark.parametrize("options", [{}, {"rotate": True, "flip": True}])
def test_image_padding_and_permutation_invariant(options: dict[str, bool]) -> None:
    j = make_jets(30, 20, seed=5)
    ref = jet_images(j, bins=32, **options)
    assert np.allclose(jet_images(pad_slots(j, 7), bins=32, **options), ref, atol=1e-6)  # summation order
    assert np.allclose(jet_images(permute_real(j, 1)[0], bins=32, **options), ref, atol=1e-6)


def test_sequence_padding_and_permutation() -> None:
    j = make_jets(30, 20, seed=6)
    x, mask = particle_features(j)
    xp, mp = particle_features(pad_slots(j, 5))
    assert np.array_equal(xp[:, :20], x) and not xp[:, 20:].any() and not mp[:, 20:].any()
    jperm, order = permute_real(j, 2)
    xq, mq = particle_features(jperm)
    assert np.allclose(xq, np.take_along_axis(x, order[..., None], axis=1), atol=1e-6)
    assert np.array_equal(mq, mask)


def test_cloud_padding_invariant() -> None:
    j = make_jets(20, 15, seed=7)
    pts, x, mask = point_cloud(j)
    pts2, x2, mask2 = point_cloud(pad_slots(j, 4))
    assert np.array_equal(pts2[:, :15], pts) and np.array_equal(x2[:, :15], x)
    assert not pts2[:, 15:].any() and not x2[:, 15:].any() and not mask2[:, 15:].any()


# ----------------------------------------------------------------------------- sequence features
def test_sequence_values_mask_and_padding() -> None:
    j = make_jets(25, 20, seed=8)
    x, mask = particle_features(j, ["log_pt_rel", "deta", "dr", "charge"])
    assert x.shape == (25, 20, 4) and x.dtype == np.float32 and mask.dtype == bool
    assert np.array_equal(mask, j.mask) and not x[~mask].any()
    pt, eta = j.particle("pt"), j.particle("eta")
    assert np.allclose(x[..., 0][mask], np.log((pt / j.jet[:, :1])[mask]), atol=1e-5)
    assert np.allclose(x[..., 1][mask], (eta - j.jet[:, 1:2])[mask], atol=1e-5)
    assert (x[..., 2] >= 0).all() and np.array_equal(x[..., 3], np.where(mask, j.particle("charge"), 0))


def test_course7_definitions() -> None:
    j = make_jets(10, 12, seed=9)
    x, mask = particle_features(j, COURSE7)
    etarel, phirel, pt, e, ptrel, erel, dr = np.moveaxis(x, -1, 0)
    assert np.allclose(pt, np.where(mask, j.particle("pt"), 0))
    assert np.allclose(e, np.where(mask, j.particle("E"), 0))
    assert np.allclose(ptrel * j.jet[:, :1], pt, rtol=1e-5)
    assert np.allclose(dr, np.hypot(etarel, phirel), atol=1e-6)
    jet_e = np.sqrt((j.jet[:, 0] * np.cosh(j.jet[:, 1])) ** 2 + j.jet[:, 3] ** 2)
    assert np.allclose(erel.sum(1), np.where(mask, j.particle("E"), 0).sum(1) / jet_e, rtol=1e-4)


def test_log_guard_and_particle_types() -> None:
    pdg = [[11, -13, 22, 211, -321, 2212, 130, 2112]]
    j = tiny_jets([[0.0] + [1.0] * 7], [np.zeros(8)], [np.zeros(8)], pdgid=pdg)
    x, _ = particle_features(j, ["log_pt", "log_e", "log_pt_rel", "is_electron", "is_muon", "is_photon",
                                 "is_charged_hadron", "is_neutral_hadron"])
    assert np.isfinite(x).all() and x[0, 0, 0] == pytest.approx(np.log(1e-8), rel=1e-5)
    onehot = x[0, :, 3:].argmax(1).tolist()
    assert onehot == [0, 1, 2, 3, 3, 3, 4, 4] and (x[0, :, 3:].sum(1) == 1).all()


def test_missing_columns_and_default_features() -> None:
    j = make_jets(5, 8)
    kin = [PARTICLE_FEATURES.index(c) for c in KINEMATIC_FEATURES]
    from dataclasses import replace

    bare = replace(j, constituents=j.constituents[..., kin], particle_names=list(KINEMATIC_FEATURES))
    assert "charge" not in default_features(bare.particle_names)
    assert default_features(j.particle_names)[-1] == "is_neutral_hadron"
    assert particle_features(bare)[0].shape == (5, 8, 7)
    with pytest.raises(FormatError, match="charge"):
        particle_features(bare, ["deta", "charge"])
    with pytest.raises(FormatError, match="pdgid"):
        point_cloud(bare, features=["is_photon"])
    with pytest.raises(FormatError, match="nonsense"):
        particle_features(j, ["nonsense"])


def test_max_particles_truncates_and_pads() -> None:
    j = make_jets(20, 15, seed=10)
    x, mask = particle_features(j, max_particles=6)
    assert x.shape[1] == 6 and np.array_equal(mask.sum(1), np.minimum(j.n_particles, 6))
    assert np.array_equal(x, particle_features(j)[0][:, :6])
    x2, mask2 = particle_features(j, max_particles=40)
    assert x2.shape[1] == 40 and not x2[:, 15:].any() and np.array_equal(mask2.sum(1), j.n_particles)


def test_four_momenta() -> None:
    j = make_jets(10, 12, seed=11)
    p4 = four_momenta(j)
    assert p4.shape == (10, 12, 4) and p4.dtype == np.float32 and not p4[~j.mask].any()
    assert np.allclose(p4[..., 0][j.mask], j.particle("E")[j.mask])
    assert np.allclose(p4[..., 3][j.mask], j.particle("pz")[j.mask])


# ----------------------------------------------------------------------------- graphs
def knn_reference(points: np.ndarray, mask: np.ndarray, k: int) -> np.ndarray:
    """Brute force, one particle at a time, with the documented fallbacks."""
    b, p, _ = points.shape
    out = np.tile(np.arange(p)[None, :, None], (b, 1, k))
    for jet in range(b):
        real = np.flatnonzero(mask[jet])
        for i in real:
            others = real[real != i]
            deta = points[jet, others, 0] - points[jet, i, 0]
            dphi = (points[jet, others, 1] - points[jet, i, 1] + np.pi) % (2 * np.pi) - np.pi
            near = others[np.argsort(deta**2 + dphi**2, kind="stable")][:k]
            fill = near[0] if len(near) else i
            out[jet, i] = np.concatenate([near, np.full(k - len(near), fill)])
    return out


@pytest.mark.parametrize("k", [1, 5, 40])
def test_knn_matches_brute_force(k: int) -> None:
    pts, _, mask = point_cloud(make_jets(25, 30, seed=12))
    pts[3, :2, 1] = [np.pi - 0.01, -np.pi + 0.01]  # neighbours across the ±π seam
    got = knn_indices(torch.from_numpy(pts), torch.from_numpy(mask), k)
    assert got.shape == (25, 30, k) and got.dtype == torch.long
    assert np.array_equal(got.numpy(), knn_reference(pts, mask, k))
    assert got[3, 0, 0] == 1


def test_knn_padding_invariant_and_empty() -> None:
    pts, _, mask = point_cloud(make_jets(10, 12, seed=16))
    ref = knn_indices(torch.from_numpy(pts), torch.from_numpy(mask), 4)
    pts2, _, mask2 = point_cloud(pad_slots(make_jets(10, 12, seed=16), 6))
    got = knn_indices(torch.from_numpy(pts2), torch.from_numpy(mask2), 4)
    assert torch.equal(got[:, :12], ref) and torch.equal(got[:, 12:, 0], torch.arange(12, 18).expand(10, 6))
    none = knn_indices(torch.zeros(2, 3, 2), torch.zeros(2, 3, dtype=torch.bool), 2)
    assert none.tolist() == [[[0, 0], [1, 1], [2, 2]]] * 2
    pytest.importorskip("torch_geometric")
    g = to_pyg(torch.zeros(2, 3, 2), torch.zeros(2, 3, 1), torch.zeros(2, 3, dtype=torch.bool), k=2)
    assert g.num_nodes == 0 and g.num_graphs == 2 and g.edge_index.shape == (2, 0)


def test_to_pyg_nodes_and_edges() -> None:
    pytest.importorskip("torch_geometric")
    j = make_jets(12, 10, seed=13)
    j.n_particles[4] = 0
    j.n_particles[5] = 1
    pts, x, mask = (torch.from_numpy(a) for a in point_cloud(j))
    g = to_pyg(pts, x, mask, k=4)
    m = int(j.n_particles.sum())
    assert g.num_nodes == m and g.num_graphs == 12 and g.x.shape == (m, x.shape[-1])
    assert torch.equal(g.x, x[mask]) and torch.equal(g.pos, pts[mask])
    src, dst = g.edge_index
    assert g.edge_index.shape == (2, 4 * m) and torch.equal(g.batch[src], g.batch[dst])
    assert torch.equal(torch.bincount(g.batch[dst], minlength=12), torch.from_numpy(j.n_particles).long() * 4)
    one = g.get_example(5)
    assert one.num_nodes == 1 and one.edge_index.tolist() == [[0] * 4, [0] * 4]
    ex = g.get_example(7)
    nbr = knn_indices(pts, mask, 4)[7][mask[7]]  # (n, 4) slot ids inside jet 7
    assert torch.equal(ex.edge_index[0], nbr.flatten()) and torch.equal(ex.x, x[7][mask[7]])


def test_jet_graphs_and_fully_connected() -> None:
    pytest.importorskip("torch_geometric")
    j = make_jets(8, 10, seed=14)
    g = jet_graphs(j, k=3)
    assert g.num_nodes == j.n_particles.sum() and torch.equal(g.y, torch.from_numpy(j.labels))
    mask = torch.from_numpy(j.mask)
    ei = fully_connected_edges(mask)
    n = j.n_particles.astype(np.int64)
    assert ei.shape[1] == int((n * (n - 1)).sum()) and not (ei[0] == ei[1]).any()
    assert torch.equal(g.batch[ei[0]], g.batch[ei[1]])


# ----------------------------------------------------------------------------- high-level features
def test_hlf_scaler_standardizes_and_round_trips(tmp_path: Path) -> None:
    j = make_jets(200, 5, seed=15)
    j.hlf[:, j.hlf_names.index("j_zlogz")] = 3.0  # a constant feature: std guarded
    scaler = HLFScaler.fit(j)
    z = scaler.transform(j)
    assert z.shape == (200, 16) and z.dtype == np.float32 and np.isfinite(z).all()
    assert np.allclose(z[:, 1:].mean(0), 0, atol=1e-5) and np.allclose(z[:, 1:].std(0), 1, atol=1e-4)
    assert not z[:, 0].any()
    scaler.save(tmp_path / "hlf.json")
    again = HLFScaler.load(tmp_path / "hlf.json")
    assert again.names == list(HLF16) and np.array_equal(again(j), z)
    assert np.array_equal(HLFScaler.from_dict(scaler.to_dict()).transform(j[:7]), z[:7])


def test_hlf_errors(tmp_path: Path) -> None:
    j = make_jets(5, 5)
    with pytest.raises(FormatError, match="j_nope"):
        hlf_matrix(j, ["j_zlogz", "j_nope"])
    with pytest.raises(FormatError, match="j_nope"):
        HLFScaler(["j_nope"], [0.0], [1.0]).transform(j)
    with pytest.raises(InputError, match="missing.json"):
        HLFScaler.load(tmp_path / "missing.json")
    assert np.array_equal(hlf_matrix(j, ["j_mass_mmdt"])[:, 0], j.feature("j_mass_mmdt"))


def test_registry() -> None:
    assert set(REPRESENTATIONS) == {"hlf", "image", "sequence", "cloud", "graph", "efp"}
    j = make_jets(4, 6)
    assert REPRESENTATIONS["image"](j, bins=8).shape == (4, 1, 8, 8)
