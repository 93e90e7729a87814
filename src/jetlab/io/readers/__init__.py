"""Readers of datasets in other layouts: one file per layout in this package, each registering itself.

A reader is a :class:`Reader`: a ``sniff`` test on a file's content, a ``read`` of jets ``[start:stop]``
into a validated :class:`~jetlab.io.jets.Jets`, a ``count`` of jets that reads no arrays (for streaming
in chunks), and the :class:`~jetlab.classes.LabelScheme` its files use. Adding a layout is one file here
with one :func:`register_reader` call; every module of this package is imported on first use, and a
reader from outside the package registers the same way::

    register_reader(Reader("mylayout", "My experiment's jets", sniff=..., read=..., count=..., scheme=...))

Built in: ``hls4ml``, ``toptag``, ``qg``, ``jetnet``, ``jetclass`` (ROOT) and ``columnar`` (ROOT or
Parquet files described by a YAML mapping). Every reader reads only the rows and columns it needs and turns
library errors into :class:`~jetlab.errors.InputError` / :class:`~jetlab.errors.FormatError` naming the file.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import numpy as np

import jetlab.io.guarded as guarded
from jetlab.classes import LabelScheme
from jetlab.errors import FormatError, InputError, JetlabError, UsageError
from jetlab.io.jets import Jets
from jetlab.io.showers import Showers

__all__ = ["Reader", "register_reader", "get_reader", "readers", "formats", "sniff", "read_foreign",
           "explain_unknown", "FORMATS"]

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class Reader:
    """One file layout.

    ``sniff(path) -> bool`` looks at the content (never only the name) and must not raise;
    ``read(path, start, stop) -> Jets`` (or :class:`~jetlab.io.showers.Showers`); ``count(path) -> int``
    jets without reading them;
    ``scheme`` the label scheme, or a function of the path for layouts that declare their own;
    ``labels(path) -> (N,)`` optionally reads only the labels (cheap counting for streamed splits).
    """

    name: str
    title: str
    sniff: Callable[[Path], bool]
    read: Callable[..., Jets | Showers]
    count: Callable[[Path], int]
    scheme: LabelScheme | Callable[[Path], LabelScheme]
    labels: Callable[[Path], np.ndarray] | None = None

    def scheme_of(self, path: PathLike) -> LabelScheme:
        return self.scheme if isinstance(self.scheme, LabelScheme) else self.scheme(Path(path))


_READERS: dict[str, Reader] = {}
_loaded = False


def register_reader(reader: Reader) -> Reader:
    """Add ``reader``; it is tried by :func:`sniff` after those registered before it."""
    if reader.name in _READERS and _READERS[reader.name] != reader:
        raise ValueError(f"reader {reader.name!r} registered twice")
    _READERS[reader.name] = reader
    return reader


def _load_builtin() -> None:
    """Import every module of this package once (each registers its reader)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


def readers() -> dict[str, Reader]:
    _load_builtin()
    return dict(_READERS)


def formats() -> tuple[str, ...]:
    return tuple(readers())


def get_reader(name: str) -> Reader:
    known = readers()
    if name not in known:
        raise UsageError(f"unknown foreign format {name!r} (known: {', '.join(known)})")
    return known[name]


def sniff(path: PathLike) -> str | None:
    """The format of ``path`` judged from its content, or None if unknown or unreadable."""
    path = Path(path)
    if not path.is_file():
        return None
    for reader in readers().values():
        try:
            if reader.sniff(path):
                return reader.name
        except (*guarded.ERRORS, JetlabError):
            continue
    return None


def read_foreign(path: PathLike, fmt: str | None = None, *, start: int = 0, stop: int | None = None
                 ) -> Jets | Showers:
    """Read jets ``[start:stop]`` of a file in another layout; ``fmt`` a reader name, None to sniff."""
    path = Path(path)
    reader = get_reader(fmt) if fmt is not None else None
    guarded.check_file(path)
    if reader is None:
        name = sniff(path)
        if name is None:
            explain_unknown(path)
        reader = _READERS[name]
    return reader.read(path, start=start, stop=stop)


def explain_unknown(path: Path) -> NoReturn:
    """Raise the most specific error for a file no reader recognises (truncated HDF5 or zip, or unknown)."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head == b"\x89HDF\r\n\x1a\n":
        with guarded.open_h5(path):  # raises InputError if unreadable or truncated
            pass
    elif head.startswith(b"PK"):
        if not zipfile.is_zipfile(path):
            raise InputError(f"{path}: corrupt or truncated zip/npz file")
        raise FormatError(f"{path}: npz file without arrays X and y (not a quark/gluon jet file)")
    elif head.startswith(b"root"):
        raise FormatError(f"{path}: ROOT file without a JetClass tree (describe its branches in a columnar YAML "
                          "mapping, see docs/columnar.md)")
    known = ", ".join(r.title for r in readers().values())
    raise FormatError(f"{path}: not a format jetlab reads (jetlab, {known})")


def __getattr__(name: str) -> tuple[str, ...]:  # FORMATS: computed once the built-in readers are loaded
    if name == "FORMATS":
        return formats()
    raise AttributeError(name)
