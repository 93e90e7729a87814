"""Tiny ROOT and Parquet files in the JetClass layout and in a columnar layout described by a YAML mapping.

Like :mod:`tests.foreign`, each ``write_*`` writes its files and returns the truth as numpy arrays:
``labels``, ``counts``, ``jet`` (pt, eta, phi, mass of the four-vector sum), ``pt`` (N, P) and every other
particle quantity in the stored (unsorted) order, zero padded; :func:`by_pt` puts one in pT order, as
readers return them. ROOT trees are written by uproot with jagged arrays (a counter branch ``npart`` next to
``part_px, ...``; the real files hold ``std::vector<float>``, read the same way).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot
import yaml

from jetlab.classes import JETCLASS
from jetlab.physics.kinematics import p4_from_pt_eta_phi_m, pt_eta_phi_m
from tests.foreign import random_particles

__all__ = ["write_tree", "jetclass_branches", "write_jetclass", "write_columnar", "write_yaml", "by_pt",
           "ROOT_WRITERS", "FLAGS", "CLASSES3"]

# JetClass particle-type flag branches and the jetlab names the reader gives them.
FLAGS = {"part_isChargedHadron": "is_charged_hadron", "part_isNeutralHadron": "is_neutral_hadron",
         "part_isPhoton": "is_photon", "part_isElectron": "is_electron", "part_isMuon": "is_muon"}
_TYPE_MASS = np.array([0.13957, 0.49761, 0.0, 0.000511, 0.10566])  # charged hadron, neutral hadron, photon, e, mu
_TYPE_CHARGED = np.array([True, False, False, True, True])
CLASSES3 = ["light", "charm", "bottom"]  # the columnar files' label scheme


def by_pt(truth: dict[str, Any], name: str) -> np.ndarray:
    """(N, P) truth ``name`` reordered like a reader: real particles by pT descending, padding after."""
    order = np.argsort(np.where(truth["mask"], -truth["pt"], np.inf), axis=1, kind="stable")
    return np.take_along_axis(np.asarray(truth[name]), order, 1)


def _jagged(a: np.ndarray, mask: np.ndarray, dtype: Any) -> ak.Array:
    """(N, P) zero-padded values -> a jagged array of the real ones (stored order kept)."""
    return ak.unflatten(a[mask].astype(dtype), mask.sum(1))


def write_tree(path: Path, branches: dict[str, Any], tree: str = "tree", group: bool = True,
               rntuple: bool = False) -> None:  # fmt: skip
    """A ROOT file holding ``branches`` (numpy (N,) or jagged awkward) as a TTree (or an RNTuple).

    With ``group``, jagged branches ``part_x, part_y`` share one counter ``npart``; else each has its own.
    """
    data: dict[str, Any] = {}
    groups: dict[str, dict[str, ak.Array]] = {}
    for name, value in branches.items():
        if group and isinstance(value, ak.Array) and value.ndim == 2 and "_" in name and not rntuple:
            head, _, tail = name.partition("_")
            groups.setdefault(head, {})[tail] = value
        else:
            data[name] = value
    data.update({head: ak.zip(fields) for head, fields in groups.items()})
    with uproot.recreate(path) as f:
        if rntuple:
            f.mkrntuple(tree, data)
        else:
            f.mktree(tree, data)


def jetclass_branches(n: int = 10, p: int = 20, seed: int = 0) -> tuple[dict[str, Any], dict[str, Any]]:
    """The branches of a JetClass ``tree`` (exact names and dtypes) and the truth."""
    s = random_particles(n, p, seed)
    r = np.random.default_rng(seed + 7)
    mask = s["mask"]
    kind = np.where(mask, r.choice(5, (n, p), p=[0.55, 0.1, 0.25, 0.05, 0.05]), 0)  # (N, P) particle type
    charged = mask & _TYPE_CHARGED[kind]
    px, py, pz, e = (np.where(mask, a, 0.0) for a in p4_from_pt_eta_phi_m(s["pt"], s["eta"], s["phi"],
                                                                        _TYPE_MASS[kind]))  # fmt: skip
    px, py, pz, e = (a.astype(np.float32).astype(np.float64) for a in (px, py, pz, e))  # as stored
    t: dict[str, Any] = {"mask": mask, "counts": s["counts"], "px": px, "py": py, "pz": pz, "E": e,
                         "pt": np.hypot(px, py)}  # fmt: skip
    t["charge"] = np.where(charged, r.choice([-1.0, 1.0], (n, p)), 0.0)
    for name, scale in (("d0", 0.05), ("dz", 0.08)):
        t[name] = np.where(charged, r.normal(0, scale, (n, p)), 0.0).astype(np.float32)
        t[f"{name}err"] = np.where(charged, r.uniform(0.005, 0.05, (n, p)), 0.0).astype(np.float32)
    for k, name in enumerate(FLAGS.values()):
        t[name] = (mask & (kind == k)).astype(np.float64)
    t["jet"] = np.stack(pt_eta_phi_m(px.sum(1), py.sum(1), pz.sum(1), e.sum(1)), 1)  # (N, 4)
    t["labels"] = np.arange(n) % len(JETCLASS.classes)
    b: dict[str, Any] = {f"part_{k}": _jagged(t[v], mask, np.float32) for k, v in
                         (("px", "px"), ("py", "py"), ("pz", "pz"), ("energy", "E"), ("charge", "charge"),
                          ("d0val", "d0"), ("d0err", "d0err"), ("dzval", "dz"), ("dzerr", "dzerr"))}  # fmt: skip
    b["part_deta"] = _jagged(s["eta"] - t["jet"][:, 1:2], mask, np.float32)
    b["part_dphi"] = _jagged(s["phi"] - t["jet"][:, 2:3], mask, np.float32)
    b.update({branch: _jagged(t[name], mask, np.int32) for branch, name in FLAGS.items()})
    for k, c in enumerate(JETCLASS.classes):  # the real files mix float, bool and int label branches
        dtype = np.float32 if k == 0 else bool if k < 6 else np.int32
        b[f"label_{c}"] = (t["labels"] == k).astype(dtype)
    tau = np.sort(r.uniform(0.01, 0.5, (n, 4)), 1)[:, ::-1]  # tau1 >= tau2 >= tau3 >= tau4
    hlf = {"jet_pt": t["jet"][:, 0], "jet_eta": t["jet"][:, 1], "jet_phi": t["jet"][:, 2], "jet_energy": e.sum(1),
           "jet_nparticles": s["counts"], "jet_sdmass": r.uniform(10, 200, n),
           **{f"jet_tau{i + 1}": tau[:, i] for i in range(4)}}  # fmt: skip
    b.update({k: np.asarray(v, np.float32) for k, v in hlf.items()})
    b["aux_genpart_pt"] = r.uniform(400, 1000, n).astype(np.float32)
    t["branches"] = {k: np.asarray(v, np.float64) for k, v in hlf.items()}
    return b, t


def write_jetclass(path: Path, n: int = 10, p: int = 20, seed: int = 0, omit: tuple[str, ...] = (),
                   replace: dict[str, Any] | None = None, tree: str = "tree") -> dict[str, Any]:  # fmt: skip
    """A JetClass ROOT file (``JetClass_Pythia_train_100M_*.root`` layout); ``omit``/``replace`` branches."""
    branches, truth = jetclass_branches(n, p, seed)
    branches.update(replace or {})
    write_tree(path, {k: v for k, v in branches.items() if k not in omit}, tree)
    return truth


def write_yaml(path: Path, mapping: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(mapping, sort_keys=False))
    return path


def write_columnar(path: Path, n: int = 12, p: int = 20, seed: int = 0, kind: str = "root", n_files: int = 2,
                   one_hot: bool = False, cartesian: bool = False, jet: bool = True, rntuple: bool = False,
                   row_group: int = 3) -> dict[str, Any]:  # fmt: skip
    """``path`` (a YAML mapping) and ``n_files`` ROOT (tree ``Events``) or Parquet files next to it.

    Particles ``PF_pt, PF_eta, PF_phi, PF_mass, PF_charge`` (or ``PF_px, PF_py, PF_pz, PF_E``), jets
    ``Jet_*``, labels ``Jet_flavour`` 0..2 (light, charm, bottom) or one-hot ``is_light, is_charm, is_bottom``.
    The truth adds ``yaml`` (the mapping written), ``files`` and ``rows`` per file.
    """
    s = random_particles(n, p, seed)
    r = np.random.default_rng(seed + 3)
    mask = s["mask"]
    mass = np.where(mask, 0.13957, 0.0)
    px, py, pz, e = (np.where(mask, a, 0.0) for a in p4_from_pt_eta_phi_m(s["pt"], s["eta"], s["phi"], mass))
    t: dict[str, Any] = {"mask": mask, "counts": s["counts"], "pt": s["pt"], "eta": s["eta"], "phi": s["phi"],
                         "px": px, "py": py, "pz": pz, "E": e}
    t["charge"] = np.where(mask, r.choice([-1.0, 1.0], (n, p)), 0.0)
    t["jet"] = np.stack(pt_eta_phi_m(px.sum(1), py.sum(1), pz.sum(1), e.sum(1)), 1)  # (N, 4)
    t["labels"] = np.arange(n) % 3
    t["msoftdrop"] = r.uniform(5, 150, n)
    cols: dict[str, Any] = {}
    names = ("px", "py", "pz", "E") if cartesian else ("pt", "eta", "phi")
    cols.update({f"PF_{k}": t[k] for k in names})
    if not cartesian:
        cols["PF_mass"] = mass
    cols["PF_charge"] = t["charge"]
    flat = {"Jet_pt": t["jet"][:, 0], "Jet_eta": t["jet"][:, 1], "Jet_phi": t["jet"][:, 2],
            "Jet_mass": t["jet"][:, 3], "Jet_msoftdrop": t["msoftdrop"]}  # fmt: skip
    if one_hot:
        flat.update({f"is_{c}": (t["labels"] == k).astype(np.float32) for k, c in enumerate(CLASSES3)})
    else:
        flat["Jet_flavour"] = t["labels"].astype(np.int32)
    ext = "root" if kind == "root" else "parquet"
    bounds = np.linspace(0, n, n_files + 1).astype(int)
    t["files"], t["rows"] = [path.parent / f"ntuple_{i}.{ext}" for i in range(n_files)], np.diff(bounds).tolist()
    for f, lo, hi in zip(t["files"], bounds[:-1], bounds[1:]):
        part = {k: _jagged(v[lo:hi], mask[lo:hi], np.float64) for k, v in cols.items()}
        part.update({k: np.ascontiguousarray(v[lo:hi]) for k, v in flat.items()})
        if kind == "root":
            write_tree(f, part, "Events", rntuple=rntuple)
        else:
            ak.to_parquet(ak.zip(part, depth_limit=1), f, row_group_size=row_group)
    particles = {k: f"PF_{k}" for k in names} | ({} if cartesian else {"mass": "PF_mass"}) | {"charge": "PF_charge"}
    mapping: dict[str, Any] = {"format": "columnar", "files": [f"ntuple_*.{ext}"]}
    if kind == "root":
        mapping["tree"] = "Events"
    mapping["particles"] = particles
    if jet:
        mapping["jet"] = {k: f"Jet_{k}" for k in ("pt", "eta", "phi", "mass")}
    mapping["hlf"] = {"j_mass_mmdt": "Jet_msoftdrop"}
    labels: dict[str, Any] = {"classes": CLASSES3, "descriptions": ["u, d, s or g", "c quark", "b quark"]}
    labels |= {"one_hot": {c: f"is_{c}" for c in CLASSES3}} if one_hot else {"branch": "Jet_flavour"}
    mapping["labels"] = labels
    mapping["name"] = "flavour"
    write_yaml(path, mapping)
    t["yaml"] = mapping
    return t


# fmt -> (writer, file name), the contract of tests.foreign.WRITERS
ROOT_WRITERS = {
    "jetclass": (write_jetclass, "JetClass_Pythia_train_100M_HToBB_000.root"),
    "columnar": (write_columnar, "dataset.yaml"),
}
