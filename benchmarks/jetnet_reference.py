"""Benchmark: jetlab's JetNet metrics (W1M, W1P, W1EFP, FPD, KPD) against the jetnet library, on the same jets.

jetnet and energyflow need numpy < 2 and jetlab runs on numpy 2, so they are not dependencies: jetnet runs
in its own venv, as a subprocess (``benchmarks/_jetnet_side.py``). Set that venv up once::

    python -m venv --system-site-packages /tmp/jetnet_venv     # reuses the installed torch
    /tmp/jetnet_venv/bin/pip install "numpy<2" "pyarrow<17" "pandas<2.3" jetnet==0.2.5 energyflow==1.4.0

(the venv's numpy 1.26 shadows the system's numpy 2; pyarrow and pandas are pinned to versions built
for numpy 1). Per class, the real jets (30 hardest constituents as (Δη, Δφ, pT_rel)) are split in halves
A and B, and four pairs are written to one .npz: A vs B (truth vs truth), A vs B with every constituent
pT × 1.05, A vs B with the softest 10 % of each jet's particles removed, and A vs B of the *other* class.
Both libraries compute their metrics on each pair with the same sample sizes; the table prints both in
JetNet's units and their difference in units of the two uncertainties added in quadrature. The two sides
draw different random batches, so they agree to within those uncertainties, not digit for digit.
jetnet's 36 FPD features of the first jets are also compared with jetlab's, feature by feature, and
jetlab's extras (W1N, FPD-asinh) are printed for the same pairs.

Run:  python benchmarks/jetnet_reference.py [--data benchmarks/_data/landscape] [--classes g,t]
      [--jetnet-python /tmp/jetnet_venv/bin/python]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from jetlab.io import open_jets
from jetlab.metrics.distort import drop_softest, scale_pt
from jetlab.metrics.generative import JETNET_METRICS, GenMetricsConfig, _capped, generative_metrics
from jetlab.metrics.jetnet import UNITS, jetnet_efps
from jetlab.represent import relative_clouds as clouds

from _record import recorded

SIDE = Path(__file__).with_name("_jetnet_side.py")


def class_pairs(data: str, classes: list[str], seed: int) -> dict[str, tuple[np.ndarray, ...]]:
    """Four (real x, real mask, fake x, fake mask) pairs per class, as in the module docstring."""
    halves = {}
    for c in classes:
        x, m = clouds(open_jets(data).select_classes([c]))
        order = np.random.default_rng(seed).permutation(len(x))
        a, b = order[: len(x) // 2], order[len(x) // 2 : 2 * (len(x) // 2)]
        halves[c] = (x[a], m[a], x[b], m[b])
    n = min(len(h[0]) for h in halves.values())
    pairs = {}
    for i, c in enumerate(classes):
        xa, ma, xb, mb = (v[:n] for v in halves[c])
        other = halves[classes[(i + 1) % len(classes)]]
        pairs[f"{c}: truth vs truth"] = (xa, ma, xb, mb)
        pairs[f"{c}: pT x 1.05"] = (xa, ma, *scale_pt(xb, mb, 1.05))
        pairs[f"{c}: softest 10% dropped"] = (xa, ma, *drop_softest(xb, mb, 0.10))
        pairs[f"{c}: vs other class"] = (xa, ma, other[2][:n], other[3][:n])
    return pairs


def run_jetnet(python: str, pairs: dict[str, tuple[np.ndarray, ...]], settings: dict) -> dict:
    """jetnet's metrics of every pair, computed by ``_jetnet_side.py`` in the jetnet venv."""
    with tempfile.TemporaryDirectory() as tmp:
        arrays = {}
        for k, (xa, ma, xb, mb) in pairs.items():
            arrays |= {f"{k}_real": xa, f"{k}_real_mask": ma, f"{k}_fake": xb, f"{k}_fake_mask": mb}
        np.savez(Path(tmp) / "jets.npz", settings=json.dumps({**settings, "pairs": list(pairs)}), **arrays)
        subprocess.run([python, str(SIDE), str(Path(tmp) / "jets.npz"), str(Path(tmp) / "out.json")], check=True)
        return json.loads((Path(tmp) / "out.json").read_text())


