"""Benchmark: training and inference jets/s of jetlab's ParticleNet and ParT against weaver-core's.

Same architecture size, batch, particles and input features for both sides, timed interleaved in
one process (median of repeats), printed as ratios jetlab / weaver (target >= 1.0).
weaver-core is a benchmark-only extra; its model files need only torch:

    pip install --no-deps weaver-core
    python benchmarks/train_throughput.py [--batch 128] [--particles 64] [--repeats 7] [--device cuda]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from jetlab.models import InputDims, count_parameters, create


def make_batch(b: int, p: int, f: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Jets with 20..p real particles (pT-ordered slots first), as jetlab's batch contract."""
    g = torch.Generator().manual_seed(seed)
    n = torch.randint(20, p + 1, (b,), generator=g)
    mask = torch.arange(p)[None, :] < n[:, None]  # (B, P)
    pt = torch.sort(torch.rand(b, p, generator=g) * 100 + 1, dim=1, descending=True).values
    eta, phi = torch.randn(b, p, generator=g) * 0.2, torch.randn(b, p, generator=g) * 0.2
    px, py, pz = pt * torch.cos(phi), pt * torch.sin(phi), pt * torch.sinh(eta)
    e = torch.sqrt(px**2 + py**2 + pz**2)
    m = mask.float()
    return {"x": torch.randn(b, p, f, generator=g) * m[..., None], "mask": mask,
            "points": torch.stack([eta, phi], -1) * m[..., None], "p4": torch.stack([e, px, py, pz], -1) * m[..., None],
            "z": pt * m / (pt * m).sum(1, keepdim=True), "y": torch.randint(0, 5, (b,), generator=g),
            "scalars": torch.zeros(b, p, 6)}


def weaver_models(f: int) -> dict[str, tuple[torch.nn.Module, Callable]]:
    from weaver.nn.model.ParticleNet import ParticleNet
    from weaver.nn.model.ParticleTransformer import ParticleTransformer

    pn = ParticleNet(f, 5, conv_params=[(16, (64, 64, 64)), (16, (128, 128, 128)), (16, (256, 256, 256))],
                     fc_params=[(256, 0.1)], use_fusion=True)
    pt = ParticleTransformer(f, num_classes=5, pair_input_dim=4, embed_dims=(64, 64), pair_embed_dims=(32, 32),
                             num_heads=4, num_layers=4, num_cls_layers=1, fc_params=[],
                             block_params={"ffn_ratio": 4, "dropout": 0.1, "attn_dropout": 0.0,
                                           "activation_dropout": 0.0})

    def pn_call(model: torch.nn.Module, b: dict) -> torch.Tensor:
        m = b["mask"].float()[:, None]  # (B, 1, P)
        return model(b["points"].transpose(1, 2), b["x"].transpose(1, 2), m)

    def pt_call(model: torch.nn.Module, b: dict) -> torch.Tensor:
        v = b["p4"][..., [1, 2, 3, 0]].transpose(1, 2)  # (B, 4, P) px, py, pz, E
        return model(b["x"].transpose(1, 2), v=v, mask=b["mask"][:, None])

    return {"particlenet": (pn, pn_call), "part": (pt, pt_call)}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(model: torch.nn.Module, call: Callable, batch: dict, train: bool, opt: torch.optim.Optimizer,
          device: str = "cpu") -> float:
    model.train(train)
    _sync(device)
    start = time.perf_counter()
    if train:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(call(model, batch), batch["y"]).backward()
        opt.step()
    else:
        with torch.no_grad():
            call(model, batch)
    _sync(device)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--particles", type=int, default=64)
    ap.add_argument("--features", type=int, default=13)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    args = ap.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device available")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    batch = {k: v.to(args.device) for k, v in make_batch(args.batch, args.particles, args.features).items()}
    dims = InputDims(particle_features=args.features, max_particles=args.particles)
    ours = {"particlenet": (create("particlenet", dims=dims), lambda m, b: m(b)),
            "part": (create("part", dims=dims), lambda m, b: m(b))}
    theirs = weaver_models(args.features)
    for m, _ in (*ours.values(), *theirs.values()):
        m.to(args.device)
    where = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU, {args.threads} threads"
    print(f"batch {args.batch}, {args.particles} particle slots (20..{args.particles} real), {args.features} features, "
          f"{where}, median of {args.repeats}")
    print(f"{'model':>12} {'params jetlab/weaver':>22} {'mode':>6} {'jetlab jets/s':>14} {'weaver jets/s':>14} "
          f"{'ratio':>6}")
    for name in ("particlenet", "part"):
        sides = {"jetlab": ours[name], "weaver": theirs[name]}
        opts = {k: torch.optim.Adam(m.parameters(), lr=1e-3) for k, (m, _) in sides.items()}
        params = "/".join(f"{count_parameters(m):,}" for m, _ in sides.values())
        for train in (True, False):
            times: dict[str, list[float]] = {"jetlab": [], "weaver": []}
            for k, (m, call) in sides.items():  # warm-up
                timed(m, call, batch, train, opts[k], args.device)
            for _ in range(args.repeats):
                for k, (m, call) in sides.items():
                    times[k].append(timed(m, call, batch, train, opts[k], args.device))
            rate = {k: args.batch / statistics.median(v) for k, v in times.items()}
            print(f"{name:>12} {params:>22} {'train' if train else 'infer':>6} {rate['jetlab']:14.1f} "
                  f"{rate['weaver']:14.1f} {rate['jetlab'] / rate['weaver']:6.2f}")


if __name__ == "__main__":
    main()
