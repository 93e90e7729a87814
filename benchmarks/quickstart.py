"""Benchmark: the two set-up commands of the README, timed as a newcomer runs them.

1. ``jetlab quickstart`` (generate 5 x 1000 jets, plot, fit the BDT, train three networks, evaluate,
   report) in a fresh output folder: wall clock of the whole command and what it printed.
2. ``pytest`` (the README's test command, the package already installed): the count of tests that passed,
   failed or were skipped, and the wall clock of the suite.

    python benchmarks/quickstart.py [--skip-tests] [--skip-quickstart]

The README's quickstart time and test count are copied from the output of one run of this script.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _record import ROOT, recorded


def run_timed(cmd: list[str], cwd: Path) -> tuple[int, float, str]:
    """Run ``cmd`` in ``cwd``; its exit status, wall clock in s and combined output."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True)
    seconds = time.perf_counter() - start
    text = (proc.stdout + proc.stderr).decode(errors="replace")
    # a progress bar redraws itself with carriage returns: keep each line's final state only
    return proc.returncode, seconds, "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n"))


def quickstart() -> int:
    with tempfile.TemporaryDirectory(prefix="jetlab_quickstart_") as tmp:
        status, seconds, output = run_timed(["jetlab", "quickstart", "--out", str(Path(tmp) / "qs")], Path(tmp))
    print("== jetlab quickstart ==")
    print(output.rstrip())
    print(f"\nquickstart: exit status {status}, wall clock {seconds:.0f} s ({seconds / 60:.1f} min)")
    return status


def test_suite() -> int:
    status, seconds, output = run_timed([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], ROOT)
    summary = output.strip().splitlines()[-1] if output.strip() else ""
    print("== pytest -q ==")
    print("\n".join(line for line in output.splitlines() if not set(line) <= set(".sFEx [%]0123456789")))
    counts = dict((k, int(v)) for v, k in re.findall(r"(\d+) (passed|failed|skipped|errors?|xfailed)", summary))
    print(f"\ntests: {counts} in {seconds:.0f} s ({seconds / 60:.1f} min), exit status {status}")
    return status


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip-quickstart", action="store_true")
    ap.add_argument("--skip-tests", action="store_true")
    args = ap.parse_args()
    status = 0
    if not args.skip_quickstart:
        status |= quickstart()
    if not args.skip_tests:
        status |= test_suite()
    return status


if __name__ == "__main__":
    sys.exit(recorded("quickstart", main))
