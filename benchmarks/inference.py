"""Benchmark: inference jets/s of torch eager, torch.compile and ONNX Runtime, side by side, as ratios to eager.

Random-weight models at their registry defaults, on synthetic jets with about 50 real particles out of
P = 128 slots (or on the jets of ``--data``), built by jetlab's own BatchBuilder. torch and ONNX Runtime
use the same number of intra-op threads. ONNX Runtime runs the graph ``jetlab export`` writes
(graph optimizations: all; the export checks ORT against torch first)::

    python benchmarks/inference.py [--models mlp,pfn,particlenet,part] [--batches 1,256] [--particles 128]
                                   [--threads N] [--seconds 2] [--data DATASET] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jetlab.data.batches import BatchBuilder, RepresentationConfig
from jetlab.deploy.graph import Exportable, export_model, feeds, onnx_session
from jetlab.io.jets import Jets
from jetlab.models import create, get_spec
from jetlab.physics.kinematics import p4_from_pt_eta_phi_m
from jetlab.schema import HLF_NAMES, PARTICLE_FEATURES

from _record import recorded


def synthetic_jets(n: int, p: int, mean_particles: int = 50, seed: int = 0) -> Jets:
    """Jets with ~``mean_particles`` real particles (pT-ordered, spread 0.15 around the axis) in ``p`` slots."""
    r = np.random.default_rng(seed)
    counts = np.clip(r.normal(mean_particles, 10, n), 5, p).astype(np.int32)
    pt = np.sort(r.exponential(20.0, (n, p)) + 0.5, axis=1)[:, ::-1]
    eta = r.uniform(-1.5, 1.5, (n, 1)) + r.normal(0, 0.15, (n, p))
    phi = (r.uniform(-np.pi, np.pi, (n, 1)) + r.normal(0, 0.15, (n, p)) + np.pi) % (2 * np.pi) - np.pi
    px, py, pz, e = p4_from_pt_eta_phi_m(pt, eta, phi, np.zeros_like(pt))
    charge = r.integers(-1, 2, (n, p)).astype(float)
    cons = np.stack([px, py, pz, e, pt, eta, phi, charge, np.where(charge == 0, 22.0, 211.0 * charge)], -1)
    mask = np.arange(p)[None, :] < counts[:, None]
    cons = np.where(mask[..., None], cons, 0.0).astype(np.float32)
    sums = [np.where(mask, a, 0).sum(1) for a in (px, py, pz, e)]
    jet = np.stack([np.hypot(sums[0], sums[1]), eta[:, 0], phi[:, 0], np.sqrt(np.maximum(
        sums[3] ** 2 - sums[0] ** 2 - sums[1] ** 2 - sums[2] ** 2, 0))], 1).astype(np.float32)
    return Jets(constituents=cons, n_particles=counts, particle_names=list(PARTICLE_FEATURES), jet=jet,
                hlf=r.normal(size=(n, len(HLF_NAMES))).astype(np.float32), hlf_names=list(HLF_NAMES),
                labels=(np.arange(n) % 5).astype(np.int64), meta={"format": "synthetic"})


def rate(fn: Callable[[], Any], n_jets: int, seconds: float) -> float:
    """Jets/s of ``fn`` (median over repeats filling ``seconds``, after 2 warm-up calls)."""
    fn(), fn()
    times, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < 3:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return n_jets / float(np.median(times))


def runners(name: str, jets: Jets, batch_size: int, p: int, device: str, onnx_dir: Path, threads: int
            ) -> dict[str, Callable[[], Any] | str]:
    """``backend -> zero-argument callable`` (or the reason it is not available) for one model and batch size."""
    spec = get_spec(name)
    builder = BatchBuilder(RepresentationConfig(spec.representation, max_particles=p)).fit(jets)
    batch = builder(jets[:batch_size])
    torch.manual_seed(0)
    model = create(name, n_classes=5, dims=builder.dims()).eval()
    out: dict[str, Callable[[], Any] | str] = {}
    onnx = onnx_dir / f"{name}.onnx"
    try:  # export from a batch of 16, so that the graph is the one exported for any batch size
        res = export_model(model, builder(jets[:16]), onnx, name=name, graph_k=builder.config.k)
        names = tuple(res["inputs"])
    except Exception as e:  # noqa: BLE001
        names, out["onnxruntime"] = (), f"n/a ({str(e).splitlines()[0][:80]})"
    model.to(device)
    wrapper = Exportable(model, names or ("x",))
    args = tuple(batch[n].to(device) for n in names)
    dev_batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    def eager() -> None:
        with torch.inference_mode():
            torch.softmax(model(dev_batch), dim=1)
        sync()

    out["torch eager"] = eager
    try:
        compiled = torch.compile(wrapper, dynamic=False)
        with torch.inference_mode():
            compiled(*args)  # compile now, so that a failure is reported here

        def comp() -> None:
            with torch.inference_mode():
                compiled(*args)
            sync()

        out["torch.compile"] = comp if names else "n/a (no exported inputs)"
    except Exception as e:  # noqa: BLE001
        out["torch.compile"] = f"n/a ({type(e).__name__}: {str(e).splitlines()[0][:60] if str(e) else ''})"
    if names:
        import onnxruntime as ort

        gpu = device == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers()
        providers = ["CUDAExecutionProvider"] if gpu else ["CPUExecutionProvider"]
        sess = onnx_session(onnx, threads=threads, providers=providers)
        # as OnnxPredictor: torch -> numpy and all-padding slots trimmed (as the eager models trim), timed too
        out["onnxruntime"] = lambda: sess.run(["probs"], feeds(names, batch))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="mlp,pfn,particlenet,part")
    ap.add_argument("--batches", default="1,256")
    ap.add_argument("--particles", type=int, default=128, help="padded slots P (real particles ~50)")
    ap.add_argument("--threads", type=int, default=None, help="intra-op threads for torch and ORT (default: cores)")
    ap.add_argument("--seconds", type=float, default=2.0, help="timing per measurement")
    ap.add_argument("--data", default=None, help="a jetlab dataset to take jets from (default: synthetic)")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    args = ap.parse_args(argv)
    print("reproduce: python benchmarks/inference.py " + shlex.join(sys.argv[1:] if argv is None else argv))
    device = args.device
    if device == "cuda":
        import onnxruntime as ort

        if not torch.cuda.is_available():
            print("cuda: not available (torch sees no GPU); running on cpu")
            device = "cpu"
        elif "CUDAExecutionProvider" not in ort.get_available_providers():
            print("cuda: onnxruntime has no CUDAExecutionProvider (onnxruntime-gpu not installed): ORT runs on cpu")
    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    print(f"device {device}; torch {torch.__version__} and onnxruntime both with {threads} intra-op thread(s); "
          f"P = {args.particles}; {args.seconds:g} s per measurement (median)")
    batches = [int(b) for b in args.batches.split(",")]
    if args.data:
        from jetlab.io import open_jets

        jets = open_jets(args.data)[: max(batches) + 16]
    else:
        jets = synthetic_jets(max(max(batches), 16), args.particles)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            for b in batches:
                found = runners(name, jets, b, args.particles, device, Path(tmp), threads)
                rates = {k: (rate(v, b, args.seconds) if callable(v) else v) for k, v in found.items()}
                rows.append((name, b, rates))
                print(f"  {name} batch {b}: " + ", ".join(
                    f"{k} {v:.0f}/s" if isinstance(v, float) else f"{k} {v}" for k, v in rates.items()), flush=True)
    print("\n| model | batch | eager jets/s | torch.compile | onnxruntime |\n|---|---:|---:|---:|---:|")
    for name, b, r in rows:
        eager = r["torch eager"]
        cells = [f"{r[k] / eager:.2f}x ({r[k]:.0f}/s)" if isinstance(r.get(k), float) else str(r.get(k, "n/a"))
                 for k in ("torch.compile", "onnxruntime")]
        print(f"| {name} | {b} | {eager:.0f} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    sys.exit(recorded("inference", main))
