"""Benchmark: showers/s of every shower generator at batch 1 and 1000, next to the GFlash simulator's, in one run.

Generators at their registry defaults with random weights (the cost of a sample does not depend on the
weights), conditioned on incident energies drawn log-uniformly in ``--energy``; the simulator
(:func:`jetlab.generate.showers.simulate`, vectorized numpy on the CPU) makes e+ showers at the same energies.
``ddpm`` is timed with its default ancestral sampler (T network calls) and with DDIM (``sample_steps`` calls)::

    python benchmarks/shower_speed.py [--models calogan,calo_vae,calo_flow,ddpm,calo_flow_matching]
                                      [--batches 1,1000] [--geometry calogan] [--energy 1,100]
                                      [--seconds 2] [--threads N] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from jetlab.generate.showers import get_geometry, simulate
from jetlab.models import count_parameters, create
from jetlab.models.registry import InputDims, list_models
from jetlab.represent.voxels import shower_dims

from _record import recorded


def rate(fn: Callable[[], Any], n: int, seconds: float) -> float:
    """Showers/s of ``fn`` making ``n`` showers: median over repeats filling ``seconds``, after one warm-up call."""
    fn()
    times, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < 3:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return n / float(np.median(times))


def generator_runs(name: str, extra: dict[str, Any], energies: np.ndarray, device: str
                   ) -> tuple[int, dict[str, Callable[[int], Callable[[], Any]]]]:
    """Parameter count and ``variant -> (batch -> zero-argument sampler)`` of one registered model."""
    torch.manual_seed(0)
    model = create(name, 3, InputDims(extra=extra)).eval().to(device)
    g = torch.Generator().manual_seed(0)

    def sampler(**kw: Any) -> Callable[[int], Callable[[], Any]]:
        def at(batch: int) -> Callable[[], Any]:
            labels = torch.zeros(batch, dtype=torch.long, device=device)
            energy = torch.as_tensor(energies[:batch], dtype=torch.float32, device=device)

            def run() -> None:
                with torch.inference_mode():
                    model.sample(batch, labels, g, energy=energy, **kw)
                if device == "cuda":
                    torch.cuda.synchronize()
            return run
        return at

    variants = {name: sampler()}
    if name == "ddpm":
        variants = {f"ddpm (ancestral, T = {model.diffusion.timesteps})": sampler(sampler="ddpm"),
                    f"ddpm (DDIM, {model.sample_steps} steps)": sampler(sampler="ddim")}
    return count_parameters(model), variants


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(s.name for s in list_models(task="generate")
                                                 if s.representation == "voxels"))
    ap.add_argument("--batches", default="1,1000")
    ap.add_argument("--geometry", default="calogan")
    ap.add_argument("--energy", default="1,100", help="incident energies log-uniform in LO,HI GeV")
    ap.add_argument("--seconds", type=float, default=2.0, help="timing per measurement")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: cores)")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    args = ap.parse_args(argv)
    print("reproduce: python benchmarks/shower_speed.py " + shlex.join(sys.argv[1:] if argv is None else argv))
    device = args.device if args.device == "cpu" or torch.cuda.is_available() else "cpu"
    if device != args.device:
        print("cuda: not available (torch sees no GPU); running on cpu")
    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    batches = [int(b) for b in args.batches.split(",")]
    lo, hi = (float(v) for v in args.energy.split(","))
    energies = np.exp(np.random.default_rng(0).uniform(np.log(lo), np.log(hi), max(batches)))
    geometry = get_geometry(args.geometry)
    print(f"geometry {args.geometry} ({sum(a * b for a, b in geometry.layer_shapes)} voxels); generators on {device}, "
          f"torch {torch.__version__}, {threads} intra-op thread(s); simulator: numpy on the CPU; E log-uniform in "
          f"[{lo:g}, {hi:g}] GeV; {args.seconds:g} s per measurement (median)")
    rows: list[tuple[str, str, dict[int, float]]] = []
    rng = np.random.default_rng(1)
    sim = {b: rate(lambda b=b: simulate(geometry, "e+", energies[:b], rng), b, args.seconds) for b in batches}
    rows.append(("GFlash simulator (e+)", "-", sim))
    print("  simulator: " + ", ".join(f"batch {b} {r:.0f}/s" for b, r in sim.items()), flush=True)
    extra = shower_dims(args.geometry)
    for name in args.models.split(","):
        params, variants = generator_runs(name, extra, energies, device)
        for label, at in variants.items():
            rates = {b: rate(at(b), b, args.seconds) for b in batches}
            rows.append((label, f"{params:,}", rates))
            print(f"  {label}: " + ", ".join(f"batch {b} {r:.0f}/s" for b, r in rates.items()), flush=True)
    top = max(batches)
    print("\n| generator | parameters | " + " | ".join(f"batch {b} showers/s" for b in batches)
          + f" | vs simulator at batch {top} |")
    print("|---|---:|" + "---:|" * len(batches) + "---:|")
    for label, params, rates in rows:
        cells = " | ".join(f"{rates[b]:.0f}" for b in batches)
        print(f"| {label} | {params} | {cells} | {rates[top] / sim[top]:.2f}x |")


if __name__ == "__main__":
    sys.exit(recorded("shower_speed", main))
