"""Every column of the HLF vector against an independent reference, on real Pythia jets.

References (the table ``REFERENCE`` below names one for each of the 57 columns):

- ``contrib``: FastJet 3.5 / FastJet contrib classes called from C++ (``tests/contrib_reference.cc``,
  built here against the fastjet wheel's headers and libraries): ``Nsubjettiness(N, KT_Axes(),
  NormalizedMeasure(β, 0.8))``, ``EnergyCorrelatorC1/C2/D2/GeneralizedD2/M2/N2``, ``SoftDrop(β, 0.1, 0.8)``
  (whose mMDT result also gives the groomed jet of every ``*_mmdt`` column), ``Pruner``, ``Filter``,
  and ``PseudoJet`` for the jet kinematics;
- ``numpy``: a brute-force pairwise reclustering written here (pruning and trimming, independently of
  the FastJet tools jetlab calls);
- ``closed form``: Σ z ln z, the particle count, pT / truth pT, τ ratios of contrib's τ's.

The jets are 12 per class of g, q, W, Z, t from Pythia 8 at 1 TeV (truth level), 12 gluon jets through
``--detector simple`` (they hold pairs at ΔR = 0: ECAL and HCAL cell centres coincide), and all of them
again rounded to float32 as stored (m² < 0 for light particles). Edge-case jets follow the list of
scikit-hep vector's tests: ΔR = 0, one constituent, pT = 0, φ = ±π.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import fastjet
import numpy as np
import pytest

from jetlab.generate.clustering import cluster_and_match
from jetlab.generate.config import MIN_PARTICLE_PT, GenerateConfig
from jetlab.generate.detector import SimpleDetector
from jetlab.generate.events import PythiaSource
from jetlab.physics.features import features_from_p4
from jetlab.physics.grooming import groom_jets
from jetlab.physics.kinematics import delta_phi, p4_from_pt_eta_phi_m, rapidity
from jetlab.physics.nsubjettiness import nsubjettiness
from jetlab.schema import ECF_OBSERVABLES, HLF_NAMES

_TAUS = [f"tau{n}_b{b}" for b in (1, 2) for n in (1, 2, 3)]
_RATIOS = [f"tau{r}_b{b}" for b in (1, 2) for r in (21, 32)]
REFERENCE: dict[str, str] = {
    "j_pt": "contrib", "j_eta": "contrib", "j_mass": "contrib",
    "j_ptfrac": "closed form", "j_zlogz": "closed form", "j_multiplicity": "closed form",
    **{f"j_{t}{s}": "contrib" for t in _TAUS + list(ECF_OBSERVABLES) for s in ("", "_mmdt")},
    **{f"j_{t}{s}": "closed form" for t in _RATIOS for s in ("", "_mmdt")},
    **{f"j_mass_{g}": "contrib" for g in ("mmdt", "sdb2", "sdm1")},
    "j_mass_prun": "contrib+numpy", "j_mass_trim": "contrib+numpy",
}  # fmt: skip
RTOL = 2e-6  # the feature vector is float32 (ulp 6e-8); everything upstream is float64
pytestmark = pytest.mark.slow  # Pythia (~15 s) and the C++ build (~5 s); run by default, as the whole suite


def test_reference_table_covers_every_column() -> None:
    assert sorted(REFERENCE) == sorted(HLF_NAMES) and len(HLF_NAMES) == 57


# ---------------------------------------------------------------------------------------- the references
@pytest.fixture(scope="module")
def contrib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The C++ reference program, compiled once per session (~5 s)."""
    root = Path(fastjet.__file__).parent
    exe = tmp_path_factory.mktemp("contrib") / "contrib_reference"
    lib = root / "lib64"
    cmd = ["g++", "-O1", "-std=c++17", f"-I{root / 'include'}", str(Path(__file__).with_name("contrib_reference.cc")),
           "-o", str(exe), f"-L{lib}", "-lfastjetcontribfragile", "-lfastjettools", "-lfastjet", f"-Wl,-rpath,{lib}"]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    return exe


