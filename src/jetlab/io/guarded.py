"""Guarded access to arrays in untrusted HDF5 and npz files, shared by every reader.

Each helper checks before it allocates: a dataset's declared size must be stored on disk (a header
declaring 10^9 jets over a few bytes is refused, not allocated) and fit in half this machine's
memory; h5py/numpy/zip errors become :class:`InputError` / :class:`FormatError` naming the file.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np

from jetlab.errors import FormatError, InputError, JetlabError, brief

__all__ = ["ERRORS", "check_file", "open_h5", "dataset", "names", "check_columns", "same_rows", "check_stored",
           "read_float32", "npz_arrays", "check_memory"]

ERRORS = (OSError, ValueError, KeyError, TypeError, IndexError, RuntimeError, EOFError, zipfile.BadZipFile, zlib.error)
MAX_RATIO = 2048  # gzip compresses at most ~1032:1: a larger declared/stored ratio is declared, not stored
SMALL = 16 << 20  # below this many declared bytes, the ratio is not checked


def check_file(path: Path) -> None:
    """Refuse a missing path, a directory or an empty file, naming it."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file")


@contextmanager
def open_h5(path: Path) -> Iterator[h5py.File]:
    """Open an HDF5 file; any h5py/numpy error inside the block becomes an InputError naming the file."""
    check_file(path)
    try:
        with h5py.File(path, "r") as f:
            yield f
    except JetlabError:
        raise
    except ERRORS as e:
        raise InputError(f"{path}: unreadable, corrupt or truncated HDF5 file ({brief(e)})") from None


def dataset(group: h5py.Group, key: str, path: Path, ndim: int) -> h5py.Dataset:
    """Dataset ``key`` of ``group``, which must exist and have ``ndim`` dimensions."""
    obj = group.get(key)
    if not isinstance(obj, h5py.Dataset):
        raise FormatError(f"{path}: missing dataset '{key}'")
    if obj.ndim != ndim:
        raise FormatError(f"{path}: dataset '{key}' has shape {obj.shape}, expected {ndim} dimensions")
    return obj


def names(ds: h5py.Dataset, path: Path) -> list[str]:
    """A 1-D dataset of byte or text column names as a list of str."""
    if ds.ndim != 1 or ds.shape[0] > 100_000 or ds.dtype.kind not in "SUO":
        raise FormatError(f"{path}: '{ds.name}' is not a list of names ({ds.shape} {ds.dtype})")
    try:
        return [s.decode() if isinstance(s, bytes) else str(s) for s in ds[()]]
    except UnicodeDecodeError:
        raise FormatError(f"{path}: names in '{ds.name}' are not valid UTF-8") from None


def check_columns(path: Path, key: str, width: int, names: list[str], need: tuple[str, ...] = (), exact: bool = False
                   ) -> None:  # fmt: skip
    """``names`` label the ``width`` columns of ``key`` (exactly, or at least) and include ``need``."""
    if (len(names) != width) if exact else (len(names) < width):
        raise FormatError(f"{path}: '{key}' has {width} columns but {len(names)} names")
    missing = [n for n in need if n not in names]
    if missing:
        raise FormatError(f"{path}: '{key}' lacks columns {missing[:4]}")


def same_rows(path: Path, *datasets: h5py.Dataset) -> None:
    """The datasets hold the same number of jets (rows)."""
    rows = {d.shape[0] for d in datasets}
    if len(rows) > 1:
        raise FormatError(f"{path}: datasets {[d.name for d in datasets]} differ in jet count {sorted(rows)}")


def check_stored(ds: h5py.Dataset, path: Path) -> None:
    """Refuse a dataset whose declared size is not stored (far beyond what compression can reach)."""
    stored = ds.id.get_storage_size()
    if ds.nbytes > max(SMALL, MAX_RATIO * stored):
        raise FormatError(f"{path}: dataset '{ds.name}' declares shape {ds.shape} but stores {stored} bytes")


def read_float32(ds: h5py.Dataset, path: Path, rows: slice) -> np.ndarray:
    """Rows of a numeric dataset as float32, after checking its declared size is stored and fits memory."""
    if ds.dtype.kind not in "fiu":  # bool is no number: a flag array where values belong
        raise FormatError(f"{path}: dataset '{ds.name}' has dtype {ds.dtype}, expected numbers")
    check_stored(ds, path)
    n = len(range(*rows.indices(ds.shape[0])))
    check_memory(path, ds.name, 4 * n * int(np.prod(ds.shape[1:])))
    data = ds.astype(np.float32)[rows]
    if not np.isfinite(data).all():
        raise FormatError(f"{path}: dataset '{ds.name}' holds NaN or inf values")
    return data


def npz_arrays(path: Path, keys: tuple[str, ...], rows: slice) -> list[np.ndarray]:
    """Rows of arrays ``keys`` of an .npz as float32, checking each header against the stored bytes."""
    check_file(path)
    try:
        with zipfile.ZipFile(path) as z:
            return [_npz_member(z, key, path, rows) for key in keys]
    except JetlabError:
        raise
    except ERRORS as e:
        raise InputError(f"{path}: unreadable, corrupt or truncated npz file ({brief(e)})") from None


def _npz_member(z: zipfile.ZipFile, key: str, path: Path, rows: slice) -> np.ndarray:
    if f"{key}.npy" not in z.namelist():
        raise FormatError(f"{path}: missing array '{key}'")
    info = z.getinfo(f"{key}.npy")
    with z.open(info) as fh:
        version = np.lib.format.read_magic(fh)
        reader = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        if version not in reader:
            raise FormatError(f"{path}: array '{key}' has unsupported npy version {version}")
        shape, fortran, dtype = reader[version](fh)
        if dtype.kind not in "fiu" or not shape:
            raise FormatError(f"{path}: array '{key}' has dtype {dtype} and shape {shape}, expected numbers")
        row_bytes = dtype.itemsize * int(np.prod(shape[1:]))
        if row_bytes * shape[0] > info.file_size - fh.tell():
            raise FormatError(f"{path}: array '{key}' declares shape {shape} but stores fewer bytes")
        lo, hi, _ = rows.indices(shape[0]) if not fortran else (0, shape[0], 1)
        hi = max(hi, lo)
        check_memory(path, key, (hi - lo) * row_bytes)
        fh.seek(fh.tell() + lo * row_bytes)
        raw = np.frombuffer(fh.read((hi - lo) * row_bytes), dtype)
    data = raw.reshape((hi - lo, *shape[1:]), order="F" if fortran else "C")[rows if fortran else slice(None)]
    data = data.astype(np.float32)
    if not np.isfinite(data).all():
        raise FormatError(f"{path}: array '{key}' holds NaN or inf values")
    return data


def check_memory(path: Path, name: str, nbytes: int) -> None:
    """Refuse to read ``nbytes`` of ``name`` when that is more than half of this machine's memory."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        total = 1 << 40
    if nbytes > total // 2:
        raise InputError(
            f"{path}: '{name}' needs {nbytes / 2**30:.1f} GiB, more than half this machine's memory; "
            "read fewer jets with start/stop"
        )

