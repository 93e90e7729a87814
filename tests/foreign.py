"""Tiny files in the exact layouts of the public jet datasets (see :mod:`jetlab.io.readers`).

Each ``write_*`` function writes ``path`` and returns what it wrote as a dict of numpy arrays
(``labels``, ``counts``, ``jet`` = pt, eta, phi, mass of the four-vector sum, ``pt`` (N, P) as stored),
so tests can compare a reader's output with the truth. Real particles are stored in random order,
padding after them, to check that readers sort by pT.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from jetlab.physics.kinematics import delta_phi, p4_from_pt_eta_phi_m, pt_eta_phi_m
from jetlab.schema import HLS4ML_JET_FEATURES, HLS4ML_PARTICLE_FEATURES

__all__ = ["random_particles", "write_hls4ml", "write_toptag", "write_qg", "write_jetnet", "WRITERS"]

PION_MASS = 0.13957
_ARRAY = {"CLASS": "ARRAY", "VERSION": "2.4", "TITLE": "", "FLAVOR": "numpy"}  # PyTables node attributes


def random_particles(n: int, p: int, seed: int = 0, phi0: float | None = None) -> dict[str, np.ndarray]:
    """pt, eta, phi (N, P) around a random jet axis; real particles shuffled, zero padding after them."""
    r = np.random.default_rng(seed)
    counts = r.integers(2, p + 1, n)
    counts[0] = p  # one full jet
    jet_eta = r.uniform(-1.5, 1.5, n)
    jet_phi = r.uniform(-np.pi, np.pi, n) if phi0 is None else np.full(n, phi0)
    mask = np.arange(p)[None, :] < counts[:, None]  # (N, P)
    pt = np.where(mask, r.exponential(30.0, (n, p)) + 0.5, 0.0)
    eta = np.where(mask, jet_eta[:, None] + r.normal(0, 0.2, (n, p)), 0.0)
    phi = np.where(mask, delta_phi(jet_phi[:, None] + r.normal(0, 0.2, (n, p)), 0.0), 0.0)
    return {"pt": pt, "eta": eta, "phi": phi, "mask": mask, "counts": counts}


def _p4(s: dict[str, np.ndarray], mass: float) -> tuple[np.ndarray, ...]:
    """(px, py, pz, E) (N, P) of the particles of ``random_particles``, zero padded."""
    m = np.where(s["mask"], mass, 0.0)
    return tuple(np.where(s["mask"], a, 0.0) for a in p4_from_pt_eta_phi_m(s["pt"], s["eta"], s["phi"], m))


def _jet_sum(px: np.ndarray, py: np.ndarray, pz: np.ndarray, e: np.ndarray) -> np.ndarray:
    return np.stack(pt_eta_phi_m(px.sum(1), py.sum(1), pz.sum(1), e.sum(1)), axis=1)  # (N, 4)


def _names(names: list[str] | tuple[str, ...]) -> np.ndarray:
    return np.array([s.encode() for s in names])


def write_hls4ml(
    path: Path, n: int = 10, p: int = 20, seed: int = 0, pdgid_name: bool = True, pdgid_column: bool = False
) -> dict[str, np.ndarray]:
    """hls4ml ``jetImage_*.h5``: jets (N, 59), jetConstituentList (N, P, 16[+1]), names, jetImage."""
    s = random_particles(n, p, seed)
    px, py, pz, e = _p4(s, PION_MASS)
    jet = _jet_sum(px, py, pz, e)
    labels = np.arange(n) % 6 - (np.arange(n) % 6 == 5) * 6  # 0..4 and -1 (j_undef)
    r = np.random.default_rng(seed + 1)
    table = r.uniform(0.0, 1.0, (n, 59))
    col = {k: i for i, k in enumerate(HLS4ML_JET_FEATURES)}
    table[:, [col["j_pt"], col["j_eta"], col["j_mass"]]] = jet[:, [0, 1, 3]]
    table[:, col["j_multiplicity"]] = s["counts"]
    table[:, -6:] = np.eye(6)[np.where(labels < 0, 5, labels)]
    jpx, jpy, jpz, je = p4_from_pt_eta_phi_m(*jet.T)
    deta, dphi = s["eta"] - jet[:, 1:2], delta_phi(s["phi"], jet[:, 2:3])
    pabs = np.sqrt(px**2 + py**2 + pz**2)
    costheta = pz / np.where(pabs > 0, pabs, 1)
    feats = [px, py, pz, e, e / je[:, None], s["pt"], s["pt"] / jet[:, :1], s["eta"], deta, deta, s["phi"],
             dphi, dphi, np.hypot(deta, dphi), costheta, np.zeros_like(px)]  # fmt: skip
    names = list(HLS4ML_PARTICLE_FEATURES)
    if pdgid_column:
        feats.append(np.where(s["mask"], np.where(r.random((n, p)) < 0.5, 211.0, -211.0), 0.0))
    if pdgid_name or pdgid_column:
        names.append("j1_pdgid")
    cons = np.where(s["mask"][..., None], np.stack(feats, -1), 0.0)
    with h5py.File(path, "w") as f:
        f["jets"] = table.astype(np.float32)
        f["jetFeatureNames"] = _names(HLS4ML_JET_FEATURES)
        f["jetConstituentList"] = cons.astype(np.float32)
        f["particleFeatureNames"] = _names(names)
        f["jetImage"] = np.zeros((n, 100, 100), np.float32)
    return {"labels": labels, "counts": s["counts"], "jet": jet, "pt": s["pt"], "table": table}


def _pytables_attrs(obj: h5py.HLObject, **attrs: object) -> None:
    for k, v in attrs.items():
        obj.attrs[k] = np.bytes_(v) if isinstance(v, str) else v


def write_toptag(
    path: Path, n: int = 10, m: int = 200, seed: int = 0, split_blocks: bool = False
) -> dict[str, np.ndarray]:
    """Top Tagging ``train.h5``: pandas fixed-format frame in group ``table`` (axis0/1, block{b}_*)."""
    s = random_particles(n, m, seed)
    px, py, pz, e = _p4(s, 0.0)
    labels = np.where(np.arange(n) % 2 == 0, 1, 0)  # top, qcd (scheme toptag)
    columns = [f"{c}_{i}" for i in range(m) for c in ("E", "PX", "PY", "PZ")]
    columns += ["truthE", "truthPX", "truthPY", "truthPZ", "ttv", "is_signal_new"]
    four = np.stack([e, px, py, pz], -1).reshape(n, 4 * m)
    truth = np.random.default_rng(seed + 1).normal(0, 100, (n, 4))
    values = np.concatenate([four, truth, np.zeros((n, 1)), (labels == 1)[:, None]], 1)  # (N, 4M + 6)
    cut = len(columns) - (2 if split_blocks else 0)
    blocks = [(columns[:cut], values[:, :cut].astype(np.float32))]
    if split_blocks:
        blocks.append((columns[cut:], values[:, cut:].astype(np.int64)))
    with h5py.File(path, "w") as f:
        g = f.create_group("table")
        _pytables_attrs(g, CLASS="GROUP", TITLE="", VERSION="1.0", pandas_type="frame",
                        pandas_version="0.15.2", encoding="UTF-8", errors="strict", ndim=2,
                        nblocks=len(blocks), axis0_variety="regular", axis1_variety="regular")  # fmt: skip
        g["axis0"] = _names(columns)
        g["axis1"] = np.arange(n, dtype=np.int64)
        for name, kind in (("axis0", "string"), ("axis1", "integer")):
            _pytables_attrs(g[name], **_ARRAY, kind=kind, name="N.")
        for b, (items, vals) in enumerate(blocks):
            g.attrs[f"block{b}_items_variety"] = np.bytes_("regular")
            g[f"block{b}_items"] = _names(items)
            _pytables_attrs(g[f"block{b}_items"], **_ARRAY, kind="string", name="N.")
            g[f"block{b}_values"] = vals
            _pytables_attrs(g[f"block{b}_values"], **_ARRAY, transposed=np.bool_(True))
    return {"labels": labels, "counts": s["counts"], "jet": _jet_sum(px, py, pz, e), "pt": s["pt"]}


def write_qg(path: Path, n: int = 10, m: int = 30, seed: int = 0) -> dict[str, np.ndarray]:
    """energyflow ``QG_jets.npz``: X (N, M, 4) = pt, rapidity, phi, pdgid (float64), y (N,) 1 = quark."""
    s = random_particles(n, m, seed)
    r = np.random.default_rng(seed + 1)
    pid = np.where(s["mask"], r.choice([22, 211, -211, 321, -321, 130, 2112, -2112, 2212, -2212, 11, -13],
                                       (n, m)), 0)  # fmt: skip
    phi = np.where(s["mask"], s["phi"] + np.pi, 0.0)  # energyflow phi lies in [0, 2 pi)
    x = np.stack([s["pt"], s["eta"], phi, pid], -1).astype(np.float64)  # eta column used as rapidity
    y = (np.arange(n) % 2).astype(np.float64)
    np.savez_compressed(path, X=x, y=y)
    return {"labels": (1 - y).astype(np.int64), "counts": s["counts"], "pt": s["pt"], "rapidity": s["eta"],
            "pid": pid}  # fmt: skip


def write_jetnet(path: Path, n: int = 10, p: int = 30, seed: int = 0) -> dict[str, np.ndarray]:
    """JetNet ``t.hdf5``: particle_features (N, P, 4) = etarel, phirel, ptrel, mask; jet_features (N, 4)."""
    s = random_particles(n, p, seed)
    px, py, pz, e = _p4(s, 0.0)
    jet = _jet_sum(px, py, pz, e)
    mask = s["mask"]
    etarel = np.where(mask, s["eta"] - jet[:, 1:2], 0.0)
    phirel = np.where(mask, delta_phi(s["phi"], jet[:, 2:3]), 0.0)
    ptrel = np.where(mask, s["pt"] / jet[:, :1], 0.0)
    with h5py.File(path, "w") as f:
        f["particle_features"] = np.stack([etarel, phirel, ptrel, mask], -1).astype(np.float32)
        f["jet_features"] = np.stack([jet[:, 0], jet[:, 1], jet[:, 3], s["counts"]], -1).astype(np.float32)
    return {"counts": s["counts"], "jet": jet, "pt": s["pt"]}


# fmt -> (writer, file name) in the dataset's own naming
WRITERS = {
    "hls4ml": (write_hls4ml, "jetImage_7_100p_0_10000.h5"),
    "toptag": (write_toptag, "train.h5"),
    "qg": (write_qg, "QG_jets.npz"),
    "jetnet": (write_jetnet, "t.hdf5"),
}
