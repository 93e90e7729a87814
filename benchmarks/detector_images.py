"""Benchmark: photon identification from calorimeter images, γ against π⁰ → γγ, and the ViT's data-size question.

Data: ``jetlab showers generate --particle gamma,pi0`` in CaloGAN's calorimeter (strips 3×96 of 5 mm, middle
12×12 of 40 mm, back 12×6), energies log-uniform over 10-200 GeV, impact points spread over one middle cell
(``--impact-mm 40``); the π⁰ decays 1.5 m before the face, so its photons are ≳ 405 mm / (E/GeV) apart: 40 mm
at 10 GeV (a middle cell), 2 mm at 200 GeV (less than a strip) — they merge as the energy grows.

Models, all through ``jetlab train`` / ``evaluate`` (the same splits, the same test showers):
``shower_bdt`` (LightGBM on the photon-identification shower shapes: strip E_ratio, ΔE, w_s3, w_stot, f_side,
middle R_η, R_φ, w_η2, layer fractions, response, ln E) and ``cnn``, ``resnet``, ``vit``, ``vit_hybrid`` on the
``calo_image`` layer images (11 × 12 × 12: 8 strip channels, middle, back, ln E). One CPU budget: each network
trains (torch on one thread) until it has used ``--budget`` CPU seconds (``trainer.max_cpu_seconds``, which
does not shrink when other jobs share the machine), at most ``--max-epochs``, with the task's early stopping.
Metrics: AUC and the π⁰ rejection 1/εB at 90 % photon efficiency, overall and in 5 log-spaced bins of the
incident energy (``vs_energy`` of ``metrics.json``).

Then the data-size study: ``resnet`` and ``vit`` at smaller training sets (``--sizes``; ``data.max_jets``),
evaluated on the same full test split, each with half the CPU budget.

Trained runs are kept under ``--out``; a rerun only re-reads their metrics (``--fresh`` retrains).

Run:  python benchmarks/detector_images.py [--n 20000] [--budget 240] [--sizes 2000,8000] [--out /tmp/detector_images]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import torch

from jetlab.generate.showers.runner import ShowerConfig, generate_showers
from jetlab.models import InputDims, create
from jetlab.tasks.config import resolve_config
from jetlab.tasks.evaluate import evaluate
from jetlab.tasks.train import train

from _record import recorded

CNN_12 = {"channels": (16, 32), "kernels": (3, 3), "pools": (2, 2), "dense": (64,), "dropout": 0.1}  # 12×12 input
MODELS: dict[str, dict[str, Any]] = {"shower_bdt": {}, "cnn": CNN_12, "resnet": {}, "vit": {}, "vit_hybrid": {}}
CLASSES = "gamma:pi0"  # signal gamma (class 1), background pi0
REUSED: list[str] = []  # runs of an earlier invocation re-read, not retrained


def train_rate(model: str, hparams: dict[str, Any], batch: int = 128, steps: int = 4) -> float:
    """Training images/s of ``model`` on 11 × 12 × 12 images, torch on one thread (after one warm-up step)."""
    net = create(model, n_classes=2, dims=InputDims(image_bins=12, image_channels=11), **hparams)
    opt = torch.optim.Adam(net.parameters())
    x, y = {"x": torch.randn(batch, 11, 12, 12)}, torch.randint(0, 2, (batch,))
    for i in range(steps + 1):
        if i == 1:
            start = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return steps * batch / (time.perf_counter() - start)


def run_model(model: str, data: Path, run: Path, epochs: int, max_jets: int | None, budget_s: float
              ) -> dict[str, Any]:
    """Train (unless already evaluated) and evaluate one run; its metrics.json as a dict plus train.json."""
    if (run / "metrics.json").is_file():
        REUSED.append(run.name)
    else:
        shutil.rmtree(run, ignore_errors=True)
        cfg = resolve_config(model, str(data), user={"hparams": MODELS[model]}, overrides={
            "data": {"classes": CLASSES, "max_jets": max_jets},
            "trainer": {"epochs": epochs, "progress": False, "max_cpu_seconds": budget_s}})
        train(cfg, run)
        evaluate(run, n_bootstrap=50)
    res = json.loads((run / "metrics.json").read_text())
    res["train"] = json.loads((run / "train.json").read_text())
    return res


def rejection(r: dict[str, Any], n_background: int) -> str:
    """A rejection entry of metrics.json as text ("> n" when no background shower passes)."""
    return f"> {n_background}" if r["inf"] else f"{r['value']:.3g} ± {(r['unc'] or 0):.2g}"


def fmt_auc(auc: float | None, unc: float | None) -> str:
    return "—" if auc is None else f"{auc:.4f} ± {(unc or 0):.4f}"


def main_table(results: dict[str, dict[str, Any]]) -> None:
    bins = next(iter(results.values()))["metrics"]["vs_energy"]
    heads = [f"{b['lo']:.0f}-{b['hi']:.0f}" for b in bins]
    print("\nγ vs π⁰, π⁰ rejection 1/εB at 90 % photon efficiency, overall and per incident energy (GeV):\n")
    print("| model | params | epochs | train s | AUC | 1/εB @ εS=0.9 | " + " | ".join(heads) + " | inference img/s |")
    print("|:---|---:|---:|---:|---:|---:|" + "---:|" * len(heads) + "---:|")
    for name, res in results.items():
        m, t = res["metrics"], res["train"]
        per_bin = " | ".join(rejection(b["rejection"]["0.9"], b["n_background"]) for b in m["vs_energy"])
        overall = rejection(m["rejection"]["gamma"]["0.9"], m["n_background"]["gamma"])
        print(f"| {name} | {res['params']:,} | {t['epochs']} | {t['train_time_s']:.0f} | "
              f"{fmt_auc(m['auc']['gamma'], m['auc_unc']['gamma'])} | {overall} | {per_bin} | "
              f"{res['inference_jets_per_s']:,.0f} |")
    print("\nAUC per incident energy (GeV):\n")
    print("| model | " + " | ".join(heads) + " |")
    print("|:---|" + "---:|" * len(heads))
    for name, res in results.items():
        print(f"| {name} | " + " | ".join(fmt_auc(b["auc"], b["auc_unc"]) for b in res["metrics"]["vs_energy"]) + " |")


def rejections(res: dict[str, Any]) -> list[float]:
    """1/εB at εS = 0.9 per energy bin (inf as inf)."""
    out = []
    for b in res["metrics"]["vs_energy"]:
        r = b["rejection"]["0.9"]
        out.append(float("inf") if r["inf"] else float(r["value"]))
    return out


def summary(results: dict[str, dict[str, Any]], sizes: dict[int, dict[str, float]]) -> None:
    nets = {k: v for k, v in results.items() if k != "shower_bdt"}
    best = max(nets, key=lambda k: nets[k]["metrics"]["auc"]["gamma"])
    bdt, net = rejections(results["shower_bdt"]), rejections(nets[best])
    ratios = [n / b for n, b in zip(net, bdt, strict=True)]
    where = max(range(len(ratios)), key=lambda i: ratios[i])
    bins = [f"{b['lo']:.0f}-{b['hi']:.0f} GeV" for b in results["shower_bdt"]["metrics"]["vs_energy"]]
    lost = [bins[i] for i, r in enumerate(ratios) if r <= 1]
    verdict = "in every energy bin" if not lost else f"in {len(ratios) - len(lost)} of {len(ratios)} energy bins, " \
        f"not at {', '.join(lost)}"
    print(f"\nsummary: best network {best} beats the shower-shape BDT in π⁰ rejection at 90 % photon efficiency "
          f"{verdict}; network / BDT rejection per bin {', '.join(f'{r:.2f}' for r in ratios)}, largest at "
          f"{bins[where]}")
    for n in sorted(sizes):
        gap = sizes[n]["resnet"] - sizes[n]["vit"]
        verdict = ("ahead by more than 0.003" if gap < -0.003 else "behind by more than 0.003" if gap > 0.003
                   else "within 0.003")
        print(f"summary: {n:,} training showers: ViT AUC {sizes[n]['vit']:.4f} vs ResNet {sizes[n]['resnet']:.4f} "
              f"(ResNet - ViT = {gap:+.4f}, ViT {verdict})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="/tmp/detector_images")
    ap.add_argument("--n", type=int, default=20000, help="showers per particle")
    ap.add_argument("--budget", type=float, default=240.0, help="training CPU seconds per network, largest set")
    ap.add_argument("--max-epochs", type=int, default=30)
    ap.add_argument("--sizes", default="2000,8000", help="smaller training sets for resnet vs vit")
    ap.add_argument("--fresh", action="store_true", help="retrain every run")
    args = ap.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    if args.fresh:
        shutil.rmtree(out / "runs", ignore_errors=True)
    data = out / "showers"
    start = time.perf_counter()
    cfg = ShowerConfig(out=data, geometry="calogan", particle="gamma,pi0", n=args.n, spectrum=("log-uniform", 10, 200),
                       impact_mm=40.0, shard_size=5000, seed=0, progress=False)
    made = generate_showers(cfg)
    print(f"showers: {made['n_showers']:,} (γ, π⁰ 10-200 GeV log-uniform, impact ±20 mm), {made['shards_made']} "
          f"shard(s) made in {time.perf_counter() - start:.0f} s", flush=True)
    n_train = int(0.6 * 2 * args.n)
    rates = {m: train_rate(m, hp) for m, hp in MODELS.items() if m != "shower_bdt"}
    print("training speed, images/s on one thread: " + ", ".join(f"{m} {r:,.0f}" for m, r in rates.items()), flush=True)

    def epochs(model: str, n: int, budget: float) -> int:  # the cap; the CPU budget usually stops first
        return args.max_epochs if model in rates else 1

    results = {}
    for model in MODELS:
        t = time.perf_counter()
        results[model] = run_model(model, data, out / "runs" / model, epochs(model, n_train, args.budget), None,
                                   args.budget)
        print(f"{model:>11}: {time.perf_counter() - t:5.0f} s, AUC {results[model]['metrics']['auc']['gamma']:.4f}",
              flush=True)
    main_table(results)

    sizes = {n_train: {m: float(results[m]["metrics"]["auc"]["gamma"]) for m in ("resnet", "vit")}}
    epochs_used: dict[int, dict[str, int]] = {n_train: {m: results[m]["train"]["epochs"] for m in ("resnet", "vit")}}
    for size in (int(s) for s in args.sizes.split(",")):
        sizes[size], epochs_used[size] = {}, {}
        for model in ("resnet", "vit"):
            # max_jets caps every split of the training run (train, val); evaluate reads the whole test split
            res = run_model(model, data, out / "runs" / f"{model}_{size}", epochs(model, size, args.budget / 2), size,
                            args.budget / 2)
            sizes[size][model], epochs_used[size][model] = res["metrics"]["auc"]["gamma"], res["train"]["epochs"]
            print(f"{model:>11} @ {size:>6,}: AUC {sizes[size][model]:.4f}", flush=True)
    print("\nViT vs ResNet at equal training data (γ vs π⁰ AUC on the same test split):\n")
    print("| training showers | resnet AUC (epochs) | vit AUC (epochs) | resnet - vit |")
    print("|---:|---:|---:|---:|")
    for n in sorted(sizes):
        s, e = sizes[n], epochs_used[n]
        print(f"| {n:,} | {s['resnet']:.4f} ({e['resnet']}) | {s['vit']:.4f} ({e['vit']}) | "
              f"{s['resnet'] - s['vit']:+.4f} |")
    summary(results, sizes)
    print(f"\ntotal {time.perf_counter() - start:.0f} s"
          + (f"; {len(REUSED)} runs re-read from an earlier invocation on {out} (their train s above are the "
             f"times of that invocation)" if REUSED else ""))
    return 0


if __name__ == "__main__":
    sys.exit(recorded("detector_images", main))
