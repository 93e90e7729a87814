"""``jetlab showers generate``: GFlash showers into shards in a public layout, with a manifest.

Each shard is itself a file of the geometry's public dataset (a CaloGAN file for ``calogan``, a CaloChallenge
file with ``binning_dataset_2.xml`` beside it for ``challenge2``), written whole or not at all
(:mod:`jetlab.io.atomic`). Shard i draws its incident energies and showers from its own seed,
``SeedSequence([seed, i])``, so the files depend on (settings, i) only, not on the number of workers. A rerun
with the same settings skips whole shards; a directory holding showers of other settings is refused. The
manifest (``format: showers``) is written last, when every shard is whole.

Several particles (``particle="gamma,pi0,e-"``) make ``n`` showers of each, in shards of one particle each (the
readers take a file's label from its ``particle`` attribute); shard i of the k-th particle of a list of more
than one draws from ``SeedSequence([seed, k, i])``.
"""

from __future__ import annotations

import contextlib
import json
import math
import multiprocessing as mp
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from tqdm import tqdm

from jetlab.errors import UsageError
from jetlab.generate.outdir import prepare_out
from jetlab.generate.showers.gflash import min_energy
from jetlab.generate.showers.simulate import KNOWN, simulate
from jetlab.io.atomic import remove_stale
from jetlab.io.format import MANIFEST, sha256, write_manifest
from jetlab.io.showers import SHOWER_SCHEME
from jetlab.io.showers_files import SHOWERS_FORMAT, SHOWERS_SCHEMA, read_showers_manifest, write_binning, write_layout
from jetlab.physics.calorimeter import Geometry, get_geometry

__all__ = ["ShowerConfig", "ShowerShard", "parse_range", "plan_shower_shards", "make_shower_shard", "generate_showers"]

PARTICLES = KNOWN  # what the GFlash parametrization describes (electromagnetic showers, and π⁰ → γγ)
FILE_TOKENS = {"e+": "eplus", "e-": "eminus", "gamma": "gamma", "pi0": "pizero"}  # as CaloGAN names its files
DEFAULT_SPECTRA = {"calogan": ("uniform", 1.0, 100.0), "challenge2": ("log-uniform", 1.0, 1000.0)}  # as the datasets
MAX_ENERGY_GEV = 1e4  # 10 TeV: ~10^6 spots per shower, far above both datasets (100 GeV, 1 TeV)
_SHARD_ATTR = "jetlab_shard"


def parse_range(text: str, flag: str) -> tuple[float, float]:
    """``"1,100"`` -> (1.0, 100.0), GeV; needs finite 0 < LOW < HIGH."""
    try:
        lo, hi = (float(s) for s in text.split(","))
    except ValueError:
        raise UsageError(f"{flag}: expected LOW,HIGH in GeV, got {text!r}") from None
    if not (0 < lo < hi < math.inf):
        raise UsageError(f"{flag}: needs 0 < LOW < HIGH (GeV), got {text!r}")
    return lo, hi


