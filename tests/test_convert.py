"""hls4ml converter: layout, particle features, round trip through the hls4ml reader."""

from __future__ import annotations

import sys
import types
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest

from jetlab.errors import UsageError
from jetlab.export.hls4ml import hls4ml_constituents, principal_rotation, to_hls4ml
from jetlab.io.jets import Jets
from jetlab.io.readers import read_foreign, sniff
from jetlab.schema import HLS4ML_JET_FEATURES, HLS4ML_PARTICLE_FEATURES, KINEMATIC_FEATURES
from tests.conftest import make_jets

FEATURES = HLS4ML_JET_FEATURES[:-6]


def _fake_jet_features(jets: Jets) -> tuple[np.ndarray, list[str]]:
    names = list(FEATURES[::-1]) + ["j_extra"]  # another order and an extra column: selection by name
    values = np.arange(len(names), dtype=np.float32)[None, :] + np.arange(len(jets))[:, None]
    return values, names


def _fake_jet_images(jets: Jets, bins: int, extent: float, **options: bool) -> np.ndarray:
    """(N, 1, bins, bins) pT-weighted histogram of (deta, dphi) about the jet axis."""
    deta = jets.particle("eta") - jets.jet[:, 1:2]
    dphi = (jets.particle("phi") - jets.jet[:, 2:3] + np.pi) % (2 * np.pi) - np.pi
    ix, iy = (np.clip(((a + extent) / (2 * extent) * bins).astype(int), 0, bins - 1) for a in (deta, dphi))
    image = np.zeros((len(jets), bins, bins), np.float32)
    rows = np.broadcast_to(np.arange(len(jets))[:, None], ix.shape)
    np.add.at(image, (rows, ix, iy), np.where(jets.mask, jets.particle("pt"), 0.0))
    return image[:, None]


