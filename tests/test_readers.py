"""Readers of public jet datasets, on tiny files in each exact layout (tests/foreign.py)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jetlab.errors import FormatError, InputError, JetlabError, UsageError
from jetlab.io.readers import formats, read_foreign, sniff
from jetlab.schema import HLS4ML_JET_FEATURES, KINEMATIC_FEATURES
from tests.foreign import WRITERS, write_hls4ml, write_jetnet, write_qg, write_toptag
from tests.foreign_root import ROOT_WRITERS

FORMATS = tuple(WRITERS)  # the HDF5 / npz layouts; ROOT and columnar files: test_jetclass.py, test_columnar.py


def test_every_registered_reader_has_a_test_file_writer() -> None:
    others = {"calogan", "calochallenge", "dqm"}  # tests/test_showers_io.py and tests/test_dqm.py write these
    assert set(formats()) == set(WRITERS) | set(ROOT_WRITERS) | others


@pytest.fixture(params=FORMATS)
def written(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path, dict[str, np.ndarray]]:
    writer, name = WRITERS[request.param]
    path = tmp_path / name
    return request.param, path, writer(path)


def _edit(path: Path, key: str, data: np.ndarray | None = None, **kwargs: object) -> None:
    """Replace (or with data=None and no kwargs, delete) dataset ``key`` of an HDF5 file."""
    with h5py.File(path, "r+") as f:
        del f[key]
        if data is not None or kwargs:
            f.create_dataset(key, data=data, **kwargs)


# ------------------------------------------------------------------------------------------ contract
def test_sniff_recognises_each_layout(written: tuple[str, Path, dict[str, np.ndarray]], tmp_path: Path) -> None:
    fmt, path, _ = written
    assert sniff(path) == fmt
    renamed = path.rename(tmp_path / "no_extension")  # content, not the extension, decides
    assert sniff(renamed) == fmt


def test_reader_contract(written: tuple[str, Path, dict[str, np.ndarray]]) -> None:
    fmt, path, truth = written
    jets = read_foreign(path)
    n, p = truth["pt"].shape
    assert jets.constituents.shape[:2] == (n, p) and jets.constituents.dtype == np.float32
    assert jets.particle_names[:7] == list(KINEMATIC_FEATURES)
    assert jets.meta["format"] == fmt and jets.meta["path"] == str(path)
    np.testing.assert_array_equal(jets.n_particles, truth["counts"])
    assert jets.hlf.shape == (n, len(jets.hlf_names))
    pt = jets.particle("pt")
    assert (np.diff(pt, axis=1) <= 0).all(), "pT-ordered, descending"
    assert (jets.constituents[~jets.mask] == 0).all(), "padding is exactly zero"
    assert (pt[jets.mask] > 0).all()
    np.testing.assert_allclose(np.sort(pt, 1), np.sort(truth["pt"], 1), rtol=1e-4, atol=1e-4)


def test_reader_kinematics(written: tuple[str, Path, dict[str, np.ndarray]]) -> None:
    fmt, path, truth = written
    jets = read_foreign(path)
    px, py, pz, e, pt = (jets.particle(k).astype(np.float64) for k in ("px", "py", "pz", "E", "pt"))
    np.testing.assert_allclose(np.hypot(px, py), pt, rtol=1e-5, atol=1e-4)
    assert (e * e - px * px - py * py - pz * pz >= -1e-3 * e * e - 1e-6).all(), "E^2 - p^2 >= 0"
    sx, sy = px.sum(1), py.sum(1)
    np.testing.assert_allclose(jets.jet[:, 0], np.hypot(sx, sy), rtol=1e-4)
    if "jet" in truth:
        np.testing.assert_allclose(jets.jet[:, [0, 1, 3]], truth["jet"][:, [0, 1, 3]], rtol=1e-3, atol=1e-3)


def test_reader_labels(written: tuple[str, Path, dict[str, np.ndarray]]) -> None:
    fmt, path, truth = written
    jets = read_foreign(path)
    expected = truth["labels"] if "labels" in truth else np.full(len(jets), 2)  # jetnet: t.hdf5, scheme g,q,t,w,z
    np.testing.assert_array_equal(jets.labels, expected)
    assert jets.labels.dtype == np.int64


def test_start_stop_reads_a_slice(written: tuple[str, Path, dict[str, np.ndarray]]) -> None:
    _, path, _ = written
    full, part = read_foreign(path), read_foreign(path, start=2, stop=5)
    assert len(part) == 3
    np.testing.assert_array_equal(part.constituents, full.constituents[2:5])
    np.testing.assert_array_equal(part.labels, full.labels[2:5])


# ------------------------------------------------------------------------------------------ per format
def test_hls4ml_features_and_pdgid(tmp_path: Path) -> None:
    truth = write_hls4ml(tmp_path / "a.h5", pdgid_name=True)  # 17 names, 16 columns: name ignored
    jets = read_foreign(tmp_path / "a.h5")
    assert jets.particle_names == list(KINEMATIC_FEATURES)
    assert jets.hlf_names == list(HLS4ML_JET_FEATURES[:-6])
    np.testing.assert_allclose(jets.hlf, truth["table"][:, :-6], rtol=1e-6)
    write_hls4ml(tmp_path / "b.h5", pdgid_column=True)
    jets = read_foreign(tmp_path / "b.h5")
    assert jets.particle_names[-2:] == ["charge", "pdgid"]
    np.testing.assert_array_equal(jets.particle("charge"), np.sign(jets.particle("pdgid")))


def test_toptag_split_blocks_match(tmp_path: Path) -> None:
    write_toptag(tmp_path / "one.h5", seed=3)
    write_toptag(tmp_path / "two.h5", seed=3, split_blocks=True)
    one, two = read_foreign(tmp_path / "one.h5"), read_foreign(tmp_path / "two.h5")
    np.testing.assert_array_equal(one.constituents, two.constituents)
    np.testing.assert_array_equal(one.labels, two.labels)
    assert one.scheme.classes == ("qcd", "top")


def test_qg_masses_rapidity_and_charge(tmp_path: Path) -> None:
    truth = write_qg(tmp_path / "QG_jets.npz")
    jets = read_foreign(tmp_path / "QG_jets.npz")
    order = np.argsort(-truth["pt"], axis=1, kind="stable")
    rap, pid = (np.take_along_axis(truth[k], order, 1) for k in ("rapidity", "pid"))
    mask = jets.mask
    e, pz = jets.particle("E").astype(np.float64), jets.particle("pz").astype(np.float64)
    y = 0.5 * np.log(np.where(mask, e + pz, 1.0) / np.where(mask, e - pz, 1.0))
    np.testing.assert_allclose(y[mask], rap[mask], atol=2e-3)
    np.testing.assert_array_equal(jets.particle("pdgid"), pid)
    charge = np.select([np.isin(pid, [211, 321, 2212, -11, -13]), np.isin(pid, [-211, -321, -2212, 11, 13])],
                       [1.0, -1.0], 0.0)  # fmt: skip
    np.testing.assert_array_equal(jets.particle("charge"), charge)


def test_qg_four_vector_of_a_soft_pion(tmp_path: Path) -> None:
    x = np.array([[[1.0, 0.1, 6.0, 22], [0.5, 0.3, 6.2, -211], [0, 0, 0, 0]]])  # pt, y, phi (0..2pi), pid
    np.savez(tmp_path / "one.npz", X=x, y=np.array([1.0]))
    jets = read_foreign(tmp_path / "one.npz")
    mt = np.hypot(0.5, 0.13957)
    expected = [0.5 * np.cos(6.2), 0.5 * np.sin(6.2), mt * np.sinh(0.3), mt * np.cosh(0.3), 0.5, 0, 6.2 - 2 * np.pi]
    expected[5] = np.arcsinh(expected[2] / 0.5)
    np.testing.assert_allclose(jets.constituents[0, 1, :7], expected, rtol=1e-6, atol=1e-6)
    assert jets.particle("charge")[0, :2].tolist() == [0.0, -1.0] and jets.labels.tolist() == [0]  # q of (q, g)


# scheme jetnet: g, q, t, w, z
@pytest.mark.parametrize(("name", "label"), [("g.hdf5", 0), ("q150.hdf5", 1), ("z.hdf5", 4), ("jets.hdf5", -1)])
def test_jetnet_class_from_file_name(tmp_path: Path, name: str, label: int) -> None:
    write_jetnet(tmp_path / name)
    jets = read_foreign(tmp_path / name)
    assert (jets.labels == label).all()
    assert (jets.jet[:, 2] == 0).all() and jets.hlf_names == ["j_pt", "j_eta", "j_mass", "j_multiplicity"]


# ------------------------------------------------------------------------------------------ bad input
def _hls4ml(tmp_path: Path) -> Path:
    path = tmp_path / "jetImage_0_20p_0_10.h5"
    write_hls4ml(path)
    return path


def _npz_with_header(path: Path, shape: tuple[int, ...]) -> None:
    """An npz whose X.npy declares ``shape`` but stores 64 bytes."""
    with zipfile.ZipFile(path, "w") as z:
        with z.open("X.npy", "w") as fh:
            np.lib.format.write_array_header_1_0(fh, {"descr": "<f8", "fortran_order": False, "shape": shape})
            fh.write(b"\0" * 64)
        with z.open("y.npy", "w") as fh:
            np.save(fh, np.zeros(shape[0] if shape[0] < 100 else 1))


BAD = {
    "missing": (InputError, lambda d: d / "nope.h5"),
    "directory": (InputError, lambda d: d),
    "empty": (InputError, lambda d: _file(d / "e.h5", b"")),
    "text": (FormatError, lambda d: _file(d / "t.h5", b"pt,eta\n1,2\n")),
    "truncated_hdf5": (InputError, lambda d: _truncate(_hls4ml(d), 0.5)),
    "truncated_npz": (InputError, lambda d: _truncate((write_qg(d / "q.npz"), d / "q.npz")[1], 0.7)),
    "58_columns": (FormatError, lambda d: _mod(_hls4ml(d), "jets", np.zeros((10, 58), np.float32))),
    "nan": (FormatError, lambda d: _mod(_hls4ml(d), "jetConstituentList", np.full((10, 20, 16), np.nan))),
    "not_one_hot": (FormatError, lambda d: _mod(_hls4ml(d), "jets", np.ones((10, 59), np.float32))),
    "string_dtype": (FormatError, lambda d: _mod(_hls4ml(d), "jets", np.array([[b"x"] * 59] * 10))),
    "rows_differ": (FormatError, lambda d: _mod(_hls4ml(d), "jets", np.zeros((9, 59), np.float32))),
    "huge_hdf5": (FormatError, lambda d: _huge(_hls4ml(d), "jets", "jetConstituentList")),
    "huge_npz": (FormatError, lambda d: (_npz_with_header(d / "h.npz", (10**9, 30, 4)), d / "h.npz")[1]),
    "missing_key": (FormatError, lambda d: _mod(_hls4ml(d), "particleFeatureNames", None)),
    "jetnet_3_features": (FormatError, lambda d: _mod((write_jetnet(d / "g.hdf5"), d / "g.hdf5")[1],
                                                      "particle_features", np.ones((10, 30, 3), "f4"))),  # fmt: skip
}


def _file(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def _truncate(path: Path, keep: float) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def _huge(path: Path, *keys: str) -> Path:
    """Replace datasets ``keys`` by ones declaring 10^9 jets that store nothing."""
    with h5py.File(path, "r+") as f:
        for key in keys:
            shape, dtype = f[key].shape[1:], f[key].dtype
            del f[key]
            f.create_dataset(key, shape=(10**9, *shape), dtype=dtype, chunks=(1, *shape))
    return path


def _mod(path: Path, key: str, data: np.ndarray | None, **kwargs: object) -> Path:
    _edit(path, key, data, **kwargs)
    return path


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_raises_one_line_jetlab_error(tmp_path: Path, case: str) -> None:
    error, make = BAD[case]
    path = make(tmp_path)
    with pytest.raises(error) as info:
        read_foreign(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    if case.startswith("huge"):
        assert "declares" in message


def test_bad_explicit_formats(tmp_path: Path) -> None:
    path = _hls4ml(tmp_path)
    with pytest.raises(UsageError, match="unknown foreign format"):
        read_foreign(path, "root")
    with pytest.raises(FormatError, match="particle_features"):
        read_foreign(path, "jetnet")
    with pytest.raises(FormatError, match="table"):
        read_foreign(path, "toptag")
    with pytest.raises(InputError, match="npz"):
        read_foreign(path, "qg")


def test_bad_labels_and_ids(tmp_path: Path) -> None:
    write_toptag(tmp_path / "t.h5", m=5)
    with h5py.File(tmp_path / "t.h5", "r+") as f:
        f["table/block0_values"][0, -1] = 2.0
    with pytest.raises(FormatError, match="is_signal_new"):
        read_foreign(tmp_path / "t.h5")
    write_qg(tmp_path / "q.npz")
    with np.load(tmp_path / "q.npz") as z:
        x, y = z["X"], z["y"]
    x[0, 0, 3] = 99.0
    np.savez(tmp_path / "q.npz", X=x, y=y)
    with pytest.raises(FormatError, match="unknown PDG ids"):
        read_foreign(tmp_path / "q.npz")


# ------------------------------------------------------------------------------------------ fuzzing
_PRISTINE: dict[str, bytes] = {}
MUTATIONS = ("truncate", "flip", "nan", "reshape", "retype", "delete", "huge", "garbage")


def _pristine(fmt: str, factory: pytest.TempPathFactory) -> bytes:
    if fmt not in _PRISTINE:
        writer, name = WRITERS[fmt]
        directory = factory.mktemp("pristine")
        writer(directory / name, n=6, **({"m": 8} if fmt in ("toptag", "qg") else {}))
        _PRISTINE[fmt] = (directory / name).read_bytes()
    return _PRISTINE[fmt]


def _arrays(path: Path, fmt: str) -> dict[str, np.ndarray]:
    if fmt == "qg":
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    with h5py.File(path, "r") as f:
        out: dict[str, np.ndarray] = {}
        f.visititems(lambda name, obj: out.update({name: obj[()]}) if isinstance(obj, h5py.Dataset) else None)
        return out


def _save(path: Path, fmt: str, arrays: dict[str, np.ndarray]) -> None:
    if fmt == "qg":
        np.savez(path, **arrays)
        return
    with h5py.File(path, "w") as f:
        for k, v in arrays.items():
            f[k] = v


def _mutate(path: Path, fmt: str, mutation: str, data: st.DataObject) -> None:
    raw = path.read_bytes()
    if mutation == "truncate":
        path.write_bytes(raw[: data.draw(st.integers(0, len(raw) - 1))])
        return
    if mutation == "garbage":
        head = data.draw(st.sampled_from([b"", b"\x89HDF\r\n\x1a\n", b"PK\x03\x04"]))
        path.write_bytes(head + data.draw(st.binary(min_size=0, max_size=2000)))
        return
    if mutation == "flip":
        _flip(path, fmt, raw, data)
        return
    arrays = _arrays(path, fmt)
    key = data.draw(st.sampled_from(sorted(arrays)))
    a = arrays[key]
    if mutation == "delete":
        del arrays[key]
    elif mutation == "nan" and a.dtype.kind == "f" and a.size:
        a = a.copy()
        a.flat[data.draw(st.integers(0, a.size - 1))] = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        arrays[key] = a
    elif mutation == "reshape" and a.ndim:
        arrays[key] = data.draw(st.sampled_from([a[..., :-1], a[:-1], a[..., None], a.reshape(-1), a.T]))
    elif mutation == "retype":
        arrays[key] = np.full(a.shape, b"x")
    if mutation == "huge" and fmt != "qg" and a.ndim:
        _save(path, fmt, {k: v for k, v in arrays.items() if k != key})
        with h5py.File(path, "r+") as f:
            f.create_dataset(key, shape=(10**9, *a.shape[1:]), dtype=a.dtype, chunks=(1, *a.shape[1:]))
        return
    _save(path, fmt, arrays)


def _flip(path: Path, fmt: str, raw: bytes, data: st.DataObject) -> None:
    """XOR random bytes: anywhere in an npz (CRC-checked), inside raw dataset storage in HDF5."""
    lo, hi = 0, len(raw)
    if fmt != "qg":
        with h5py.File(path, "r") as f:
            spans: list[tuple[int, int]] = []
            f.visititems(lambda _, o: spans.append((o.id.get_offset(), o.id.get_storage_size()))
                         if isinstance(o, h5py.Dataset) and o.id.get_offset() else None)  # fmt: skip
        lo, size = data.draw(st.sampled_from(spans))
        hi = lo + size
    buf = bytearray(raw)
    for at in data.draw(st.lists(st.integers(lo, hi - 1), min_size=1, max_size=8)):
        buf[at] ^= data.draw(st.integers(1, 255))
    path.write_bytes(bytes(buf))


@settings(max_examples=30, deadline=None, derandomize=os.environ.get("JETLAB_FUZZ_RANDOM", "") != "1")
@given(fmt=st.sampled_from(FORMATS), mutation=st.sampled_from(MUTATIONS), explicit=st.booleans(), data=st.data())
def test_corrupt_files_raise_only_jetlab_errors(
    tmp_path_factory: pytest.TempPathFactory, fmt: str, mutation: str, explicit: bool, data: st.DataObject
) -> None:
    directory = tmp_path_factory.mktemp(fmt)
    path = directory / WRITERS[fmt][1]
    path.write_bytes(_pristine(fmt, tmp_path_factory))
    _mutate(path, fmt, mutation, data)
    try:
        jets = read_foreign(path, fmt if explicit else None)
    except JetlabError as e:
        assert str(e) and "\n" not in str(e)
    else:
        jets.validate("fuzzed")
