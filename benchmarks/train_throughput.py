"""Benchmark: training and inference jets/s of jetlab's ParticleNet and ParT against weaver-core's, like for like.

Like for like means, checked by the script before any ratio is printed:

* the same architecture, parameter for parameter: ParT is compared twice, once with jetlab's
  ``WEAVER_EXTRAS`` options on against weaver's ParticleTransformer at its v1 defaults (``scale_attn``,
  ``scale_fc``, ``scale_heads``, ``scale_resids`` on), once with those four scalings off on both sides;
  a row whose two parameter counts differ prints no ratio and the script exits 1;
* the same input tensors every step: weaver's ``trim`` (a random share of the particles dropped in
  training after 5 steps, ParticleNet and ParT alike) is off, its self-pairs are removed as jetlab's are
  (``remove_self_pair=True``), and the batch's longest jet fills every slot, so jetlab's padding trim is a
  no-op too. Hooks record, for every call on each side, the particle slots and real particles entering
  the network (and for ParT the number of pairs embedded); any difference suppresses the ratios.

Same batch, timed interleaved in one process (median of repeats), ratios jetlab / weaver (target >= 1.0).
weaver-core is a benchmark-only extra; its model files need only torch:

    pip install --no-deps weaver-core
    python benchmarks/train_throughput.py [--batch 128] [--particles 64] [--repeats 11] [--device cuda]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch

from jetlab.models import InputDims, count_parameters, create
from jetlab.models.classify.part import WEAVER_EXTRAS

from _record import recorded

Call = Callable[[torch.nn.Module, dict], torch.Tensor]
SCALINGS = ("scale_attn", "scale_fc", "scale_heads", "scale_resids")


def make_batch(b: int, p: int, f: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Jets with 20..p real particles (pT-ordered slots first; the first jet fills all p), as jetlab batches."""
    g = torch.Generator().manual_seed(seed)
    n = torch.randint(20, p + 1, (b,), generator=g)
    n[0] = p  # the longest jet fills every slot: jetlab's trim_padding keeps all p
    mask = torch.arange(p)[None, :] < n[:, None]  # (B, P)
    pt = torch.sort(torch.rand(b, p, generator=g) * 100 + 1, dim=1, descending=True).values
    eta, phi = torch.randn(b, p, generator=g) * 0.2, torch.randn(b, p, generator=g) * 0.2
    px, py, pz = pt * torch.cos(phi), pt * torch.sin(phi), pt * torch.sinh(eta)
    e = torch.sqrt(px**2 + py**2 + pz**2)
    m = mask.float()
    return {"x": torch.randn(b, p, f, generator=g) * m[..., None], "mask": mask,
            "points": torch.stack([eta, phi], -1) * m[..., None], "p4": torch.stack([e, px, py, pz], -1) * m[..., None],
            "z": pt * m / (pt * m).sum(1, keepdim=True), "y": torch.randint(0, 5, (b,), generator=g)}


def weaver_part(f: int, scalings: bool) -> torch.nn.Module:
    """weaver's ParticleTransformer at jetlab's sizes; no trim, no self-pairs; its v1 scalings on or off."""
    from weaver.nn.model.ParticleTransformer import ParticleTransformer

    blocks: dict[str, Any] = {"ffn_ratio": 4, "dropout": 0.1, "attn_dropout": 0.0, "activation_dropout": 0.0}
    off = {} if scalings else dict.fromkeys(SCALINGS, False)
    return ParticleTransformer(f, num_classes=5, pair_input_dim=4, embed_dims=(64, 64), pair_embed_dims=(32, 32),
                               num_heads=4, num_layers=4, num_cls_layers=1, fc_params=[], remove_self_pair=True,
                               trim=False, block_params=blocks | off, cls_block_params=off)


def weaver_particlenet(f: int) -> torch.nn.Module:
    from weaver.nn.model.ParticleNet import ParticleNet

    return ParticleNet(f, 5, conv_params=[(16, (64, 64, 64)), (16, (128, 128, 128)), (16, (256, 256, 256))],
                       fc_params=[(256, 0.1)], use_fusion=True, trim=False)


def pn_call(model: torch.nn.Module, b: dict) -> torch.Tensor:
    return model(b["points"].transpose(1, 2), b["x"].transpose(1, 2), b["mask"].float()[:, None])  # (B, C, P)


def pt_call(model: torch.nn.Module, b: dict) -> torch.Tensor:
    v = b["p4"][..., [1, 2, 3, 0]].transpose(1, 2)  # (B, 4, P) px, py, pz, E
    return model(b["x"].transpose(1, 2), v=v, mask=b["mask"][:, None])


