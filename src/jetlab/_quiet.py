"""Keep the CLI's output jetlab's own: C++ banners (FastJet, Pythia) off stdout, e.g. ``--json``, and
third-party notices a jetlab user cannot act on off stderr (:func:`third_party_quiet`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator

__all__ = ["quiet_stdout", "fastjet_quiet", "third_party_quiet", "THIRD_PARTY_NOISE", "LIGHTNING_INFO_LOGGERS"]

# (message regex, category, module regex of the line the warning is attributed to): deprecations raised
# inside libraries, about code in other libraries, that no jetlab user can act on. Each is matched by all
# three, so the same category from jetlab or from a user's own code still shows.
THIRD_PARTY_NOISE: tuple[tuple[str, type[Warning], str], ...] = (
    # torch >= 2.14 deprecates torch.jit.script; torch_geometric still decorates functions with it at import
    (r"`torch\.jit\.script` is deprecated", FutureWarning, r"torch\.jit\._script"),
    # torch >= 2.14 deprecates LeafSpec; Lightning's own _pytree builds one at every step
    (r"`isinstance\(treespec, LeafSpec\)` is deprecated", FutureWarning, r"lightning\.pytorch\.utilities\._pytree"),
)
# Lightning's rank-zero *info* logs: "GPU available: False, used: False", "TPU available ...", the
# "💡 Tip: ... litlogger / litmodels" advertisements, "`Trainer.fit` stopped: ...". Its warnings
# (rank_zero_warn, e.g. "GPU available but not used") go through the warnings module and still show.
LIGHTNING_INFO_LOGGERS = ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero")


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


def third_party_quiet() -> None:
    """Filter :data:`THIRD_PARTY_NOISE` and raise :data:`LIGHTNING_INFO_LOGGERS` to WARNING (the CLI calls this).

    Narrow on purpose: no blanket ``simplefilter("ignore")``; jetlab's own warnings, a user's, and every
    other third-party warning keep the default behaviour. Importing nothing, it costs no start-up time.
    """
    for message, category, module in THIRD_PARTY_NOISE:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)
    for name in LIGHTNING_INFO_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
