"""Silence C++ banners (FastJet, Pythia) that would otherwise pollute stdout, e.g. ``--json``."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

__all__ = ["quiet_stdout", "fastjet_quiet"]


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Redirect file descriptor 1 to /dev/null for the duration (C and Python writes alike)."""
    sys.stdout.flush()
    fd = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        sys.stdout.flush()
        os.dup2(fd, 1)
        os.close(fd)


_done = False


def fastjet_quiet() -> None:
    """Trigger FastJet's once-per-process banner with stdout silenced."""
    global _done
    if _done:
        return
    import fastjet

    with quiet_stdout():
        v = fastjet.vectorPJ()
        v.push_back(fastjet.PseudoJet(1.0, 0.0, 0.0, 1.0))
        fastjet._swig.ClusterSequence(v, fastjet.JetDefinition(fastjet.antikt_algorithm, 0.4))
    _done = True