def run_contrib(exe: Path, p4: np.ndarray, counts: np.ndarray) -> tuple[dict[str, np.ndarray], list[list[int]]]:
    """Columns (without the ``j_`` prefix) and mMDT-kept particle indices of each jet, from contrib."""
    lines = [str(len(counts))]
    for b, n in enumerate(counts):
        lines.append(str(n))
        lines += [" ".join(repr(float(x)) for x in row) for row in p4[b, :n]]
    res = subprocess.run([str(exe)], input="\n".join(lines) + "\n", capture_output=True, text=True, check=True,
                         timeout=300, env={**os.environ, "LC_ALL": "C"})
    out = res.stdout.splitlines()
    names = out[0].split()
    rows = np.array([[float(x) for x in line.split()] for line in out[1:1 + len(counts)]])
    kept = [[int(i) for i in line.split()[1:]] for line in out[1 + len(counts):]]
    return {k: rows[:, i] for i, k in enumerate(names)}, kept


def _recluster(p4: np.ndarray, p: int, radius: float, rcut: float = 0.0, zcut: float = 0.0) -> list[np.ndarray]:
    """Brute-force E-scheme sequential recombination, d_ij = min(pT_i^2p, pT_j^2p) ΔR_ij²/R², d_iB = pT_i^2p
    (p = 1 kT, p = 0 C/A), returning the inclusive jets. With ``zcut`` > 0 it prunes (Ellis, Vermilion,
    Walsh, arXiv:0903.5081): a merging with min(pT_i, pT_j)/pT_ij < zcut and ΔR_ij > rcut drops the softer."""
    objs, done = [np.asarray(v, float) for v in p4], []
    while objs:
        q = np.array(objs)
        pt, y, phi = np.hypot(q[:, 0], q[:, 1]), rapidity(*q.T), np.arctan2(q[:, 1], q[:, 0])
        dr2 = (y[:, None] - y[None]) ** 2 + delta_phi(phi[:, None], phi[None]) ** 2
        kt = pt ** (2 * p)
        dij = np.minimum(kt[:, None], kt[None]) * dr2 / radius**2
        np.fill_diagonal(dij, np.inf)
        i, j = np.unravel_index(np.argmin(dij), dij.shape)
        ib = int(np.argmin(kt))
        if kt[ib] < dij[i, j]:
            done.append(objs.pop(ib))
            continue
        merged = q[i] + q[j]
        soft = j if pt[j] < pt[i] else i
        pruned = zcut > 0 and min(pt[i], pt[j]) / np.hypot(*merged[:2]) < zcut and dr2[i, j] > rcut**2
        keep = (i + j - soft) if pruned else None
        new = q[keep] if pruned else merged
        objs = [o for k, o in enumerate(objs) if k not in (i, j)] + [new]
    return done


def _mass(v: np.ndarray) -> float:
    m2 = v[3] ** 2 - (v[:3] ** 2).sum()
    return float(np.sign(m2) * np.sqrt(abs(m2)))


def numpy_prune_trim(q: np.ndarray) -> tuple[float, float]:
    """Pruned (C/A, z_cut = 0.1, R_cut = 0.5 · 2m/pT) and trimmed (kT R_sub = 0.2, f_cut = 0.03) masses."""
    jet = q.sum(0)
    pt, m = np.hypot(*jet[:2]), _mass(jet)
    pruned = max(_recluster(q, 0, 1000.0, rcut=0.5 * 2 * m / pt, zcut=0.1), key=lambda v: np.hypot(*v[:2]))
    subjets = [v for v in _recluster(q, 1, 0.2) if np.hypot(*v[:2]) >= 0.03 * pt]
    return _mass(pruned), _mass(np.sum(subjets, axis=0))


# --------------------------------------------------------------------------------------------- the jets
def _pythia(cls: str, seed: int, detector: bool, n_events: int = 50, n_jets: int = 12) -> tuple[np.ndarray, ...]:
    cfg = GenerateConfig(out=Path("unused"))
    batch = PythiaSource(cls, seed, cfg.sqrt_s, cfg.pthat).next_batch(n_events)
    if detector:
        batch = SimpleDetector()(batch, np.random.default_rng(seed))
    m = cluster_and_match(batch.above_pt(MIN_PARTICLE_PT), cls, cfg.radius, cfg.pt_range, cfg.eta_max)
    return m.p4[:n_jets], m.counts[:n_jets], m.truth_pt[:n_jets]


def _stack(parts: list[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    width = max(p[0].shape[1] for p in parts)
    p4 = np.concatenate([np.pad(p[0], [(0, 0), (0, width - p[0].shape[1]), (0, 0)]) for p in parts])
    return p4, np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts])


