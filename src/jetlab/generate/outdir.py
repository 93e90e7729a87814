"""The output directory of a generation run, made ready the same way for jets, showers, tracks and maps."""

from __future__ import annotations

import os
from pathlib import Path

from jetlab.errors import UsageError
from jetlab.io.atomic import remove_stale

__all__ = ["prepare_out"]


def prepare_out(out: str | os.PathLike[str], flag: str = "--out") -> Path:
    """Create ``out`` (a directory), require it writable and remove the ``*.tmp`` files of a killed run
    (never a whole file: those are written under a temporary name and renamed when complete)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{flag}: {out} exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"{flag}: cannot create {out} ({e.strerror or 'not a directory'})") from None
    if not os.access(out, os.W_OK):
        raise UsageError(f"{flag}: {out} is not writable")
    remove_stale(out)
    return out
