"""Shower files: CaloGAN and CaloChallenge HDF5 in their exact public layouts, read, written and refused.

The fixture writers below use h5py directly, from the layouts as published (CaloGAN's convert.py: ``energy``
(N, 1) GeV, ``layer_0`` (N, 3, 96), ``layer_1`` (N, 12, 12), ``layer_2`` (N, 12, 6), ``overflow`` (N, 3) MeV;
CaloChallenge: ``incident_energies`` (N, 1) MeV, ``showers`` (N, 6480) MeV, ``binning_dataset_2.xml``), not
from jetlab's writers.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from jetlab.errors import FormatError, JetlabError
from jetlab.io.readers import read_foreign, sniff
from jetlab.io.readers.calochallenge import binning_voxels
from jetlab.io.showers import SHOWER_SCHEME, Showers
from jetlab.io.showers_files import write_showers
from jetlab.io.source import open_source
from jetlab.physics.calorimeter import binning_xml, get_geometry

CALOGAN_LAYERS = {"layer_0": (3, 96), "layer_1": (12, 12), "layer_2": (12, 6)}


def _sparse(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return np.where(rng.random(shape) < 0.3, rng.exponential(50.0, shape), 0.0).astype(np.float32)


def write_calogan(path: Path, n: int = 7, seed: int = 0, **edit: np.ndarray) -> dict[str, np.ndarray]:
    """A CaloGAN file of ``n`` showers; ``edit`` replaces (or with an empty array drops) a dataset."""
    rng = np.random.default_rng(seed)
    arrays = {"energy": rng.uniform(1, 100, (n, 1)).astype(np.float32)}
    arrays |= {k: _sparse(rng, (n, *s)) for k, s in CALOGAN_LAYERS.items()}
    arrays |= {"overflow": _sparse(rng, (n, 3))} | edit
    with h5py.File(path, "w") as f:
        for k, v in arrays.items():
            if v.size or k not in edit:
                f.create_dataset(k, data=v, compression="gzip")
    return arrays


def write_challenge(path: Path, n: int = 5, width: int = 6480, seed: int = 0, xml: str | None = None,
                    **edit: np.ndarray) -> dict[str, np.ndarray]:
    """A CaloChallenge file of ``n`` showers of ``width`` voxels, and ``xml`` as binning_dataset_2.xml beside it."""
    rng = np.random.default_rng(seed)
    arrays = {"incident_energies": np.exp(rng.uniform(np.log(1e3), np.log(1e6), (n, 1))).astype(np.float32),
              "showers": _sparse(rng, (n, width))} | edit
    with h5py.File(path, "w") as f:
        for k, v in arrays.items():
            f.create_dataset(k, data=v)
    if xml is not None:
        (path.parent / "binning_dataset_2.xml").write_text(xml)
    return arrays


def dataset2_xml(n_layers: int = 45, n_r: int = 9, n_alpha: int = 16) -> str:
    """binning_dataset_2.xml as CaloChallenge ships it (pid 11, 45 layers, r edges 0..41.85 mm, 16 alpha bins)."""
    edges = ",".join(f"{4.65 * i:g}" for i in range(n_r + 1))
    layers = "".join(f'      <Layer id="{i}" r_edges="{edges}" n_bin_alpha="{n_alpha}" />\n' for i in range(n_layers))
    return f'<Bins>\n   <Bin pid="11" name="electron">\n{layers}   </Bin>\n</Bins>\n'


# ---------------------------------------------------------------- reading the public layouts
@pytest.mark.parametrize(("name", "label"), [("eplus.hdf5", 0), ("gamma.hdf5", 1), ("piplus.hdf5", 2),
                                             ("showers.hdf5", -1)])
def test_calogan_file_reads_exactly(tmp_path: Path, name: str, label: int) -> None:
    path = tmp_path / name
    a = write_calogan(path)
    assert sniff(path) == "calogan"
    s = read_foreign(path)
    assert isinstance(s, Showers) and s.geometry == "calogan" and len(s) == 7
    assert s.voxels.dtype == np.float32 and s.voxels.shape == (7, 504)
    np.testing.assert_array_equal(s.incident, a["energy"][:, 0])
    np.testing.assert_array_equal(s.voxels, np.hstack([a[k].reshape(7, -1) for k in CALOGAN_LAYERS]))
    np.testing.assert_array_equal(s.overflow, a["overflow"])
    for i, k in enumerate(CALOGAN_LAYERS):
        np.testing.assert_array_equal(s.layer(i), a[k])
        np.testing.assert_allclose(s.layer_energies()[:, i], a[k].sum(axis=(1, 2)), rtol=1e-5)
    assert (s.labels == label).all() and s.scheme == SHOWER_SCHEME


def test_calogan_particle_attribute_wins_over_the_name_and_rows_read_in_ranges(tmp_path: Path) -> None:
    path = tmp_path / "eplus.hdf5"
    a = write_calogan(path, n=9)
    with h5py.File(path, "r+") as f:
        f.attrs["particle"] = "gamma"
    src = open_source(path)
    assert len(src) == 9 and src.files[0].fmt == "calogan" and src.labels().tolist() == [1] * 9
    part = src.read(0, 2, 5)
    np.testing.assert_array_equal(part.incident, a["energy"][2:5, 0])
    np.testing.assert_array_equal(part.layer(1), a["layer_1"][2:5])


def test_calogan_without_overflow_reads(tmp_path: Path) -> None:
    write_calogan(tmp_path / "gamma.hdf5", overflow=np.zeros(0, np.float32))
    assert read_foreign(tmp_path / "gamma.hdf5").overflow.shape == (7, 0)


def test_calochallenge_file_reads_exactly_in_its_voxel_order(tmp_path: Path) -> None:
    path = tmp_path / "dataset_2_1.hdf5"
    a = write_challenge(path, xml=dataset2_xml())
    assert sniff(path) == "calochallenge"
    s = read_foreign(path)
    assert s.geometry == "challenge2" and s.voxels.shape == (5, 6480) and s.overflow.shape == (5, 0)
    np.testing.assert_array_equal(s.voxels, a["showers"])
    np.testing.assert_array_equal(s.incident, a["incident_energies"][:, 0] / np.float32(1e3))  # GeV
    assert s.meta["particle"] == "electron" and (s.labels == 0).all()  # dataset 2: electrons, class e+
    layer, alpha, r = 7, 3, 5  # XMLHandler order: r fastest, then alpha, then layer
    assert s.layer(layer)[:, alpha, r].tolist() == a["showers"][:, (layer * 16 + alpha) * 9 + r].tolist()
    np.testing.assert_allclose(s.layer_energies(), a["showers"].reshape(5, 45, 144).sum(-1), rtol=1e-5)


def test_a_directory_of_challenge_files_with_their_binning_opens(tmp_path: Path) -> None:
    a = write_challenge(tmp_path / "dataset_2_1.hdf5", xml=dataset2_xml())
    b = write_challenge(tmp_path / "dataset_2_2.hdf5", n=3, seed=1)
    s = open_source(tmp_path).load()
    assert isinstance(s, Showers) and len(s) == 8
    np.testing.assert_array_equal(s.voxels, np.vstack([a["showers"], b["showers"]]))


def test_jetlab_binning_file_is_the_published_one() -> None:
    ours = binning_xml(get_geometry("challenge2"))
    assert ours == dataset2_xml()


# ---------------------------------------------------------------- writers
def test_writers_round_trip_both_layouts(tmp_path: Path) -> None:
    a = write_calogan(tmp_path / "eplus.hdf5")
    (tmp_path / "in").mkdir()
    write_challenge(tmp_path / "in" / "x.hdf5")
    for src, fmt in ((tmp_path / "eplus.hdf5", "calogan"), (tmp_path / "in" / "x.hdf5", "calochallenge")):
        s = read_foreign(src)
        out = tmp_path / "out" / fmt / "copy.h5"
        out.parent.mkdir(parents=True)
        written = write_showers(out, s)
        assert sniff(out) == fmt and not list(out.parent.glob("*.tmp"))
        back = read_foreign(out)
        np.testing.assert_array_equal(back.voxels, s.voxels)
        np.testing.assert_array_equal(back.overflow, s.overflow)
        np.testing.assert_allclose(back.incident, s.incident, rtol=2.4e-7)  # GeV <-> MeV: one float32 ulp
        assert back.labels.tolist() == s.labels.tolist() and back.geometry == s.geometry
        with h5py.File(src) as f, h5py.File(out) as g:
            assert set(f) == set(g) and all(f[k].shape == g[k].shape and g[k].dtype == np.float32 for k in f)
        if fmt == "calogan":
            with h5py.File(out) as g:
                assert all(np.array_equal(g[k][()], a[k]) for k in a)
        else:
            assert [p.name for p in written] == ["copy.h5", "binning_dataset_2.xml"]
            assert binning_voxels(out.parent / "binning_dataset_2.xml") == 6480


def test_showers_select_join_and_views(tmp_path: Path) -> None:
    write_calogan(tmp_path / "eplus.hdf5", n=6)
    s = read_foreign(tmp_path / "eplus.hdf5")
    assert np.shares_memory(s.layer(2), s.voxels) and s.layer(2).shape == (6, 12, 6)
    mask = s.incident > np.median(s.incident)
    assert len(s[mask]) == int(mask.sum()) and len(s[[0, 2]]) == 2 and len(s[1]) == 1
    joined = Showers.concatenate([s[:2], s[2:]])
    np.testing.assert_array_equal(joined.voxels, s.voxels)
    np.testing.assert_array_equal(joined.overflow, s.overflow)
    other = Showers(np.zeros((1, 6480), np.float32), np.ones(1, np.float32), np.zeros(1, np.int64), "challenge2")
    with pytest.raises(FormatError, match="geometries"):
        Showers.concatenate([s, other])
    assert s.counts() == {"e+": 6}


# ---------------------------------------------------------------- bad input: one line naming the file
def _one_line_error(path: Path, match: str) -> None:
    with pytest.raises(JetlabError) as info:
        read_foreign(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message and match in message, message


N = 7


@pytest.mark.parametrize(("edit", "match"), [
    ({"energy": np.full((N, 1), np.nan, np.float32)}, "NaN"),
    ({"energy": np.array([[5.0]] * (N - 1) + [[0.0]], np.float32)}, "incident energies ≤ 0"),
    ({"energy": np.array([[-3.0]] * N, np.float32)}, "incident energies ≤ 0"),
    ({"layer_1": np.full((N, 12, 12), np.nan, np.float32)}, "NaN"),
    ({"layer_0": -np.ones((N, 3, 96), np.float32)}, "negative"),
    ({"overflow": -np.ones((N, 3), np.float32)}, "negative"),
    ({"layer_1": np.zeros((N, 12, 11), np.float32)}, "CaloGAN's is (N, 12, 12)"),
    ({"layer_2": np.zeros((N - 1, 12, 6), np.float32)}, "differ in jet count"),
    ({"energy": np.zeros((N, 2), np.float32)}, "shape (N, 1)"),
])
def test_bad_calogan_files(tmp_path: Path, edit: dict[str, np.ndarray], match: str) -> None:
    path = tmp_path / "eplus.hdf5"
    write_calogan(path, n=N, **edit)
    _one_line_error(path, match)


@pytest.mark.parametrize(("edit", "match"), [
    ({"incident_energies": np.full((5, 1), np.nan, np.float32)}, "NaN"),
    ({"incident_energies": np.zeros((5, 1), np.float32)}, "incident energies ≤ 0"),
    ({"showers": np.full((5, 6480), -1.0, np.float32)}, "negative"),
    ({"showers": np.full((5, 6480), np.nan, np.float32)}, "NaN"),
    ({"showers": np.zeros((5, 6000), np.float32)}, "6000 voxels match no CaloChallenge geometry"),
    ({"showers": np.zeros((5, 368), np.float32)}, "dataset 1 (photons), a geometry jetlab does not support"),
    ({"showers": np.zeros((5, 533), np.float32)}, "dataset 1 (pions), a geometry jetlab does not support"),
    ({"showers": np.zeros((5, 40500), np.float32)}, "dataset 3, a geometry jetlab does not support"),
    ({"incident_energies": np.ones((4, 1), np.float32)}, "differ in jet count"),
])
def test_bad_calochallenge_files(tmp_path: Path, edit: dict[str, np.ndarray], match: str) -> None:
    path = tmp_path / "dataset_2_1.hdf5"
    write_challenge(path, **edit)
    _one_line_error(path, match)


@pytest.mark.parametrize(("xml", "match"), [
    (dataset2_xml(n_layers=44), "describes 6336"),
    (dataset2_xml(n_alpha=10), "describes 4050"),
    ("<Bins><Bin", "not a CaloChallenge binning file"),
])
def test_binning_file_that_does_not_match_the_width(tmp_path: Path, xml: str, match: str) -> None:
    path = tmp_path / "dataset_2_1.hdf5"
    write_challenge(path, xml=xml)
    with pytest.raises(FormatError) as info:
        read_foreign(path)
    assert "\n" not in str(info.value) and match in str(info.value) and "binning" in str(info.value)


def test_writer_refuses_bad_showers_and_writes_nothing(tmp_path: Path) -> None:
    bad = Showers(np.full((2, 6480), -1.0, np.float32), np.ones(2, np.float32), np.zeros(2, np.int64), "challenge2")
    with pytest.raises(FormatError, match="negative"):
        write_showers(tmp_path / "x.h5", bad)
    short = Showers(np.zeros((2, 100), np.float32), np.ones(2, np.float32), np.zeros(2, np.int64), "calogan")
    with pytest.raises(FormatError, match="do not match geometry 'calogan'"):
        write_showers(tmp_path / "y.h5", short)
    assert list(tmp_path.iterdir()) == []