@pytest.fixture(scope="module")
def real_jets() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Truth-level jets of every class, detector-level gluon jets, and both rounded to float32."""
    truth = _stack([_pythia(c, 100 + k, False) for k, c in enumerate("gqwzt")])
    det = _stack([_pythia("g", 13, True)])
    f32 = _stack([truth, det])
    return {"truth": truth, "detector": det,
            "float32": (f32[0].astype(np.float32).astype(np.float64), f32[1], f32[2])}


@pytest.fixture(scope="module")
def compared(real_jets: dict, contrib: Path) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """{sample: {column: (jetlab, reference)}} for every column and the samples of ``real_jets``."""
    return {name: compare(contrib, *arrays) for name, arrays in real_jets.items()}


def compare(exe: Path, p4: np.ndarray, counts: np.ndarray, truth_pt: np.ndarray
            ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    ref, kept = run_contrib(exe, p4, counts)
    feats = features_from_p4(p4, counts, truth_pt)
    ours = {n: feats[:, i].astype(np.float64) for i, n in enumerate(HLF_NAMES)}
    pt = np.hypot(p4[..., 0], p4[..., 1])
    z = pt / pt.sum(1, keepdims=True)
    closed = {"j_zlogz": np.where(z > 0, z * np.log(np.where(z > 0, z, 1)), 0).sum(1),
              "j_multiplicity": counts.astype(float), "j_ptfrac": ref["pt"] / truth_pt}
    for s in ("", "_mmdt"):  # a ratio with τ_(N-1) = 0 (at most N-1 particles) is 0 by jetlab's convention
        for b in (1, 2):
            for hi, lo in ((2, 1), (3, 2)):
                num, den = ref[f"tau{hi}_b{b}{s}"], ref[f"tau{lo}_b{b}{s}"]
                closed[f"j_tau{hi}{lo}_b{b}{s}"] = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    n_mmdt = np.array([len(k) for k in kept])
    for n in HLF_NAMES:  # jetlab's conventions where FastJet gives no number or a tachyon's negative mass:
        if n.startswith("j_mass"):  # masses are clamped at 0 (FastJet: m = -sqrt(-m²) when m² < 0)
            ref[n[2:]] = np.maximum(ref[n[2:]], 0.0)
        if n[2:].removesuffix("_mmdt") in ECF_OBSERVABLES:  # an undefined 0/0 ratio (< 3 particles) is 0
            few = (n_mmdt if n.endswith("_mmdt") else counts) < 3
            ref[n[2:]] = np.where(few & ~np.isfinite(ref[n[2:]]), 0.0, ref[n[2:]])
    out = {n: (ours[n], closed[n] if n in closed else ref[n[2:]]) for n in HLF_NAMES}
    brute = np.array([numpy_prune_trim(p4[b, :n]) for b, n in enumerate(counts)])
    out["numpy:j_mass_prun"] = (ours["j_mass_prun"], np.maximum(brute[:, 0], 0))
    out["numpy:j_mass_trim"] = (ours["j_mass_trim"], np.maximum(brute[:, 1], 0))
    mask = groom_jets(p4, counts).mmdt_mask
    out["mmdt_kept"] = (np.array([sorted(np.flatnonzero(r).tolist()) == k for r, k in zip(mask, kept)], float),
                        np.ones(len(kept)))
    taus = nsubjettiness(p4, counts, n_max=4)
    for b in (1, 2):
        for n in (1, 2, 3, 4):
            out[f"tau{n}_b{b} (float64, n_max=4)"] = (taus[(n, float(b))], ref[f"tau{n}_b{b}"])
    return out


def deviation(ours: np.ndarray, ref: np.ndarray) -> float:
    """max |ours - ref| / max(|ref|, 1e-3 · scale): relative, except for values near 0 of the column."""
    scale = max(float(np.max(np.abs(ref))), 1e-300)
    return float(np.max(np.abs(ours - ref) / np.maximum(np.abs(ref), 1e-3 * scale)))


@pytest.mark.parametrize("sample", ["truth", "detector", "float32"])
@pytest.mark.parametrize("column", [*HLF_NAMES, "mmdt_kept",
                                    *[f"tau{n}_b{b} (float64, n_max=4)" for b in (1, 2) for n in (1, 2, 3, 4)]])
def test_column_matches_reference(compared: dict, sample: str, column: str) -> None:
    ours, ref = compared[sample][column]
    assert np.isfinite(ours).all() and np.isfinite(ref).all()
    tol = 1e-9 if "float64" in column else RTOL
    assert deviation(ours, ref) <= tol, (column, np.max(np.abs(ours - ref)))


@pytest.mark.parametrize("column", ["numpy:j_mass_prun", "numpy:j_mass_trim"])
def test_pruning_and_trimming_match_brute_force(compared: dict, column: str) -> None:
    """On truth-level jets: detector cell centres lie on a grid, so equal C/A distances occur there and
    FastJet breaks such ties its own way (there the FastJet tools are compared with contrib's, above)."""
    ours, ref = compared["truth"][column]
    assert deviation(ours, ref) <= RTOL, np.max(np.abs(ours - ref))


def test_real_jets_exercise_the_edge_cases(real_jets: dict) -> None:
    """The detector sample holds pairs at ΔR = 0; the float32 sample particles with m² < 0."""
    p4, counts, _ = real_jets["detector"]
    zero = 0
    for b, n in enumerate(counts):
        q = p4[b, :n]
        y, phi = rapidity(*q.T), np.arctan2(q[:, 1], q[:, 0])
        d = np.hypot(y[:, None] - y[None], delta_phi(phi[:, None], phi[None]))
        zero += int((d[np.triu_indices(n, 1)] == 0).sum())
    p4, counts, _ = real_jets["float32"]
    valid = np.arange(p4.shape[1])[None] < counts[:, None]
    tachyons = ((p4[..., 3] ** 2 - (p4[..., :3] ** 2).sum(-1)) < 0) & valid
    assert zero > 0 and tachyons.sum() > 0, (zero, tachyons.sum())


# ------------------------------------------------------------------------------------------- edge cases
def edge_jets() -> dict[str, np.ndarray]:
    """Small hand-made jets, each (n, 4) px, py, pz, E."""
    r = np.random.default_rng(11)
    base = np.stack(p4_from_pt_eta_phi_m(r.exponential(40, 12) + 1, r.normal(0.3, 0.2, 12), r.normal(1.0, 0.2, 12),
                                         np.full(12, 0.14)), axis=-1)
    base = base[np.argsort(-np.hypot(base[:, 0], base[:, 1]))]
    collinear = base.copy()
    collinear[3] = 0.25 * collinear[0]  # exactly the direction of particle 0 (power-of-2 scale)
    collinear[5] = 0.5 * collinear[4]
    pair = np.stack([base[0], 0.5 * base[0]])  # two particles, ΔR = 0: the soft-drop walk ends on one
    zero_pt = np.vstack([base, [[0.0, 0.0, 3.0, 5.0]]])  # pT = 0, finite rapidity (m = 4), φ = 0
    y0 = float(rapidity(*base.sum(0)))
    zero_pt[-1, 2:] = 5.0 * np.sinh(y0) / np.cosh(y0), 5.0  # at the jet's rapidity
    wrap = np.stack(p4_from_pt_eta_phi_m(r.exponential(40, 10) + 1, r.normal(0, 0.2, 10),
                                         np.pi + r.normal(0, 0.15, 10), np.zeros(10)), axis=-1)
    wrap[0] = [-50.0, 0.0, 10.0, np.hypot(50.0, 10.0)]  # φ = +π exactly
    wrap[1] = [-30.0, -0.0, 5.0, np.hypot(30.0, 5.0)]  # φ = -π exactly (py = -0.0)
    return {"collinear": collinear, "pair_at_zero_dR": pair, "single": base[:1], "zero_pt": zero_pt,
            "phi_pm_pi": wrap}


@pytest.fixture(scope="module")
def edge_compared(contrib: Path) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    out = {}
    for name, q in edge_jets().items():
        p4 = q[None].astype(np.float64)
        out[name] = compare(contrib, p4, np.array([len(q)]), np.array([1000.0]))
    return out


@pytest.mark.parametrize("column", HLF_NAMES)
def test_edge_cases_every_column(edge_compared: dict, column: str) -> None:
    """Finite, and equal to contrib; where contrib is undefined (0/0: ratios of a 1- or 2-particle jet)
    jetlab's documented value is 0."""
    for name, cols in edge_compared.items():
        ours, ref = cols[column]
        assert np.isfinite(ours).all(), (name, column)
        ref = np.where(np.isfinite(ref), ref, 0.0)
        assert deviation(ours, ref) <= RTOL or np.allclose(ours, ref, rtol=RTOL, atol=1e-6), (name, column, ours, ref)
