"""Hostile and broken inputs through ``jetlab info`` for every reader: fuzzed, then hand-written.

Contract: a valid input gives exit 0 with a JSON summary; an invalid one gives exit 2 with exactly one
``jetlab: error: ...`` line on stderr; never a traceback, never a hang (every call runs under a
20 s alarm). Which fuzzed inputs are valid is decided by tests/fuzz_oracle.py, an independent judge
of the layouts (h5py / numpy / json, no jetlab reader), so an accepted input is one the judge calls
valid and a refused one is one it calls invalid: never "either". Counts are stated in
docs/reliability.md: EXAMPLES hypothesis examples per reader, len(CASES) hand-written cases, four of
them again in a fresh interpreter, plus ``jetlab train`` on a broken dataset and ``jetlab evaluate``
on a truncated checkpoint.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import jetlab.report.summary  # noqa: F401 - imported once here, not inside the first timed example
from jetlab.cli import main
from jetlab.io.format import write_shard
from tests.conftest import make_jets, write_dataset
from tests.foreign import write_hls4ml, write_jetnet, write_qg, write_toptag
from tests.fuzz_oracle import invalid

READERS = ("jetlab-shard", "jetlab-dir", "hls4ml", "toptag", "qg", "jetnet")
# Hypothesis examples per reader: 6 x 50 = 300 fuzzed inputs. The draw is derandomized (the same
# 300 inputs every run) so CI never turns red on a new draw; JETLAB_FUZZ_EXAMPLES=2000
# JETLAB_FUZZ_RANDOM=1 pytest tests/test_fuzz_inputs.py explores fresh random inputs (docs/reliability.md).
EXAMPLES = int(os.environ.get("JETLAB_FUZZ_EXAMPLES", "50"))
DERANDOMIZE = os.environ.get("JETLAB_FUZZ_RANDOM", "") != "1"
N_DIR = 9  # jets in the pristine jetlab directory (3 shards of 3)
NAMES = {"jetlab-shard": "w_0000.h5", "hls4ml": "jetImage_7_100p_0_10000.h5", "toptag": "train.h5",
         "qg": "QG_jets.npz", "jetnet": "t.hdf5"}


class Hang(BaseException):
    """Raised by the alarm: not an OSError/JetlabError, so the CLI cannot turn it into an error line."""


@contextlib.contextmanager
def alarm(seconds: float) -> Iterator[None]:
    def ring(signum: int, frame: object) -> None:
        raise Hang(f"no answer in {seconds} s")

    old = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def info(path: Path) -> tuple[int, str, str]:
    """``jetlab info PATH --json`` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), alarm(20):
        try:
            code = main(["info", str(path), "--json"])
        except SystemExit as e:
            code = int(e.code or 0)
    return code, out.getvalue(), err.getvalue()


def check(code: int, out: str, err: str) -> dict | str:
    """The CLI contract; returns the summary (exit 0) or the error line (exit 2)."""
    assert "Traceback" not in err, err
    if code == 0:
        assert err == "", err
        return json.loads(out)
    lines = err.splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("jetlab: error: "), (code, err)
    return lines[0]


# ------------------------------------------------------------------------------------------ pristine inputs
def _write(reader: str, directory: Path) -> Path:
    """A small valid input of ``reader`` in ``directory``; returns the path ``jetlab info`` gets."""
    if reader == "jetlab-dir":
        return write_dataset(directory / "d", make_jets(N_DIR, max_particles=8, seed=1), shard_size=3)
    path = directory / NAMES[reader]
    if reader == "jetlab-shard":
        write_shard(path, make_jets(6, max_particles=8), {"class": "w", "index": 0})
    else:
        writer = {"hls4ml": write_hls4ml, "toptag": write_toptag, "qg": write_qg, "jetnet": write_jetnet}[reader]
        writer(path, n=6, **({"m": 8} if reader in ("toptag", "qg") else {"p": 8}))
    return path


_PRISTINE: dict[str, dict[str, bytes]] = {}