def watch(model: torch.nn.Module, weaver: bool, part: bool) -> list[tuple[int, ...]]:
    """Hooks appending (slots, real particles[, pairs embedded]) per forward call of ``model``; the list."""
    seen: list[tuple[int, ...]] = []

    def particles(mask: torch.Tensor) -> None:
        seen.append((mask.shape[-1], int(mask.sum())))

    def pairs(feats: torch.Tensor) -> None:
        seen[-1] += (feats.shape[-1] if weaver else feats.shape[0],)  # weaver (1, 4, M), jetlab (M, 4)

    if weaver:
        model.trimmer.register_forward_hook(lambda m, i, out: particles(out[2]))  # (B, 1, P) after trimming
    else:
        entry = model.pair_embed if part else model.blocks[0]
        entry.register_forward_pre_hook(lambda m, args: particles(args[1]))  # (B, P) after trim_padding
    if part:
        first = model.pair_embed.embed[0] if weaver else model.pair_embed.net[0]
        first.register_forward_pre_hook(lambda m, args: pairs(args[0]))
    return seen


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(model: torch.nn.Module, call: Call, batch: dict, train: bool, opt: torch.optim.Optimizer,
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


def comparisons(f: int, p: int) -> dict[str, dict[str, tuple[torch.nn.Module, Call]]]:
    """Row name -> {"jetlab": (model, call), "weaver": (model, call)}."""
    dims = InputDims(particle_features=f, max_particles=p)
    ours: Call = lambda m, b: m(b)  # noqa: E731
    return {
        "particlenet": {"jetlab": (create("particlenet", dims=dims), ours), "weaver": (weaver_particlenet(f), pn_call)},
        "part v1 (scalings on)": {"jetlab": (create("part", dims=dims, **dict.fromkeys(WEAVER_EXTRAS, True)), ours),
                                  "weaver": (weaver_part(f, scalings=True), pt_call)},
        "part (scalings off)": {"jetlab": (create("part", dims=dims, pair_bias=True, pair_out_norm=True), ours),
                                "weaver": (weaver_part(f, scalings=False), pt_call)},
    }


def compare(name: str, sides: dict[str, tuple[torch.nn.Module, Call]], batch: dict, args: argparse.Namespace) -> bool:
    """Print the train and inference rows of one comparison; False if it is not like for like."""
    seen = {k: watch(m, k == "weaver", name.split()[0] == "part") for k, (m, _) in sides.items()}
    opts = {k: torch.optim.Adam(m.parameters(), lr=1e-3) for k, (m, _) in sides.items()}
    params = {k: count_parameters(m) for k, (m, _) in sides.items()}
    same_params = params["jetlab"] == params["weaver"]
    for train in (True, False):
        times: dict[str, list[float]] = {"jetlab": [], "weaver": []}
        for k, (m, call) in sides.items():  # warm-up
            timed(m, call, batch, train, opts[k], args.device)
        order = list(sides.items())
        for r in range(args.repeats):
            for k, (m, call) in order if r % 2 == 0 else order[::-1]:  # alternate who goes first
                times[k].append(timed(m, call, batch, train, opts[k], args.device))
        rate = {k: args.batch / statistics.median(v) for k, v in times.items()}
        same_inputs = seen["jetlab"] == seen["weaver"]
        ratio = f"{rate['jetlab'] / rate['weaver']:.2f}" if same_params and same_inputs else "-"
        print(f"| {name} | {params['jetlab']:,} / {params['weaver']:,} | {'train' if train else 'inference'} | "
              f"{seen['jetlab'][-1]} / {seen['weaver'][-1]} | {rate['jetlab']:,.1f} | {rate['weaver']:,.1f} | "
              f"{ratio} |", flush=True)
    if not same_params:
        print(f"  {name}: parameter counts differ ({params['jetlab']:,} vs {params['weaver']:,}): no ratio")
    if seen["jetlab"] != seen["weaver"]:
        diff = next(i for i, (a, b) in enumerate(zip(seen["jetlab"], seen["weaver"])) if a != b)
        print(f"  {name}: inputs differ at call {diff}: {seen['jetlab'][diff]} vs {seen['weaver'][diff]}: no ratio")
    return same_params and seen["jetlab"] == seen["weaver"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--particles", type=int, default=64)
    ap.add_argument("--features", type=int, default=13)
    ap.add_argument("--repeats", type=int, default=11)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--only", default="", help="comma-separated row names (default: all)")
    args = ap.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("jetlab: error: --device cuda: no CUDA device available")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    batch = {k: v.to(args.device) for k, v in make_batch(args.batch, args.particles, args.features).items()}
    rows = comparisons(args.features, args.particles)
    where = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU, {args.threads} threads"
    print(f"batch {args.batch}, {args.particles} particle slots (20..{args.particles} real, "
          f"{int(batch['mask'].sum())} in all), {args.features} features, {where}, median of {args.repeats} "
          f"interleaved steps (alternating which side goes first) after 1 warm-up;\n"
          "seen = (slots, real particles[, pairs embedded]) in the last call\n")
    print("| model | params jetlab / weaver | mode | seen jetlab / weaver | jetlab jets/s | weaver jets/s | ratio |")
    print("|---|---|---|---|---:|---:|---:|")
    ok = True
    for name, sides in rows.items():
        if not args.only or name.split()[0] in args.only.split(","):
            for m, _ in sides.values():
                m.to(args.device)
            ok &= compare(name, sides, batch, args)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(recorded("train_throughput", main))
