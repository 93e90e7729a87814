"""Whole-or-nothing file writes: a file that exists under its final name is complete.

Every file jetlab writes that a later command reads back (shards, manifests, converted files,
checkpoints, run summaries) goes through :func:`atomic_write`: the bytes go to
``<name>.<pid>.tmp`` beside the target, are flushed to disk (``fsync``), and the temporary file
is renamed over the target (``os.replace``, atomic on one filesystem). A failed write (full disk,
file size limit, read-only directory) removes its temporary file and leaves the old target as it
was; a killed process leaves at most a ``*.tmp`` file, never a partial target. The process id in
the name keeps two writers of the same file (a rerun and a straggler of a killed run) apart.

HDF5 files are built in memory (:func:`atomic_h5`) and written with one ``atomic_write``, so an
I/O error is a plain :class:`OSError` raised here, not an error inside the HDF5 library.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import h5py
import numpy as np

__all__ = ["atomic_write", "atomic_write_text", "atomic_savez", "atomic_h5", "temporary_name", "remove_stale"]


def temporary_name(path: str | os.PathLike[str]) -> Path:
    """Where :func:`atomic_write` puts ``path``'s bytes before the rename."""
    path = Path(path)
    return path.with_name(f"{path.name}.{os.getpid()}.tmp")


def atomic_write(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` whole or not at all (temporary file, fsync, rename); returns ``path``."""
    path = Path(path)
    tmp = temporary_name(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as e:  # name the target: a write error names no file, an open error the temporary one
        tmp.unlink(missing_ok=True)
        raise type(e)(e.errno, e.strerror or str(e), str(path)) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write(path, text.encode("utf-8"))


def atomic_savez(path: str | os.PathLike[str], **arrays: Any) -> Path:
    """``numpy.savez_compressed`` of ``arrays`` to ``path``, whole or not at all."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return atomic_write(path, buf.getvalue())


@contextmanager
def atomic_h5(path: str | os.PathLike[str], **kwargs: Any) -> Iterator[h5py.File]:
    """An HDF5 file (``h5py.File`` keywords in ``kwargs``) built in memory, written to ``path`` when the block ends."""
    buf = io.BytesIO()
    with h5py.File(buf, "w", **kwargs) as f:
        yield f
    atomic_write(path, buf.getvalue())


def remove_stale(directory: str | os.PathLike[str]) -> int:
    """Delete the ``*.tmp`` files a killed writer left in ``directory``; returns how many."""
    n = 0
    for tmp in Path(directory).glob("*.tmp"):
        tmp.unlink(missing_ok=True)
        n += 1
    return n