@dataclass(frozen=True)
class ShowerConfig:
    """What ``jetlab showers generate`` makes; ``spectrum`` (kind, low, high) GeV defaults to the dataset's own."""

    out: Path
    geometry: str = "calogan"
    particle: str = "e+"
    n: int = 1000
    spectrum: tuple[str, float, float] | None = None
    seed: int = 0
    workers: int = 1
    shard_size: int = 1000
    progress: bool = True
    impact_mm: float = 0.0  # impact points uniform over a square of this side (simulate's docstring)

    def __post_init__(self) -> None:
        geometry = get_geometry(self.geometry)  # ShowerUsageError naming the known geometries
        kind, lo, hi = self.energy
        lowest = min_energy(geometry.sampling)
        flag = "--log-energy" if kind == "log-uniform" else "--energy"
        unknown = [p for p in self.particles if p not in PARTICLES]
        checks = [
            (not unknown, "--particle", f"unknown particle {(unknown or [''])[0]!r} (known: {', '.join(PARTICLES)})"),
            (len(set(self.particles)) == len(self.particles), "--particle", f"{self.particle!r} repeats a particle"),
            (math.isfinite(self.impact_mm) and 0 <= self.impact_mm <= 1000, "--impact-mm", "must be in [0, 1000] mm"),
            (kind in ("uniform", "log-uniform"), "spectrum", f"unknown energy spectrum {kind!r}"),
            (0 < lo < hi < math.inf, flag, f"needs 0 < LOW < HIGH (GeV), got {lo:g},{hi:g}"),
            (lo >= lowest, flag, f"LOW {lo:g} GeV is below {lowest:.3g} GeV, where the GFlash parametrization ends"),
            (hi <= MAX_ENERGY_GEV, flag, f"HIGH {hi:g} GeV is above {MAX_ENERGY_GEV:g} GeV (showers of one particle)"),
            (self.n > 0, "--n", "must be a positive integer"),
            (self.shard_size > 0, "--shard-size", "must be a positive integer"),
            (self.workers > 0, "--workers", "must be a positive integer"),
            (0 <= self.seed < 2**63, "--seed", "must be in [0, 2^63)"),
        ]
        for ok, name, msg in checks:
            if not ok:
                raise UsageError(f"{name}: {msg}")

    @property
    def particles(self) -> tuple[str, ...]:
        """The particles of ``particle``, a comma-separated list."""
        return tuple(p.strip() for p in self.particle.split(","))

    @property
    def n_total(self) -> int:
        return self.n * len(self.particles)

    @property
    def energy(self) -> tuple[str, float, float]:
        """(spectrum, low, high) of the incident energies in GeV: ``uniform`` or ``log-uniform``."""
        kind, lo, hi = self.spectrum or DEFAULT_SPECTRA.get(self.geometry, ("uniform", 1.0, 100.0))
        return kind, float(lo), float(hi)

    @property
    def physics(self) -> dict[str, Any]:
        """Settings that fix the showers of every shard (not where, how fast, or how many shards)."""
        kind, lo, hi = self.energy
        out = {"generator": "gflash", "geometry": self.geometry, "particle": self.particle, "seed": self.seed,
               "shard_size": self.shard_size, "energy": {"spectrum": kind, "low_gev": lo, "high_gev": hi}}
        return out | ({"impact_mm": self.impact_mm} if self.impact_mm else {})  # on-axis sets keep their settings


@dataclass(frozen=True)
class ShowerShard:
    index: int
    n: int
    seed: int
    filename: str
    particle: str = ""


def plan_shower_shards(cfg: ShowerConfig) -> list[ShowerShard]:
    """Every shard of ``cfg``: ``shard_size`` showers each (the last one of each particle fewer), per-shard seeds
    from a SeedSequence (module docstring)."""
    shards, several = [], len(cfg.particles) > 1
    for k, particle in enumerate(cfg.particles):
        for i in range(math.ceil(cfg.n / cfg.shard_size)):
            key = [cfg.seed, k, i] if several else [cfg.seed, i]
            seed = int(np.random.SeedSequence(key).generate_state(1, np.uint64)[0])
            shards.append(ShowerShard(len(shards), min(cfg.shard_size, cfg.n - i * cfg.shard_size), seed,
                                      f"{FILE_TOKENS[particle]}_{i:04d}.h5", particle))
    return shards


def _energies(cfg: ShowerConfig, n: int, rng: np.random.Generator) -> np.ndarray:
    kind, lo, hi = cfg.energy
    if kind == "log-uniform":
        return np.exp(rng.uniform(np.log(lo), np.log(hi), n))
    return rng.uniform(lo, hi, n)


def _shard_info(cfg: ShowerConfig, shard: ShowerShard) -> str:
    return json.dumps({"index": shard.index, "n_showers": shard.n, "seed": shard.seed, "settings": cfg.physics},
                      sort_keys=True)


