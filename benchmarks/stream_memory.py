"""Benchmark: peak memory and time of one training epoch, data in memory vs streamed, at N and 10·N jets.

Datasets in the Top Tagging layout (pandas frame in ``train.h5``, 200 particle slots, E/PX/PY/PZ as in
the public files), written block by block so writing never holds the whole file. Each configuration runs
in a fresh Python process: ``jetlab train`` of ``pfn`` (particles, 64 hardest) for one epoch, which in
memory mode loads the file and in stream mode reads it chunk by chunk (``data.chunk_size``) through the
shuffle buffer (``data.shuffle_buffer``, at most that many jets held). Peak memory is the child's peak RSS
(VmHWM), reported for the whole child, for its setup (imports, opening the data, labels, the
representation's fit sample; in memory mode every jet) and for the fit alone (a fresh peak window opened
just before ``Trainer.fit``, so it starts from what the setup left resident). Epoch seconds are the fit's
wall time: one training pass over the train split and one validation pass.

    python benchmarks/stream_memory.py [--n 20000] [--scale 10] [--buffer 8192] [--chunk 4096]

Memory mode should grow with the dataset (ratio ~ scale); stream mode should not once the training split
exceeds the buffer (ratio ~ 1). ``--buffer 65536`` is the default of ``data.shuffle_buffer``; the smaller
default here lets the buffer fill at N already.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from _record import recorded

SLOTS = 200
BLOCK = 10_000  # jets generated and written at a time


def _attrs(obj: h5py.HLObject, **attrs: object) -> None:
    for k, v in attrs.items():
        obj.attrs[k] = np.bytes_(v) if isinstance(v, str) else v


def write_toptag(path: Path, n: int, seed: int = 0) -> None:
    """``n`` jets in the Top Tagging ``train.h5`` layout (as tests/foreign.py writes it), block by block.

    Massless particles around a jet axis, 10..120 real ones per jet (pT ordered), zero padding after;
    tops (is_signal_new = 1, every other jet) are wider and have more particles, so the task is learnable.
    """
    columns = [f"{c}_{i}" for i in range(SLOTS) for c in ("E", "PX", "PY", "PZ")]
    columns += ["truthE", "truthPX", "truthPY", "truthPZ", "ttv", "is_signal_new"]
    names = np.array([c.encode() for c in columns])
    array = {"CLASS": "ARRAY", "VERSION": "2.4", "TITLE": "", "FLAVOR": "numpy"}
    with h5py.File(path, "w") as f:
        g = f.create_group("table")
        _attrs(g, CLASS="GROUP", TITLE="", VERSION="1.0", pandas_type="frame", pandas_version="0.15.2",
               encoding="UTF-8", errors="strict", ndim=2, nblocks=1, axis0_variety="regular",
               axis1_variety="regular")
        g["axis0"], g["axis1"], g["block0_items"] = names, np.arange(n, dtype=np.int64), names
        for name, kind in (("axis0", "string"), ("axis1", "integer"), ("block0_items", "string")):
            _attrs(g[name], **array, kind=kind, name="N.")
        g.attrs["block0_items_variety"] = np.bytes_("regular")
        values = g.create_dataset("block0_values", (n, len(columns)), np.float32)  # contiguous, as pandas writes it
        _attrs(values, **array, transposed=np.bool_(True))
        for lo in range(0, n, BLOCK):
            values[lo:lo + BLOCK] = _block(np.random.default_rng([seed, lo]), lo, min(lo + BLOCK, n))


def _block(r: np.random.Generator, lo: int, hi: int) -> np.ndarray:
    """(hi - lo, 4·SLOTS + 6) rows of the frame for jets lo..hi-1."""
    b = hi - lo
    top = np.arange(lo, hi) % 2 == 0
    counts = np.where(top, r.integers(30, 121, b), r.integers(10, 81, b))
    real = np.arange(SLOTS)[None, :] < counts[:, None]  # (B, P)
    pt = np.where(real, -np.sort(-r.exponential(20.0, (b, SLOTS)), axis=1) + 0.5, 0.0)
    width = np.where(top, 0.3, 0.15)[:, None]
    eta = r.uniform(-2.0, 2.0, (b, 1)) + r.normal(0.0, 1.0, (b, SLOTS)) * width
    phi = r.uniform(-np.pi, np.pi, (b, 1)) + r.normal(0.0, 1.0, (b, SLOTS)) * width
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px**2 + py**2 + pz**2)
    four = np.where(real[..., None], np.stack([e, px, py, pz], -1), 0.0).reshape(b, 4 * SLOTS)  # (B, 4P)
    truth = r.normal(0.0, 100.0, (b, 4))
    return np.concatenate([four, truth, np.zeros((b, 1)), top[:, None]], 1).astype(np.float32)


def _peak_mb() -> float:
    """This process's peak RSS (VmHWM; ru_maxrss where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> bool:
    """Start a new peak-RSS window (Linux >= 4.0: ``clear_refs`` 5); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def child(data: str, mode: str, out: str, chunk: int, buffer: int) -> None:
    """One epoch of training in this process; prints one JSON line: peak RSS of the setup (imports, opening
    the data, labels, the representation's fit sample; in memory mode every jet) and of the fit alone."""
    import lightning as L

    from jetlab.tasks.config import resolve_config
    from jetlab.tasks.train import train

    peaks: dict[str, float | None] = {}
    fit = L.Trainer.fit

    def measured_fit(self: L.Trainer, *args: object, **kwargs: object) -> None:
        peaks["setup"] = _peak_mb()
        window = _reset_peak()
        fit(self, *args, **kwargs)  # type: ignore[arg-type]
        peaks["epoch"] = _peak_mb() if window else None

    L.Trainer.fit = measured_fit  # type: ignore[method-assign]
    overrides = {"data": {"stream": mode, "chunk_size": chunk, "shuffle_buffer": buffer, "num_workers": 0},
                 "trainer": {"epochs": 1, "batch_size": 256, "progress": False, "accelerator": "cpu"}}
    summary = train(resolve_config("pfn", data, overrides=overrides), out)
    peak = max(v for v in (peaks["setup"], peaks["epoch"], _peak_mb()) if v is not None)
    print(json.dumps({"peak_mb": peak, **{f"{k}_mb": v for k, v in peaks.items()}, "fit_s": summary["train_time_s"],
                      "mode": summary["data"], "steps": summary["global_steps"]}))


def baseline() -> None:
    """Peak RSS of a process that imported what a training run imports and read no data."""
    import jetlab.tasks.config
    import jetlab.tasks.train  # noqa: F401

    print(json.dumps({"peak_mb": _peak_mb()}))


def run_child(data: Path | None, mode: str, out: Path, chunk: int, buffer: int) -> dict[str, Any]:
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    job = ["--child", str(data), mode, str(out)] if data is not None else ["--baseline"]
    cmd = [sys.executable, __file__, *job, "--chunk", str(chunk), "--buffer", str(buffer), "--record", "-"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{mode or 'baseline'} on {data}: exit {done.returncode}\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if data is not None and result["mode"] != mode:
        raise RuntimeError(f"asked for {mode}, the run used {result['mode']}")
    return result


def _mb(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.0f}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=20_000, help="jets of the small dataset")
    p.add_argument("--scale", type=int, default=10, help="the large dataset holds scale x n jets")
    p.add_argument("--chunk", type=int, default=4096, help="data.chunk_size")
    p.add_argument("--buffer", type=int, default=8192, help="data.shuffle_buffer")
    p.add_argument("--child", nargs=3, metavar=("DATA", "MODE", "OUT"), help=argparse.SUPPRESS)
    p.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child or a.baseline:
        child(*a.child, chunk=a.chunk, buffer=a.buffer) if a.child else baseline()
        return 0
    if a.scale < 2:
        p.error("--scale must be at least 2")
    print(f"pfn (particles, 64 hardest), 1 epoch, batch 256, {SLOTS}-slot Top Tagging layout; stream: "
          f"chunk_size {a.chunk}, shuffle_buffer {a.buffer}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '1')}")
    base = run_child(None, "", Path(), a.chunk, a.buffer)["peak_mb"]
    print(f"baseline (imports, no data): {base:.0f} MB")
    rows: dict[tuple[int, str], dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="stream_memory_") as tmp:
        for n in (a.n, a.scale * a.n):
            data = Path(tmp) / f"top_{n}" / "train.h5"
            data.parent.mkdir()
            start = time.perf_counter()
            write_toptag(data, n)
            print(f"wrote {n} jets ({data.stat().st_size / 2**20:.0f} MB) in {time.perf_counter() - start:.0f} s")
            for mode in ("memory", "stream"):
                r = rows[n, mode] = run_child(data, mode, Path(tmp) / f"run_{n}_{mode}", a.chunk, a.buffer)
                print(f"  {mode}: {r['peak_mb']:.0f} MB, fit {r['fit_s']:.1f} s ({r['steps']} steps)", flush=True)
            data.unlink()
    print("\npeak RSS: the whole child; setup: before the fit; epoch: during the fit alone (a fresh peak window)")
    print("| jets | mode | peak RSS MB | setup peak MB | epoch peak MB | epoch s | steps |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for (n, mode), r in rows.items():
        print(f"| {n} | {mode} | {r['peak_mb']:.0f} | {_mb(r['setup_mb'])} | {_mb(r['epoch_mb'])} | {r['fit_s']:.1f} "
              f"| {r['steps']} |")
    print()
    for mode in ("memory", "stream"):
        big, small = rows[a.scale * a.n, mode], rows[a.n, mode]
        epoch = "n/a" if big["epoch_mb"] is None else f"{big['epoch_mb'] / small['epoch_mb']:.2f}"
        print(f"{mode}: peak({a.scale}N) / peak(N) = {big['peak_mb'] / small['peak_mb']:.2f} "
              f"({(big['peak_mb'] - base) / max(small['peak_mb'] - base, 1):.2f} above the baseline); "
              f"epoch peak {epoch}")
    return 0


if __name__ == "__main__":
    sys.exit(recorded("stream_memory", main))
