"""Faults lose nothing: kill -9 mid-run, a full disk, an output path that cannot be written.

The commands that are killed or starved of disk run the real CLI in a subprocess; the checks after
them call ``jetlab.cli.main`` in this process. A full disk is stood in for by a file size limit
(``RLIMIT_FSIZE``): a write past the limit fails with EFBIG "File too large", exactly where a full
disk would fail with ENOSPC, and needs no root. See docs/reliability.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from jetlab.cli import main
from jetlab.io.format import read_shard
from jetlab.tasks.config import resolve_config
from jetlab.tasks.train import train
from tests.conftest import make_separable_jets, write_dataset

pytestmark = pytest.mark.slow  # Pythia, Lightning and several interpreter starts: ~40 s on 2 idle cores

GENERATE = ["generate", "--classes", "w", "--jets-per-class", "12", "--shard-size", "3", "--seed", "5",
            "--no-progress"]  # 4 shards of 3 jets
LIMIT = 4096  # bytes: every shard (~15 kB), checkpoint (~37 kB) and hls4ml file is larger


# Root ignores file modes through the capabilities DAC_OVERRIDE / DAC_READ_SEARCH / FOWNER: dropping them
# from the bounding set before exec gives a root process that read-only directories stop like any user.
AS_USER = (["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]
           if os.geteuid() == 0 and shutil.which("setpriv") else [])


def jetlab(*args: str, limit: int | None = None, timeout: float = 300,
           honour_modes: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the CLI; ``limit`` caps the size of any file it writes (a full-disk stand-in);
    ``honour_modes`` runs it without the capabilities that let root ignore file permissions."""
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death by signal

    prefix = AS_USER if honour_modes else []
    return subprocess.run([*prefix, sys.executable, "-m", "jetlab.cli", *args], capture_output=True, text=True,
                          timeout=timeout, preexec_fn=cap if limit else None)