def pristine(reader: str, directory: Path) -> Path:
    """A fresh copy of the cached pristine input of ``reader`` in ``directory``."""
    if reader not in _PRISTINE:
        with tempfile.TemporaryDirectory() as tmp:
            made = _write(reader, Path(tmp))
            files = sorted(made.iterdir()) if made.is_dir() else [made]
            _PRISTINE[reader] = {f.name: f.read_bytes() for f in files}
    target = directory / "d" if reader == "jetlab-dir" else directory
    target.mkdir(parents=True, exist_ok=True)
    for name, data in _PRISTINE[reader].items():
        (target / name).write_bytes(data)
    return target if reader == "jetlab-dir" else target / NAMES[reader]


# ------------------------------------------------------------------------------------------ mutations
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                    max_leaves=8)
BYTE_MUTATIONS = ("truncate", "garbage", "empty", "flip")
ARRAY_MUTATIONS = ("delete", "nan", "extreme", "reshape", "retype", "huge", "zero_rows", "scalar")


def mutate_bytes(path: Path, how: str, data: st.DataObject) -> None:
    raw = path.read_bytes()
    if how == "truncate":
        path.write_bytes(raw[: data.draw(st.integers(0, len(raw) - 1), label="keep")])
    elif how == "garbage":
        head = data.draw(st.sampled_from([b"", b"\x89HDF\r\n\x1a\n", b"PK\x03\x04", b"\x93NUMPY"]))
        path.write_bytes(head + data.draw(st.binary(max_size=3000)))
    elif how == "empty":
        path.write_bytes(b"")
    else:  # flip: anywhere in an npz (CRC-checked); in HDF5 inside dataset storage (libhdf5 trusts its metadata)
        lo, hi = 0, len(raw)
        if h5py.is_hdf5(path):
            spans: list[tuple[int, int]] = []
            with h5py.File(path, "r") as f:
                f.visititems(lambda _, o: spans.append((o.id.get_offset(), o.id.get_storage_size()))
                             if isinstance(o, h5py.Dataset) and o.id.get_offset() else None)  # fmt: skip
            lo, size = data.draw(st.sampled_from(spans), label="span")
            hi = lo + size
        buf = bytearray(raw)
        for at in data.draw(st.lists(st.integers(lo, hi - 1), min_size=1, max_size=8), label="at"):
            buf[at] ^= data.draw(st.integers(1, 255))
        path.write_bytes(bytes(buf))


def _new_array(a: np.ndarray, how: str, data: st.DataObject) -> np.ndarray | None:
    """A mutated version of array ``a`` (None: delete it)."""
    if how == "delete":
        return None
    if how in ("nan", "extreme") and a.size and a.dtype.kind in "fiu":
        a = a.astype(np.float64 if how == "nan" else a.dtype)
        extreme = [np.finfo(np.float32).max, -1e30, 0.0] if a.dtype.kind == "f" else [2**31 - 1, -1, 0, 10**6]
        values = [np.nan, np.inf, -np.inf] if how == "nan" else extreme
        a.flat[data.draw(st.integers(0, a.size - 1))] = data.draw(st.sampled_from(values))
        return a
    if how == "reshape" and a.ndim:
        return data.draw(st.sampled_from([a[..., :-1], a[:-1], a[..., None], a.reshape(-1), a.T, a[:, None]]))
    if how == "retype":
        kind = data.draw(st.sampled_from(["bytes", "bool", "int8", "complex", "uint64"]))
        if kind == "bytes":
            return np.full(a.shape, b"x")
        return np.ones(a.shape, {"bool": bool, "int8": np.int8, "complex": np.complex64, "uint64": np.uint64}[kind])
    if how == "zero_rows" and a.ndim:
        return a[:0]
    if how == "scalar":
        return np.float32(data.draw(st.floats(width=32)))
    return a