def make_shower_shard(cfg: ShowerConfig, shard: ShowerShard) -> Path:
    """Simulate ``shard`` and write it to ``cfg.out / shard.filename`` (atomic)."""
    rng = np.random.default_rng(shard.seed)
    particle = shard.particle or cfg.particle
    arrays = simulate(get_geometry(cfg.geometry), particle, _energies(cfg, shard.n, rng), rng, impact_mm=cfg.impact_mm)
    attrs = {"particle": particle, "geometry": cfg.geometry, _SHARD_ATTR: _shard_info(cfg, shard)}
    return write_layout(Path(cfg.out) / shard.filename, arrays, attrs)


def _stored_info(path: Path) -> dict[str, Any] | None:
    """The shard attribute of a file jetlab wrote, None if absent or unreadable."""
    try:
        with h5py.File(path, "r") as f:
            info = json.loads(f.attrs[_SHARD_ATTR])
    except (OSError, KeyError, ValueError, TypeError):
        return None
    return info if isinstance(info, dict) else None


def _prepare(cfg: ShowerConfig) -> list[ShowerShard]:
    """Create ``--out``, refuse other files in it (but for whole shards of these settings); the shards to make."""
    out = prepare_out(cfg.out)
    for f in sorted(out.glob("*.h5")):
        if (_stored_info(f) or {}).get("settings") != cfg.physics:
            raise UsageError(f"--out: {out} holds {f.name}, not showers of these settings; use a new directory")
    if (out / MANIFEST).is_file() and read_showers_manifest(out, check=False) is None:
        raise UsageError(f"--out: {out} holds another dataset's {MANIFEST}; use a new directory")
    todo = [s for s in plan_shower_shards(cfg) if _stored_info(out / s.filename) != json.loads(_shard_info(cfg, s))]
    if todo:  # the manifest of an earlier run would list shards about to change
        (out / MANIFEST).unlink(missing_ok=True)
    return todo


def _make(job: tuple[ShowerConfig, ShowerShard]) -> int:
    make_shower_shard(*job)
    return job[1].n


def _run(cfg: ShowerConfig, todo: list[ShowerShard], done: int) -> None:
    with tqdm(total=cfg.n_total, initial=done, unit="shower", desc="showers", disable=not cfg.progress,
              dynamic_ncols=True) as bar:
        if cfg.workers == 1 or len(todo) <= 1:
            for shard in todo:
                bar.update(_make((cfg, shard)))
            return
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        with ctx.Pool(min(cfg.workers, len(todo))) as pool:
            for n in pool.imap_unordered(_make, [(cfg, s) for s in todo]):
                bar.update(n)


def _versions() -> dict[str, str]:
    out = {}
    for pkg in ("jetlab", "numpy", "h5py"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[pkg] = metadata.version(pkg)
    return out


def build_manifest(cfg: ShowerConfig, geometry: Geometry) -> Path:
    """Write ``manifest.json`` (last: a directory with one holds every shard of it)."""
    shards = [{"file": s.filename, "index": s.index, "n_showers": s.n, "seed": s.seed,
               "sha256": sha256(Path(cfg.out) / s.filename)} for s in plan_shower_shards(cfg)]
    manifest = {"format": SHOWERS_FORMAT, "schema": SHOWERS_SCHEMA, "kind": "showers", "reader": geometry.file_format,
                "settings": cfg.physics, "scheme": SHOWER_SCHEME.to_dict(), "n_showers": cfg.n_total,
                "versions": _versions(), "shards": shards}
    return write_manifest(cfg.out, manifest)


def generate_showers(cfg: ShowerConfig) -> dict[str, Any]:
    """Make (or complete) the shower dataset of ``cfg``; a summary with the manifest path."""
    todo = _prepare(cfg)
    done = cfg.n_total - sum(s.n for s in todo)
    geometry = get_geometry(cfg.geometry)
    try:
        _run(cfg, todo, done)
        write_binning(cfg.out, geometry)
    except BaseException:
        remove_stale(cfg.out)  # a worker stopped by the pool's shutdown may leave its *.tmp
        raise
    return {"out": str(cfg.out), "shards_made": len(todo), "shards_skipped": len(plan_shower_shards(cfg)) - len(todo),
            "n_showers": cfg.n_total, "manifest": str(build_manifest(cfg, geometry))}