def in_process(capsys: pytest.CaptureFixture[str], *args: str) -> subprocess.CompletedProcess[str]:
    """``jetlab.cli.main`` in this process (no interpreter start), as a CompletedProcess."""
    capsys.readouterr()
    try:
        code = main(list(args))
    except SystemExit as e:  # argparse errors
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "jetlab.cli", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def assert_clean_failure(res: subprocess.CompletedProcess[str], *words: str) -> str:
    """Exit 2, no traceback, and the error is the one ``jetlab: error:`` line, last on stderr."""
    assert res.returncode == 2, (res.returncode, res.stderr[-2000:])
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    errors = [line for line in res.stderr.splitlines() if line.startswith("jetlab: error:")]
    assert len(errors) == 1 and res.stderr.rstrip().endswith(errors[0]), res.stderr[-2000:]
    for w in words:
        assert w in errors[0], errors[0]
    return errors[0]


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str], what: str, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"process ended (status {proc.returncode}) before {what}: {proc.stderr.read()[-2000:]}")
        if time.monotonic() > end:
            proc.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def children(pid: int) -> set[int]:
    """Direct child processes of ``pid`` (Linux /proc); empty elsewhere."""
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.add(int(stat.parent.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def digest(path: Path) -> dict[str, str]:
    """SHA-256 of ``path`` or of every file in it (the manifest's shard checksums are the same function)."""
    files = sorted(path.iterdir()) if path.is_dir() else [path]
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.is_file()}


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*.tmp"))


# ------------------------------------------------------------------------------------------ generate
@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dataset made in one uninterrupted run with one worker."""
    out = tmp_path_factory.mktemp("ref") / "d"
    res = jetlab(*GENERATE, "--out", str(out), "--workers", "1")
    assert res.returncode == 0, res.stderr[-2000:]
    return out


def test_generate_killed_then_rerun_gives_the_same_dataset(reference: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "d"
    proc = start(*GENERATE, "--out", str(out), "--workers", "2")
    seen: dict[str, int] = {}

    def shards_whole() -> bool:  # every shard visible at any moment reads whole
        for f in sorted(out.glob("*.h5")) if out.is_dir() else []:
            if f.name not in seen:
                seen[f.name] = len(read_shard(f))
        return len(seen) >= 1

    wait_for(shards_whole, proc, "the first shard")
    workers = children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    end = time.monotonic() + 60  # orphaned workers notice and stop on their own
    while any(alive(p) for p in workers) and time.monotonic() < end:
        time.sleep(0.1)
    assert not any(alive(p) for p in workers), "workers outlived the killed run"
    shards_whole()
    assert set(seen.values()) == {3} and not (out / "manifest.json").exists()

    res = in_process(capsys, "info", str(out), "--json")  # no manifest: a clean refusal, never a partial dataset
    assert_clean_failure(res, "no manifest.json")
    for f in sorted(out.glob("*.h5")):  # each shard that exists is whole on its own
        one = in_process(capsys, "info", str(f), "--json")
        assert one.returncode == 0 and json.loads(one.stdout)["n_jets"] == 3, one.stderr

    res = jetlab(*GENERATE, "--out", str(out), "--workers", "2")
    assert res.returncode == 0, res.stderr[-2000:]
    made, skipped = map(int, re.search(r"(\d+) shard\(s\) made, (\d+) already whole", res.stdout).groups())
    assert skipped == len(seen) and made + skipped == 4, res.stdout  # the whole shards were kept
    assert leftovers(out) == []
    assert digest(out) == digest(reference)  # byte for byte, manifest included; 2 workers vs 1
    info = json.loads(in_process(capsys, "info", str(out), "--json").stdout)
    assert info["n_jets"] == 12 and info["jets_per_class"] == {"w": 12}


def test_generate_on_a_full_disk_keeps_the_dataset(reference: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "d"
    shutil.copytree(reference, out)
    before = digest(out)
    res = jetlab(*GENERATE[:2], "w,z", *GENERATE[3:], "--out", str(out), "--workers", "2", limit=LIMIT)
    assert_clean_failure(res, "z_000", "File too large")
    assert digest(out) == before and leftovers(out) == []
    assert json.loads(in_process(capsys, "info", str(out), "--json").stdout)["n_jets"] == 12


# ------------------------------------------------------------------------------------------ train
@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("data") / "d", make_separable_jets(300))


@pytest.fixture(scope="module")
def finished_run(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "mlp"
    train(resolve_config("mlp", str(data), overrides={"trainer": {"epochs": 2, "progress": False}}), out)
    return out


def _epoch(ckpt: Path) -> int:
    return int(torch.load(ckpt, map_location="cpu", weights_only=True)["epoch"])


def test_train_killed_mid_epoch_resumes(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    common = ["--model", "mlp", "--data", str(data), "--out", str(run), "--batch-size", "4", "--no-progress"]
    proc = start("train", *common, "--epochs", "500")
    last = run / "checkpoints" / "last.ckpt"
    wait_for(last.is_file, proc, "checkpoints/last.ckpt")
    first = _epoch(last)
    wait_for(lambda: (run / "logs" / "metrics.csv").is_file(), proc, "the first logged epoch")
    time.sleep(0.15)  # into the next epoch (~45 steps of 4 jets)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    killed_at = _epoch(last)  # the checkpoint left behind loads: it is whole
    assert killed_at >= first and not (run / "train.json").exists()

    res = in_process(capsys, "train", *common, "--epochs", str(killed_at + 3), "--resume")
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads((run / "train.json").read_text())
    assert summary["epochs"] == killed_at + 3
    rows = (run / "logs" / "resume_1" / "metrics.csv").read_text().splitlines()[1:]
    epochs = sorted({int(r.split(",")[0]) for r in rows if r.split(",")[0]})
    assert epochs[0] == killed_at + 1 and epochs[-1] == killed_at + 2, epochs  # continued, not restarted
    assert _epoch(last) == killed_at + 2 and leftovers(run) == []
    res = in_process(capsys, "evaluate", str(run))
    assert res.returncode == 0, res.stderr[-3000:]
    assert json.loads((run / "metrics.json").read_text())["n_jets"] == summary["n_test"]


def test_train_on_a_full_disk_keeps_the_checkpoints(data: Path, finished_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    kept = ("checkpoints", "train.json", "representation.json", "logs/metrics.csv")  # config.yaml: the new flags
    before = {k: digest(run / k) for k in kept}
    res = jetlab("train", "--model", "mlp", "--data", str(data), "--out", str(run), "--epochs", "4", "--resume",
                 "--no-progress", limit=LIMIT)
    assert_clean_failure(res, str(run), "File too large")
    assert {k: digest(run / k) for k in kept} == before and leftovers(run) == []


# ------------------------------------------------------------------------------------------ convert
def test_convert_on_a_full_disk_keeps_the_earlier_file(reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "h"
    res = jetlab("convert", str(reference), "--out", str(out), "--n-particles", "20")
    assert res.returncode == 0, res.stderr[-2000:]
    before = digest(out)
    res = jetlab("convert", str(reference), "--out", str(out), "--n-particles", "20", limit=LIMIT)
    assert_clean_failure(res, "jetImage_0_20p_0_12.h5", "File too large")
    assert digest(out) == before and leftovers(out) == []


# ------------------------------------------------------------------------------------------ unwritable --out
def _commands(reference: Path, data: Path, out: Path) -> dict[str, list[str]]:
    return {
        "generate": [*GENERATE[:2], "q", *GENERATE[3:], "--out", str(out)],
        "train": ["train", "--model", "mlp", "--data", str(data), "--out", str(out), "--epochs", "1", "--no-progress"],
        "convert": ["convert", str(reference), "--out", str(out)],
    }


@pytest.mark.parametrize("command", ["generate", "train", "convert"])
def test_out_below_a_file_fails_cleanly(reference: Path, data: Path, tmp_path: Path, command: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    res = in_process(capsys, *_commands(reference, data, blocker / "out")[command])
    assert_clean_failure(res, str(blocker / "out"), "Not a directory")
    assert blocker.read_text() == "not a directory"


@pytest.mark.parametrize("command", ["generate", "train", "convert"])
def test_read_only_out_fails_cleanly(reference: Path, data: Path, tmp_path: Path, command: str) -> None:
    assert os.geteuid() != 0 or AS_USER, "running as root needs setpriv (util-linux) to honour file modes"
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        assert_clean_failure(jetlab(*_commands(reference, data, out)[command], honour_modes=True), str(out))
        assert list(out.iterdir()) == []
    finally:
        out.chmod(0o755)