def mutate_h5(path: Path, how: str, data: st.DataObject) -> None:
    with h5py.File(path, "r+") as f:
        keys: list[str] = []
        f.visititems(lambda name, o: keys.append(name) if isinstance(o, h5py.Dataset) else None)
        key = data.draw(st.sampled_from(sorted(keys)), label="dataset")
        old = f[key]
        a, chunks, attrs = old[()], old.chunks, dict(old.attrs)
        if how == "huge" and old.ndim:
            del f[key]
            f.create_dataset(key, shape=(10**9, *a.shape[1:]), dtype=a.dtype, chunks=(1, *a.shape[1:]))
            f[key].attrs.update(attrs)
            return
        new = _new_array(a, how, data)
        del f[key]
        if new is not None:  # the new dataset keeps the old one's attributes (feature names): one change only
            f.create_dataset(key, data=new, chunks=chunks if how in ("nan", "extreme") else None)
            f[key].attrs.update(attrs)


def mutate_attrs(path: Path, data: st.DataObject) -> None:
    """Replace or delete an attribute of a jetlab shard (format, schema, shard JSON, feature names)."""
    with h5py.File(path, "r+") as f:
        where = data.draw(st.sampled_from(["/", "constituents", "hlf", "jet"]), label="object")
        attrs = f[where].attrs
        key = data.draw(st.sampled_from(sorted(attrs) or ["names"]), label="attr")
        # HDF5 strings hold no NUL and no lone surrogate
        text = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=30)
        value = data.draw(st.one_of(st.none(), JSON.map(json.dumps), text,
                                    st.integers(-(2**63), 2**63 - 1)), label="value")  # HDF5 holds int64 at most
        if key in attrs:
            del attrs[key]
        if value is not None:
            attrs[key] = value


def mutate_npz(path: Path, how: str, data: st.DataObject) -> None:
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    key = data.draw(st.sampled_from(sorted(arrays)), label="array")
    if how == "huge":  # a header declaring 10^9 rows over a few stored bytes
        with zipfile.ZipFile(path, "w") as z:
            for k, a in arrays.items():
                with z.open(f"{k}.npy", "w") as fh:
                    header = {"descr": a.dtype.str, "fortran_order": False, "shape": a.shape}
                    if k == key:
                        header["shape"] = (10**9, *a.shape[1:])
                    np.lib.format.write_array_header_1_0(fh, header)
                    fh.write(a.tobytes())
        return
    new = _new_array(arrays[key], how, data) if how != "object" else np.array([{"x": 1}] * 2, dtype=object)
    if new is None:
        del arrays[key]
    else:
        arrays[key] = new
    if data.draw(st.booleans(), label="fortran") and new is not None and np.ndim(new) > 1:
        arrays[key] = np.asfortranarray(new)
    np.savez(path, **arrays)


def mutate_manifest(directory: Path, data: st.DataObject) -> None:
    path = directory / "manifest.json"
    manifest = json.loads(path.read_text())
    how = data.draw(st.sampled_from(["text", "json", "field", "shard_field", "drop", "duplicate", "reorder",
                                     "remove_file", "stale_tmp"]), label="manifest")
    shards = manifest["shards"]
    k = data.draw(st.integers(0, len(shards) - 1), label="shard")
    if how == "text":
        path.write_bytes(data.draw(st.binary(max_size=200)))
        return
    if how == "json":
        manifest = data.draw(JSON, label="manifest")
    elif how == "field":
        field = data.draw(st.sampled_from(sorted(manifest)), label="field")
        manifest[field] = data.draw(JSON, label="value")
    elif how == "shard_field":
        field = data.draw(st.sampled_from(["file", "n_jets", "sha256"]), label="field")
        shards[k][field] = data.draw(JSON | st.sampled_from(["../d/s_0000.h5", "/etc/passwd", "s_0001.h5", 3, -1,
                                                             10**12]), label="value")  # fmt: skip
    elif how == "drop":
        del shards[k]
    elif how == "duplicate":
        shards.append(shards[k])
    elif how == "reorder":
        shards.reverse()
    elif how == "remove_file":
        (directory / shards[k]["file"]).unlink()
    elif how == "stale_tmp":
        (directory / f"{shards[k]['file']}.123.tmp").write_bytes(b"\x89HDF\r\n\x1a\n partial")
    path.write_text(json.dumps(manifest))