def _avg(means: list[float], stds: list[float]) -> tuple[float, float]:
    """Feature average ± sqrt(Σ std²)/F, jetlab's convention for W1P and W1EFP."""
    return float(np.mean(means)), float(np.sqrt(np.sum(np.square(stds))) / len(means))


def jetnet_values(res: dict) -> dict[str, tuple[float, float]]:
    return {"w1m": tuple(res["w1m"]), "w1p": _avg(*res["w1p"]), "w1efp": _avg(*res["w1efp"]),
            "fpd": tuple(res["fpd"]), "kpd": tuple(res["kpd"])}


def feature_check(x: np.ndarray, m: np.ndarray, theirs: np.ndarray) -> float:
    """Largest relative difference between each jetnet FPD feature and its best-matching jetlab one."""
    ours = jetnet_efps(x[: len(theirs)], m[: len(theirs)])  # (K, 36)
    scale = np.abs(theirs).max(0) + 1e-300  # (36,)
    diff = np.abs(ours[:, :, None] - theirs[:, None, :]).max(0) / scale  # (36 ours, 36 theirs)
    return float(diff.min(0).max())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="benchmarks/_data/landscape")
    ap.add_argument("--classes", default="g,t")
    ap.add_argument("--jetnet-python", default="/tmp/jetnet_venv/bin/python")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    pairs = class_pairs(args.data, args.classes.split(","), args.seed)
    n = len(next(iter(pairs.values()))[0])
    cfg = _capped(GenMetricsConfig(classifier=False, seed=args.seed), n)
    settings = {"n_eval": cfg.n_eval, "n_batches": cfg.n_batches, "fpd_min": cfg.fpd_min, "fpd_max": cfg.fpd_max,
                "fpd_batches": cfg.fpd_batches, "fpd_points": cfg.fpd_points, "kpd_batches": cfg.kpd_batches,
                "kpd_batch_size": cfg.kpd_batch_size, "n_feature_check": 300}
    print(f"data {args.data}: {n} jets per sample; settings {settings}", flush=True)
    theirs = run_jetnet(args.jetnet_python, pairs, settings)
    first = next(iter(pairs.values()))
    print(f"36 FPD features, {settings['n_feature_check']} jets: largest relative difference jetlab vs jetnet "
          f"{feature_check(first[0], first[1], np.asarray(theirs['efps_first_pair'])):.1e}")
    print("\nvalues in JetNet's units (W1M, W1P, FPD, KPD x1e3; W1EFP x1e5); pull = (jetlab - jetnet) / "
          "sqrt(unc_jetlab^2 + unc_jetnet^2)")
    print("| pair | metric | jetlab | jetnet | pull |\n|---|---|---|---|---|")
    extras = {}
    for k, (xa, ma, xb, mb) in pairs.items():
        ours, ref = generative_metrics(xa, xb, ma, mb, cfg), jetnet_values(theirs[k])
        extras[k] = ours
        for metric in JETNET_METRICS:
            u = UNITS[metric]
            (v1, e1), (v2, e2) = (ours[metric]["value"], ours[metric]["unc"]), ref[metric]
            pull = (v1 - v2) / max(np.hypot(e1, e2), 1e-300)
            print(f"| {k} | {metric} | {v1 * u:.3g} ± {e1 * u:.2g} | {v2 * u:.3g} ± {e2 * u:.2g} | {pull:+.1f} |",
                  flush=True)
    print("\njetlab's extras on the same pairs (no jetnet counterpart): W1N (particle multiplicity), FPD-asinh")
    print("| pair | W1N | FPD-asinh |\n|---|---|---|")
    for k, ours in extras.items():
        cells = [f"{ours[m]['value']:.3g} ± {ours[m]['unc']:.2g}" for m in ("w1n", "fpd_asinh")]
        print(f"| {k} | {' | '.join(cells)} |")
    return 0


if __name__ == "__main__":
    sys.exit(recorded("jetnet_reference", main))
