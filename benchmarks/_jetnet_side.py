"""The jetnet half of ``benchmarks/jetnet_reference.py``; runs in the jetnet venv (numpy < 2), not in jetlab's.

Usage: ``<venv>/bin/python benchmarks/_jetnet_side.py JETS.npz OUT.json``. Reads the pairs written by
jetnet_reference.py (``<pair>_real``, ``<pair>_fake`` (N, P, 3) as (Δη, Δφ, pT_rel), ``<pair>_real_mask``,
``<pair>_fake_mask``, and ``settings`` as JSON), computes jetnet's w1m, w1p, w1efp, fpd and kpd on each pair
with jetnet's own functions and default feature sets, and writes them as JSON, with jetnet's 36 FPD
features of the first pair's first jets (to compare feature by feature). Imports nothing from jetlab.
"""

from __future__ import annotations

import json
import sys
import warnings

import numpy as np
from jetnet.evaluation import gen_metrics as gm

warnings.filterwarnings("ignore")  # jetnet warns that fewer than 50,000 jets are given


def pair_metrics(real: np.ndarray, fake: np.ndarray, rm: np.ndarray, fm: np.ndarray, s: dict) -> dict:
    """jetnet's metrics of one (real, fake) pair, with the sizes in ``s``."""
    w1 = {"num_eval_samples": s["n_eval"], "num_batches": s["n_batches"]}
    fr = gm.get_fpd_kpd_jet_features(real, efp_jobs=1)
    ff = gm.get_fpd_kpd_jet_features(fake, efp_jobs=1)
    out = {
        "w1m": [float(v) for v in gm.w1m(real, fake, **w1)],
        "w1p": [np.asarray(v).tolist() for v in gm.w1p(real, fake, rm, fm, **w1)],
        "w1efp": [np.asarray(v).tolist() for v in gm.w1efp(real, fake, efp_jobs=1, **w1)],
        "fpd": [float(v) for v in gm.fpd(fr, ff, min_samples=s["fpd_min"], max_samples=s["fpd_max"],
                                         num_batches=s["fpd_batches"], num_points=s["fpd_points"])],
        "kpd": [float(v) for v in gm.kpd(fr, ff, num_batches=s["kpd_batches"], batch_size=s["kpd_batch_size"])],
    }
    return out, fr


def main() -> int:
    data = np.load(sys.argv[1])
    settings = json.loads(str(data["settings"]))
    res, first = {}, None
    for pair in settings["pairs"]:
        res[pair], feats = pair_metrics(data[f"{pair}_real"], data[f"{pair}_fake"], data[f"{pair}_real_mask"],
                                        data[f"{pair}_fake_mask"], settings)
        if first is None:
            first = feats[: settings["n_feature_check"]]
        print(f"jetnet: {pair} done", flush=True)
    res["efps_first_pair"] = np.asarray(first).tolist()
    with open(sys.argv[2], "w") as f:
        json.dump(res, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