@pytest.fixture
def fake_helpers(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Stand-ins for jetlab.physics.features / jetlab.represent.image, counting calls."""
    calls = {"features": 0}

    def jet_features(jets: Jets) -> tuple[np.ndarray, list[str]]:
        calls["features"] += 1
        return _fake_jet_features(jets)

    for name, attr, fn in (("jetlab.physics.features", "jet_features", jet_features),
                           ("jetlab.represent.image", "jet_images", _fake_jet_images)):  # fmt: skip
        module = types.ModuleType(name)
        setattr(module, attr, fn)
        monkeypatch.setitem(sys.modules, name, module)
    return calls


def _jets(n: int = 25, p: int = 30) -> Jets:
    jets = make_jets(n=n, max_particles=p, seed=7)
    jets.labels[::6] = -1
    return jets


def test_layout(fake_helpers: dict[str, int], tmp_path: Path) -> None:
    jets = _jets()
    paths = to_hls4ml(jets, tmp_path / "out", n_particles=40, image_bins=16, jets_per_file=10)
    assert [p.name for p in paths] == [f"jetImage_0_40p_{a}_{b}.h5" for a, b in ((0, 10), (10, 20), (20, 25))]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in paths), "no .tmp left"
    assert fake_helpers["features"] == 0, "jets.hlf has the 53 columns"
    with h5py.File(paths[0], "r") as f:
        table, cons, image = f["jets"][()], f["jetConstituentList"][()], f["jetImage"][()]
        assert [s.decode() for s in f["jetFeatureNames"][()]] == list(HLS4ML_JET_FEATURES)
        assert [s.decode() for s in f["particleFeatureNames"][()]] == list(HLS4ML_PARTICLE_FEATURES)
    assert table.shape == (10, 59) and table.dtype == np.float32
    assert cons.shape == (10, 40, 16) and cons.dtype == np.float32
    assert image.shape == (10, 16, 16) and image.dtype == np.float32
    np.testing.assert_array_equal(table[:, -6:].sum(1), 1.0)
    np.testing.assert_array_equal(table[:, -1] == 1, jets.labels[:10] == -1)
    padding = np.arange(40)[None, :] >= jets.n_particles[:10, None]
    assert (cons[padding] == 0).all() and (cons[~padding][:, 3] > 0).all()
    assert sniff(paths[0]) == "hls4ml"


def test_round_trip(fake_helpers: dict[str, int], tmp_path: Path) -> None:
    jets = _jets()
    back = Jets.concatenate([read_foreign(p) for p in to_hls4ml(jets, tmp_path, n_particles=40, jets_per_file=10)])
    kin = [jets.particle_names.index(k) for k in KINEMATIC_FEATURES]
    assert back.particle_names == list(KINEMATIC_FEATURES)
    np.testing.assert_array_equal(back.n_particles, jets.n_particles)
    np.testing.assert_array_equal(back.labels, jets.labels)
    np.testing.assert_allclose(back.constituents[:, :30], jets.constituents[..., kin], rtol=1e-6, atol=1e-6)
    assert (back.constituents[:, 30:] == 0).all()
    np.testing.assert_allclose(back.jet, jets.jet, rtol=1e-5, atol=1e-5)
    expected = jets.hlf[:, [jets.hlf_names.index(n) for n in FEATURES]]
    for k, name in ((0, "j_pt"), (1, "j_eta"), (3, "j_mass")):
        expected[:, FEATURES.index(name)] = jets.jet[:, k]
    np.testing.assert_array_equal(back.hlf, expected)
    assert back.hlf_names == list(FEATURES)


def test_truncation_keeps_leading_particles(fake_helpers: dict[str, int], tmp_path: Path) -> None:
    jets = _jets()
    (path,) = to_hls4ml(jets, tmp_path, n_particles=5, image_bins=8)
    back = read_foreign(path)
    np.testing.assert_array_equal(back.n_particles, np.minimum(jets.n_particles, 5))
    np.testing.assert_allclose(back.particle("pt"), jets.particle("pt")[:, :5], rtol=1e-6)


def test_jet_features_used_without_hlf(fake_helpers: dict[str, int], tmp_path: Path) -> None:
    jets = _jets()
    jets = replace(jets, hlf=np.zeros((len(jets), 0), np.float32), hlf_names=[])
    (path,) = to_hls4ml(jets, tmp_path, n_particles=10, image_bins=8)
    assert fake_helpers["features"] == 1
    back = read_foreign(path)
    values, names = _fake_jet_features(jets)
    col = FEATURES.index("j_zlogz")
    np.testing.assert_array_equal(back.feature("j_zlogz"), values[:, names.index("j_zlogz")])
    assert col == back.hlf_names.index("j_zlogz")


def test_particle_features_physics() -> None:
    jets = _jets(n=40)
    cons = hls4ml_constituents(jets, 30).astype(np.float64)  # (N, 30, 16)
    f = {name[3:]: cons[..., i] for i, name in enumerate(HLS4ML_PARTICLE_FEATURES)}
    mask = jets.mask
    np.testing.assert_allclose(f["erel"].sum(1), 1.0, rtol=1e-4)  # jet = sum of all particles
    np.testing.assert_allclose(f["ptrel"], f["pt"] / jets.jet[:, :1] * mask, rtol=1e-5)
    np.testing.assert_allclose(f["deltaR"], np.hypot(f["etarel"], f["phirel"]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(f["deltaR"], np.hypot(f["etarot"], f["phirot"]), rtol=1e-4, atol=1e-5)
    assert (np.abs(f["phirel"]) <= np.pi).all() and (np.abs(f["costheta"]) <= 1).all()
    assert (f["costhetarel"][mask] <= 1 + 1e-6).all() and (f["costhetarel"][mask] > 0.5).all()
    w = f["pt"] / f["pt"].sum(1, keepdims=True)
    c_ee, c_pp, c_ep = ((w * a * b).sum(1) for a, b in ((f["etarot"],) * 2, (f["phirot"],) * 2,
                                                       (f["etarot"], f["phirot"])))  # fmt: skip
    np.testing.assert_allclose(c_ep, 0.0, atol=1e-6)
    assert (c_ee >= c_pp - 1e-9).all(), "principal axis along eta"


def test_principal_rotation_of_a_line() -> None:
    t = np.linspace(-0.3, 0.3, 7)[None, :]  # particles on the line dphi = deta (45 degrees)
    etarot, phirot = principal_rotation(t, t, np.ones_like(t))
    np.testing.assert_allclose(phirot, 0.0, atol=1e-12)
    np.testing.assert_allclose(np.abs(etarot), np.sqrt(2) * np.abs(t))


def test_failed_write_leaves_nothing(fake_helpers: dict[str, int], tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(jets: Jets, bins: int, extent: float, **options: bool) -> np.ndarray:
        raise RuntimeError("image failed")

    monkeypatch.setattr(sys.modules["jetlab.represent.image"], "jet_images", broken)
    with pytest.raises(RuntimeError):
        to_hls4ml(_jets(), tmp_path, n_particles=10)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"n_particles": 0}, "n_particles"), ({"n_particles": -3}, "n_particles"), ({"image_bins": 0}, "image_bins"),
     ({"jets_per_file": 0}, "jets_per_file"), ({"jets": "empty"}, "no jets"), ({"out_dir": "file"}, "not a dir")],
)  # fmt: skip
def test_bad_arguments(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    (tmp_path / "file").write_text("x")
    args: dict[str, object] = {"jets": _jets(), "out_dir": tmp_path / "out", **kwargs}
    args["jets"] = Jets.empty(10) if args["jets"] == "empty" else args["jets"]
    args["out_dir"] = tmp_path / "file" if args["out_dir"] == "file" else args["out_dir"]
    with pytest.raises(UsageError, match=message):
        to_hls4ml(**args)  # type: ignore[arg-type]


def test_round_trip_with_real_helpers(tmp_path: Path) -> None:
    """Uses jetlab.physics.features.jet_features and jetlab.represent.image.jet_images themselves."""
    jets = _jets(n=12)
    jets = replace(jets, hlf=np.zeros((len(jets), 0), np.float32), hlf_names=[])
    (path,) = to_hls4ml(jets, tmp_path, n_particles=40, image_bins=20)
    back = read_foreign(path)
    np.testing.assert_array_equal(back.n_particles, jets.n_particles)
    np.testing.assert_allclose(back.jet, jets.jet, rtol=1e-5, atol=1e-5)
    assert back.hlf_names == list(FEATURES) and np.isfinite(back.hlf).all()
    with h5py.File(path, "r") as f:
        image = f["jetImage"][()]
    assert image.shape == (12, 20, 20) and (image.sum((1, 2)) > 0).all()
    scalar_pt = np.where(jets.mask, jets.particle("pt"), 0).sum(1)
    assert (image.sum((1, 2)) <= scalar_pt * (1 + 1e-5)).all(), "pixels hold pT in GeV"
