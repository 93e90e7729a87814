"""Record a benchmark's full output under ``docs/benchmarks/``: the command, date, jetlab commit, machine.

Every benchmark's ``main`` runs inside :func:`recorded`; whatever it prints (stdout and stderr) goes to the
terminal as usual and, when the run ends, to ``docs/benchmarks/<name>.txt`` headed by how to reproduce it.
README tables are copied from these files, one table per recorded invocation::

    if __name__ == "__main__":
        sys.exit(recorded("pipeline", main))

``--record NAME`` on any benchmark's command line names the output file (for variants such as
``landscape_top``); ``--record -`` records nothing (quick trials).
"""

from __future__ import annotations

import datetime
import io
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "docs" / "benchmarks"


class _Tee(io.TextIOBase):
    """A text stream writing to the terminal and keeping a copy."""

    def __init__(self, stream: io.TextIOBase, copy: io.StringIO) -> None:
        self.stream, self.copy = stream, copy

    def write(self, text: str) -> int:
        self.copy.write(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return False  # progress bars print their final state only, not every redraw


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def header(argv: list[str]) -> str:
    """The lines that say how, when, on what and at which commit a benchmark ran."""
    dirty = " (with uncommitted changes)" if _git("status", "--porcelain", "--untracked-files=no") else ""
    try:
        import torch

        torch_line = f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads"
    except ImportError:
        torch_line = "torch not installed"
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"
    return "\n".join([
        f"command: {shlex.join(['python', *argv])}",
        f"date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M:%S} UTC",
        f"jetlab commit: {_git('rev-parse', 'HEAD')}{dirty}",
        f"machine: {platform.node()}, {os.cpu_count()} CPUs ({_cpu_model()}), "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, {torch_line}",
        f"load average at start (1, 5, 15 min): {load}",
        "",
    ])


def _pop_record_flag(argv: list[str], default: str) -> tuple[str, list[str]]:
    """Take ``--record NAME`` (or ``--record=NAME``) out of argv; the benchmark's own parser never sees it."""
    rest, name, i = [], default, 0
    while i < len(argv):
        if argv[i] == "--record" and i + 1 < len(argv):
            name, i = argv[i + 1], i + 2
            continue
        if argv[i].startswith("--record="):
            name = argv[i].split("=", 1)[1]
        else:
            rest.append(argv[i])
        i += 1
    return name, rest


def recorded(name: str, main: Callable[[], int | None]) -> int:
    """Run ``main`` and write everything it printed to ``docs/benchmarks/<name>.txt``; return its status."""
    name, sys.argv[1:] = _pop_record_flag(sys.argv[1:], name)
    argv = [os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]]
    try:  # the benchmarks print what the CLI would: no third-party banners or deprecation noise
        from jetlab._quiet import third_party_quiet

        third_party_quiet()
    except ImportError:
        pass
    if name in ("-", ""):
        return int(main() or 0)
    copy = io.StringIO()
    copy.write(header(argv) + "\n")
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Tee(out, copy), _Tee(err, copy)  # type: ignore[assignment]
    start, status = time.perf_counter(), 1
    try:
        status = int(main() or 0)
    except SystemExit as stop:
        status = stop.code if isinstance(stop.code, int) else 1
        raise
    finally:
        sys.stdout, sys.stderr = out, err
        copy.write(f"\nexit status {status}, {time.perf_counter() - start:.0f} s wall clock\n")
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        target = OUT_DIR / f"{name}.txt"
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(copy.getvalue())
        tmp.replace(target)
        print(f"recorded in {os.path.relpath(target, ROOT)}")
    return status