def mutate(reader: str, path: Path, data: st.DataObject) -> str:
    """Apply one drawn mutation to the input of ``reader`` at ``path``; returns its name."""
    if reader == "jetlab-dir":
        target = data.draw(st.sampled_from(["manifest", "shard"]), label="target")
        if target == "manifest":
            mutate_manifest(path, data)
            return "manifest"
        path = path / data.draw(st.sampled_from(sorted(p.name for p in path.glob("*.h5"))), label="file")
        reader = "jetlab-shard"
    menu = BYTE_MUTATIONS + ARRAY_MUTATIONS + (("attrs",) if reader == "jetlab-shard" else ())
    menu += ("object",) if reader == "qg" else ()
    how = data.draw(st.sampled_from(menu), label="mutation")
    if how in BYTE_MUTATIONS:
        mutate_bytes(path, how, data)
    elif how == "attrs":
        mutate_attrs(path, data)
    elif reader == "qg":
        mutate_npz(path, how, data)
    else:
        mutate_h5(path, how, data)
    return how


# ------------------------------------------------------------------------------------------ fuzz
@pytest.mark.parametrize("reader", READERS)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None,
          derandomize=DERANDOMIZE)
@given(data=st.data())
def test_fuzzed_input_gives_a_summary_or_one_error_line(reader: str, data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = pristine(reader, Path(tmp))
        how = mutate(reader, path, data)
        why = invalid(reader, path)                                   # None: valid, else why not
        event("valid" if why is None else "invalid")                  # counted by --hypothesis-show-statistics
        code, out, err = info(path)
        result = check(code, out, err)
        assert code == (0 if why is None else 2), (how, why, result)
        if code == 0 and reader == "jetlab-dir":  # accepted: then it is the whole, true dataset
            assert result["n_jets"] == N_DIR, (how, result["n_jets"])


def test_pristine_inputs_are_accepted(tmp_path: Path) -> None:
    for reader in READERS:
        path = pristine(reader, tmp_path / reader.replace("-", "_"))
        assert invalid(reader, path) is None, reader                 # the judge accepts them too
        code, out, err = info(path)
        summary = check(code, out, err)
        assert code == 0 and summary["n_jets"] > 0, reader


# ------------------------------------------------------------------------------------------ hand-written cases
def _dir(tmp: Path) -> Path:
    return pristine("jetlab-dir", tmp)


def _manifest(edit: Callable[[dict], object]) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        d = _dir(tmp)
        m = json.loads((d / "manifest.json").read_text())
        m = edit(m) or m
        (d / "manifest.json").write_text(m if isinstance(m, str) else json.dumps(m))
        return d

    return make


def _file(name: str, content: bytes) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        (tmp / name).write_bytes(content)
        return tmp / name

    return make


def _h5(reader: str, edit: Callable[[h5py.File], None]) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        path = pristine(reader, tmp)
        with h5py.File(path, "r+") as f:
            edit(f)
        return path

    return make


def _replace(key: str, value: np.ndarray) -> Callable[[h5py.File], None]:
    def edit(f: h5py.File) -> None:
        del f[key]
        f[key] = value

    return edit


def _truncated(reader: str, keep: float = 0.6) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        path = pristine(reader, tmp)
        target = path / "s_0001.h5" if path.is_dir() else path
        target.write_bytes(target.read_bytes()[: int(target.stat().st_size * keep)])
        return path

    return make


def _npz(**arrays: np.ndarray) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        np.savez(tmp / "QG_jets.npz", **arrays)
        return tmp / "QG_jets.npz"

    return make


class _Evil:
    def __reduce__(self):  # noqa: ANN204
        return (Path("/tmp/jetlab-fuzz-pwned").touch, ())


def _pickle_npz(tmp: Path) -> Path:
    """An npz whose X.npy holds a pickled object array that would run code if unpickled."""
    with zipfile.ZipFile(tmp / "QG_jets.npz", "w") as z:
        with z.open("X.npy", "w") as fh:
            np.lib.format.write_array_header_1_0(fh, {"descr": "|O", "fortran_order": False, "shape": (1,)})
            pickle.dump([_Evil()], fh)
        with z.open("y.npy", "w") as fh:
            np.save(fh, np.zeros(1))
    return tmp / "QG_jets.npz"


def _fifo(tmp: Path) -> Path:
    os.mkfifo(tmp / "pipe.h5")
    return tmp / "pipe.h5"


def _mixed_features(tmp: Path) -> Path:
    d = tmp / "mixed"
    write_dataset(d, make_jets(6, max_particles=8), shard_size=3)
    jets = make_jets(3, max_particles=8)
    jets.hlf_names = [f"x{i}" for i in range(len(jets.hlf_names))]
    write_shard(d / "s_0001.h5", jets, {"class": "mixed", "index": 1})
    m = json.loads((d / "manifest.json").read_text())
    from jetlab.io.format import sha256

    m["shards"][1]["sha256"] = sha256(d / "s_0001.h5")
    (d / "manifest.json").write_text(json.dumps(m))
    return d


def _outside_shard(tmp: Path) -> Path:
    d = _dir(tmp)
    shutil.copy(d / "s_0000.h5", tmp / "outside.h5")
    m = json.loads((d / "manifest.json").read_text())
    m["shards"][0]["file"] = "../outside.h5"
    (d / "manifest.json").write_text(json.dumps(m))
    return d


def _set(key: str, value: object, shard: int | None = None) -> Callable[[dict], None]:
    def edit(m: dict) -> None:
        (m if shard is None else m["shards"][shard])[key] = value

    return edit


# name -> (make input under tmp, expected exit status, words the error line holds)
CASES: dict[str, tuple[Callable[[Path], Path], int, tuple[str, ...]]] = {
    # files that are not datasets
    "missing_path": (lambda t: t / "nope.h5", 2, ("no such file",)),
    "empty_file": (_file("e.h5", b""), 2, ("empty",)),
    "hdf5_magic_only": (_file("m.h5", b"\x89HDF\r\n\x1a\n"), 2, ("m.h5",)),
    "text_file": (_file("t.h5", b"pt,eta\n1,2\n"), 2, ("not a format",)),
    "fifo": (_fifo, 2, ("pipe.h5", "not a regular file")),
    "directory_named_h5": (lambda t: (t / "x.h5").mkdir() or t / "x.h5", 2, ("no jetlab dataset",)),
    "empty_directory": (lambda t: (t / "e").mkdir() or t / "e", 2, ("no jetlab dataset",)),
    "jetnet_npy": (lambda t: (np.save(t / "t.npy", np.ones((3, 30, 4), "f4")), t / "t.npy")[1], 2, ("not a format",)),
    "zip_without_arrays": (lambda t: (zipfile.ZipFile(t / "a.npz", "w").close(), t / "a.npz")[1], 2,
                           ("a.npz", "without arrays X and y")),
    # jetlab directory + manifest
    "shards_without_manifest": (lambda t: (_dir(t) / "manifest.json").unlink() or t / "d", 2, ("no manifest.json",)),
    "manifest_not_json": (_manifest(lambda m: "{not json"), 2, ("unreadable manifest",)),
    "manifest_deeply_nested": (_manifest(lambda m: "[" * 100_000), 2, ("unreadable manifest",)),
    "manifest_is_a_list": (_manifest(lambda m: [m]), 2, ("not a jetlab manifest",)),
    "manifest_schema_true": (_manifest(_set("schema", True)), 2, ("schema",)),
    "manifest_schema_2": (_manifest(_set("schema", 2)), 2, ("schema 2",)),
    "manifest_shards_string": (_manifest(_set("shards", "s_0000.h5")), 2, ("'shards' must be",)),
    "manifest_file_int": (_manifest(_set("file", 7, 0)), 2, ("'shards' must be",)),
    "manifest_file_outside": (_outside_shard, 2, ("'shards' must be",)),
    "manifest_file_absolute": (_manifest(_set("file", "/etc/passwd", 0)), 2, ("'shards' must be",)),
    "manifest_n_jets_string": (_manifest(_set("n_jets", "3", 0)), 2, ("n_jets",)),
    "manifest_n_jets_negative": (_manifest(_set("n_jets", -3, 0)), 2, ("n_jets",)),
    "manifest_n_jets_wrong": (_manifest(lambda m: m.update(n_jets=10) or m["shards"][0].update(n_jets=4)), 2,
                              ("holds 3 jets", "says 4")),
    "manifest_total_wrong": (_manifest(_set("n_jets", 10**12)), 2, ("its shards hold 9 jets",)),
    "manifest_sha256_wrong": (_manifest(_set("sha256", "0" * 64, 1)), 2, ("SHA-256",)),
    "manifest_sha256_int": (_manifest(_set("sha256", 5, 1)), 2, ("sha256",)),
    "manifest_missing_shard": (_manifest(lambda m: m["shards"].append({"file": "s_0009.h5", "n_jets": 3})), 2,
                               ("s_0009.h5", "missing")),
    "manifest_no_shards": (_manifest(_set("shards", [])), 2, ("lists no shards",)),
    "manifest_shard_twice": (_manifest(lambda m: m["shards"].append(m["shards"][0])), 2, ("twice",)),
    "stale_tmp_ignored": (lambda t: (_dir(t) / "s_0000.h5.99.tmp").write_bytes(b"partial") and t / "d", 0, ()),
    "shards_with_other_features": (_mixed_features, 2, ("mixed", "different feature names")),
    "truncated_shard_in_dir": (_truncated("jetlab-dir"), 2, ("s_0001.h5",)),
    # one jetlab shard
    "truncated_shard": (_truncated("jetlab-shard"), 2, ("w_0000.h5",)),
    "shard_attr_not_json": (_h5("jetlab-shard", lambda f: f.attrs.__setitem__("shard", "{oops")), 2, ("w_0000",)),
    "shard_names_not_list": (_h5("jetlab-shard", lambda f: f["hlf"].attrs.__setitem__("names", "5")), 2, ("names",)),
    "shard_nan_hlf": (_h5("jetlab-shard", lambda f: f["hlf"].__setitem__((0, 0), np.nan)), 2, ("NaN",)),
    "shard_labels_2d": (_h5("jetlab-shard", _replace("labels", np.arange(6)[:, None] % 5)), 2, ("labels have shape",)),
    "manifest_file_control_chars": (_manifest(_set("file", "s\n0\x1e.h5", 0)), 2, ("'shards' must be",)),
    "shard_label_7": (_h5("jetlab-shard", lambda f: f["labels"].__setitem__(0, 7)), 2, ("labels",)),
    "shard_counts_too_big": (_h5("jetlab-shard", lambda f: f["n_particles"].__setitem__(0, 99)), 2, ("counts",)),
    "shard_schema_list": (_h5("jetlab-shard", lambda f: f.attrs.__setitem__("schema", "[]")), 2, ("schema",)),
    "shard_info_not_object": (_h5("jetlab-shard", lambda f: f.attrs.__setitem__("shard", "5")), 2, ("JSON object",)),
    "shard_jet_names": (_h5("jetlab-shard", lambda f: f["jet"].attrs.__setitem__("names", "[]")), 2, ("/jet",)),
    "shard_ints_for_floats": (_h5("jetlab-shard", _replace("jet", np.ones((6, 4), np.int32))), 2, ("'jet'",)),
    # foreign formats
    "hls4ml_image_unread": (_h5("hls4ml", _replace("jetImage", np.float32(3))), 0, ()),  # never read: valid
    "jetnet_float64": (_h5("jetnet", lambda f: _replace("jet_features", f["jet_features"][()].astype("f8"))(f)), 0,
                       ()),  # another float type, same numbers: valid
    "jetnet_bool_mask": (_h5("jetnet", _replace("particle_features", np.ones((6, 8, 4), bool))), 2, ("dtype bool",)),
    "toptag_axis0_wrong": (_h5("toptag", _replace("table/axis0", np.array([b"is_signal_new", b"E_0"]))), 2, ("axis0",)),
    "hls4ml_truncated": (_truncated("hls4ml"), 2, ("jetImage",)),
    "hls4ml_inf": (_h5("hls4ml", lambda f: f["jetConstituentList"].__setitem__((0, 0, 0), np.inf)), 2, ("inf",)),
    "hls4ml_huge": (_h5("hls4ml", lambda f: [(f.__delitem__(k), f.create_dataset(k, shape=(10**9, *s), dtype="f4"))
                                             for k, s in (("jets", (59,)), ("jetConstituentList", (8, 16)))]), 2,
                    ("declares",)),
    "toptag_truncated": (_truncated("toptag"), 2, ("train.h5",)),
    "toptag_label_half": (_h5("toptag", lambda f: f["table/block0_values"].__setitem__((0, -1), 0.5)), 2,
                          ("is_signal_new",)),
    "toptag_no_table": (_h5("toptag", lambda f: f.__delitem__("table")), 2, ("train.h5",)),
    "qg_truncated": (_truncated("qg"), 2, ("QG_jets.npz", "truncated")),
    "qg_strings": (_npz(X=np.full((2, 3, 4), "a"), y=np.zeros(2)), 2, ("dtype",)),
    "qg_pickled_objects": (_pickle_npz, 2, ("dtype",)),
    "qg_wrong_shape": (_npz(X=np.ones((2, 3, 5)), y=np.zeros(2)), 2, ("shape",)),
    "qg_y_rows_differ": (_npz(X=np.ones((2, 3, 4)), y=np.zeros(3)), 2, ("shape",)),
    "jetnet_truncated": (_truncated("jetnet"), 2, ("t.hdf5",)),
    "jetnet_strings": (_h5("jetnet", _replace("jet_features", np.full((6, 4), b"x"))), 2, ("dtype",)),
    "jetnet_rows_differ": (_h5("jetnet", _replace("jet_features", np.ones((5, 4), "f4"))), 2, ("jet count",)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hand_written_case(case: str, tmp_path: Path) -> None:
    make, expected, words = CASES[case]
    code, out, err = info(make(tmp_path))
    result = check(code, out, err)
    assert code == expected, (case, result)
    for w in words:
        assert w in result, (case, result)
    assert not Path("/tmp/jetlab-fuzz-pwned").exists()


# ------------------------------------------------------------------------------------------ subprocesses
def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jetlab.cli", *args], capture_output=True, text=True, timeout=timeout)


def assert_error_line(res: subprocess.CompletedProcess[str], *words: str) -> None:
    """Exit 2, no traceback; the last stderr line is the only ``jetlab: error:`` line."""
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-3000:]
    errors = [line for line in res.stderr.splitlines() if line.startswith("jetlab: error:")]
    assert len(errors) == 1 and res.stderr.rstrip().endswith(errors[0]), res.stderr[-2000:]
    for w in words:
        assert w in errors[0], errors[0]


@pytest.mark.parametrize("case", ["truncated_shard", "manifest_deeply_nested", "fifo", "qg_pickled_objects"])
def test_info_subprocess(case: str, tmp_path: Path) -> None:
    make, _, words = CASES[case]
    res = cli("info", str(make(tmp_path)), timeout=60)
    assert_error_line(res, *words)
    assert res.stderr.count("\n") == 1


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> subprocess.CompletedProcess[str]:
    """``jetlab.cli.main`` in this process (torch is imported once), as a CompletedProcess."""
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


def test_train_on_bad_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _manifest(_set("n_jets", "many", 0))(tmp_path)
    res = run_main(capsys, "train", "--model", "mlp", "--data", str(bad), "--out", str(tmp_path / "run"),
                   "--epochs", "1", "--no-progress")
    assert_error_line(res, "n_jets")
    assert not (tmp_path / "run").exists()


def test_evaluate_truncated_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from jetlab.tasks.config import resolve_config
    from jetlab.tasks.train import train
    from tests.conftest import make_separable_jets

    data = write_dataset(tmp_path / "data", make_separable_jets(100))
    run = tmp_path / "run"
    train(resolve_config("mlp", str(data), overrides={"trainer": {"epochs": 1, "progress": False}}), run)
    ckpt = run / "checkpoints" / "best.ckpt"
    ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])
    res = run_main(capsys, "evaluate", str(run))
    assert_error_line(res, "best.ckpt", "refused to load")
    assert not (run / "metrics.json").exists()
