"""JetClass (Qu, Li, Qian, arXiv:2202.03772; Zenodo 6619768): ROOT files of 100k jets each, tree ``tree``.

Branches read (jagged: one entry per particle)::

    part_px, part_py, part_pz, part_energy          four-momentum (GeV)
    part_charge                                     electric charge
    part_d0val, part_d0err, part_dzval, part_dzerr  transverse / longitudinal impact parameter and errors
                                                    (as stored, Delphes units: mm; 0 for neutral particles)
    part_isChargedHadron, part_isNeutralHadron, part_isPhoton, part_isElectron, part_isMuon   0/1 flags

and one value per jet: ``jet_pt, jet_eta, jet_phi, jet_energy, jet_nparticles, jet_sdmass, jet_tau1 ...
jet_tau4`` and the one-hot ``label_QCD, label_Hbb, label_Hcc, label_Hgg, label_H4q, label_Hqql, label_Zqq,
label_Wqq, label_Tbqq, label_Tbl`` (float, bool or int branches). ``part_deta``/``part_dphi`` (relative to
the jet axis) are not read: representations recompute them from the four-vectors; ``aux_*`` (generator
truth) never is.

Output:

- particles ``px, py, pz, E, pt, eta, phi`` then ``charge, d0, d0err, dz, dzerr, is_charged_hadron,
  is_neutral_hadron, is_photon, is_electron, is_muon``; ordered by pT, padded to the most particles among
  the rows read and capped at :data:`MAX_PARTICLES` = 128 (the hardest kept; JetClass jets hold at most
  128 and Particle Transformer reads 128 slots);
- the jet four-vector from ``jet_pt, jet_eta, jet_phi``, mass ``sqrt(max(E^2 - (pt cosh eta)^2, 0))``;
- HLF ``j_pt, j_eta, j_mass, j_mass_mmdt`` (= ``jet_sdmass``, the soft-drop mass), ``j_tau1_b1 ...
  j_tau4_b1`` (= ``jet_tau1..4``, N-subjettiness with beta = 1), ``j_tau21_b1, j_tau32_b1`` (ratios, 0 where
  the denominator is 0) and ``j_multiplicity`` (= ``jet_nparticles``, before the cap);
- labels of the ``jetclass`` scheme ``QCD, Hbb, Hcc, Hgg, H4q, Hqql, Zqq, Wqq, Tbqq, Tbl`` from the one-hot
  branches (FormatError unless exactly one is 1).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from jetlab.classes import JETCLASS
from jetlab.errors import JetlabError
from jetlab.io.jets import Jets
from jetlab.io.readers import Reader, register_reader
from jetlab.io.readers.columnar import MAX_PARTICLES, Columns, branch_names, read_table, read_table_labels, table_rows

__all__ = ["COLUMNS", "HLF_NAMES", "MAX_PARTICLES", "read_jetclass"]

TREE = "tree"
COLUMNS = Columns(
    particles={
        "px": "part_px", "py": "part_py", "pz": "part_pz", "E": "part_energy", "charge": "part_charge",
        "d0": "part_d0val", "d0err": "part_d0err", "dz": "part_dzval", "dzerr": "part_dzerr",
        "is_charged_hadron": "part_isChargedHadron", "is_neutral_hadron": "part_isNeutralHadron",
        "is_photon": "part_isPhoton", "is_electron": "part_isElectron", "is_muon": "part_isMuon",
    },
    scheme=JETCLASS,
    jet={"pt": "jet_pt", "eta": "jet_eta", "phi": "jet_phi", "E": "jet_energy"},
    hlf={
        "j_pt": "jet_pt", "j_eta": "jet_eta", "j_mass_mmdt": "jet_sdmass", "j_tau1_b1": "jet_tau1",
        "j_tau2_b1": "jet_tau2", "j_tau3_b1": "jet_tau3", "j_tau4_b1": "jet_tau4", "j_multiplicity": "jet_nparticles",
    },
    one_hot=tuple(f"label_{c}" for c in JETCLASS.classes),
    tree=TREE,
    max_particles=MAX_PARTICLES,
)  # fmt: skip
HLF_NAMES: tuple[str, ...] = (
    "j_pt", "j_eta", "j_mass", "j_mass_mmdt", "j_tau1_b1", "j_tau2_b1", "j_tau3_b1", "j_tau4_b1",
    "j_tau21_b1", "j_tau32_b1", "j_multiplicity",
)  # fmt: skip


def _sniff(path: Path) -> bool:
    with path.open("rb") as fh:
        if fh.read(4) != b"root":
            return False
    try:
        return {"part_px", "label_QCD"} <= branch_names(path, TREE)
    except JetlabError:  # no tree 'tree', unreadable
        return False


def _count(path: Path) -> int:
    return table_rows(path, TREE)


def _labels(path: Path) -> np.ndarray:
    return read_table_labels(path, COLUMNS)


def read_jetclass(path: str | os.PathLike[str], start: int = 0, stop: int | None = None) -> Jets:
    """JetClass jets [start:stop]: particles with impact parameters and type flags, jet HLF, 10 classes."""
    jets = read_table(Path(path), COLUMNS, start, stop, fmt="jetclass")
    f = dict(zip(jets.hlf_names, jets.hlf.astype(np.float64).T))  # name -> (N,)
    f["j_mass"] = jets.jet[:, 3].astype(np.float64)
    f["j_tau21_b1"] = _ratio(f["j_tau2_b1"], f["j_tau1_b1"])
    f["j_tau32_b1"] = _ratio(f["j_tau3_b1"], f["j_tau2_b1"])
    hlf = np.stack([f[n] for n in HLF_NAMES], 1).astype(np.float32)  # (N, 11)
    return replace(jets, hlf=hlf, hlf_names=list(HLF_NAMES))


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros_like(a), where=b > 0)


register_reader(Reader("jetclass", "JetClass", _sniff, read_jetclass, _count, JETCLASS, _labels))
