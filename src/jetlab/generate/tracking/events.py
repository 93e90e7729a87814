"""Generator-level particles of tracking events: a Pythia 8 hard scatter plus minimum-bias pileup.

An event is one hard-scatter interaction (``hard``: a key of :data:`HARD_PROCESSES`, or ``"none"``) plus
``N ~ Poisson(pileup)`` minimum-bias interactions (``SoftQCD:inelastic``; N >= 1 when ``hard="none"``,
the Poisson law conditioned on a non-empty event), each at its own vertex drawn
from a Gaussian beam spot (σx = σy, σz, σt of :class:`BeamSpot`). Every visible final-state particle
(status > 0, no neutrinos) with pT >= ``pt_min`` and |η| <= ``eta_max`` is kept, at its Pythia production
point shifted by its interaction's vertex: decay products of short-lived hadrons (cτ < 10 mm) start
displaced, longer-lived hadrons (K0S, Λ, ...) are stable and left to the detector simulation.

Units are ACTS's: mm for positions, mm/c for times (Pythia's), GeV for momenta and masses.

Seeds: event ``index`` of sample ``seed`` draws its Pythia seeds (hard, pileup) and its numpy generator
(pileup count, vertices) from ``numpy.random.SeedSequence([seed, index])``, so an event depends on
(config, seed, index) only, never on the events generated before it: shards of one sample share the
seed and take distinct index ranges. Initialising minimum bias takes ~6 s (the diffractive cross
sections), so each process is initialised once per Python process, always with the same fixed seed, and
reseeded (``Rndm::init``) for every event.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import awkward as ak
import numpy as np

from jetlab._quiet import quiet_stdout
from jetlab.errors import JetlabError, UsageError

__all__ = ["BeamSpot", "EventConfig", "GenParticles", "HARD_PROCESSES", "PILEUP_PROCESS", "generate_event",
           "event_seeds"]

# Pythia settings of each hard process; "none" gives pileup-only events.
HARD_PROCESSES: dict[str, tuple[str, ...]] = {
    "ttbar": ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on"),
    "none": (),
}
PILEUP_PROCESS = ("SoftQCD:inelastic = on",)
_NEUTRINOS = (12, 14, 16)


@dataclass(frozen=True)
class BeamSpot:
    """Gaussian spread of the interaction vertices (LHC Run 3-like defaults): mm, mm, mm/c."""

    sigma_xy: float = 0.015
    sigma_z: float = 45.0
    sigma_t: float = 0.0


@dataclass(frozen=True)
class EventConfig:
    """What an event holds: see the module docstring."""

    pileup: float = 0.0  # mean number of minimum-bias interactions per event (Poisson)
    hard: str = "ttbar"
    pt_min: float = 0.1  # GeV
    eta_max: float = 4.0
    sqrt_s: float = 14000.0  # GeV
    beam_spot: BeamSpot = field(default_factory=BeamSpot)

    def __post_init__(self) -> None:
        if self.hard not in HARD_PROCESSES:
            raise UsageError(f"--hard: unknown process {self.hard!r}; known: {', '.join(HARD_PROCESSES)}")
        if not self.pileup >= 0:
            raise UsageError(f"--pileup must be >= 0, got {self.pileup}")
        if self.hard == "none" and self.pileup <= 0:
            raise UsageError("--hard none needs --pileup > 0: the events would be empty")
        if not self.pt_min >= 0 or not self.eta_max > 0:
            raise UsageError(f"--pt-min must be >= 0 and eta_max > 0, got {self.pt_min}, {self.eta_max}")


@dataclass
class GenParticles:
    """The generated particles of one event (N,), ordered by vertex; vertex 1 is the hard scatter if any."""

    vertex: np.ndarray  # (N,) int, 1-based interaction index
    pdg: np.ndarray  # (N,) int
    charge: np.ndarray  # (N,) float, units of e
    mass: np.ndarray  # (N,) GeV
    position: np.ndarray  # (N, 4) x, y, z (mm), t (mm/c)
    momentum: np.ndarray  # (N, 3) px, py, pz (GeV)

    def __len__(self) -> int:
        return len(self.pdg)


def _settings(seed: int, sqrt_s: float, process: tuple[str, ...]) -> list[str]:
    return [
        f"Beams:eCM = {sqrt_s:.1f}", *process,
        "ParticleDecays:limitTau0 = on", "ParticleDecays:tau0Max = 10",
        "Random:setSeed = on", f"Random:seed = {seed}",
        "Print:quiet = on", "Next:numberCount = 0",
    ]


_INIT_SEED = 1  # every cached Pythia is initialised with this seed, then reseeded
_MAX_SEED = 900_000_000  # Pythia seeds are in [0, 900 000 000]
_CACHE: dict[tuple[float, tuple[str, ...]], _Pythia] = {}


def _pythia(sqrt_s: float, process: tuple[str, ...], seed: int) -> _Pythia:
    """The process's initialised Pythia (made on first use), reseeded with ``seed``."""
    key = (sqrt_s, process)
    if key not in _CACHE:
        _CACHE[key] = _Pythia(sqrt_s, process)
    _CACHE[key].pythia.rndm.init(int(seed))
    return _CACHE[key]


class _Pythia:
    """One Pythia 8 instance returning the kept final-state particles of n interactions at a time."""

    def __init__(self, sqrt_s: float, process: tuple[str, ...]) -> None:
        import pythia8mc

        with quiet_stdout():
            self.pythia = pythia8mc.Pythia("", False)
            for line in _settings(_INIT_SEED, sqrt_s, process):
                if not self.pythia.readString(line):
                    raise JetlabError(f"Pythia rejected setting {line!r}")
            if not self.pythia.init():
                raise JetlabError(f"Pythia failed to initialize for {', '.join(process)}")
        self._charge: dict[int, float] = {}

    def _charges(self, ids: np.ndarray) -> np.ndarray:
        uniq, inv = np.unique(ids, return_inverse=True)
        for u in uniq.tolist():
            if u not in self._charge:
                self._charge[u] = float(self.pythia.particleData.charge(u))
        return np.array([self._charge[u] for u in uniq.tolist()])[inv]

    def interactions(self, n: int, pt_min: float, eta_max: float) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(n,) kept particles per interaction and their flat columns (interaction-major)."""
        with quiet_stdout():
            prt = self.pythia.nextBatch(n).prt
        if len(prt) != n:
            raise JetlabError(f"Pythia returned {len(prt)} of {n} events")
        counts = ak.to_numpy(ak.num(prt))
        flat = ak.flatten(prt)
        col = {k: ak.to_numpy(flat[k]) for k in ("id", "status", "m")}
        for k in ("px", "py", "pz"):
            col[k] = ak.to_numpy(flat.p[k])
        for k, src in zip(("x", "y", "z", "t"), ("px", "py", "pz", "e")):
            col[k] = ak.to_numpy(ak.fill_none(flat.vProd[src], 0.0))
        pt = np.hypot(col["px"], col["py"])
        eta = np.arcsinh(col["pz"] / np.maximum(pt, 1e-12))
        keep = (col["status"] > 0) & ~np.isin(np.abs(col["id"]), _NEUTRINOS) & (pt >= pt_min) & (np.abs(eta) <= eta_max)
        interaction = np.repeat(np.arange(n), counts)[keep]
        out = {k: v[keep] for k, v in col.items()}
        out["charge"] = self._charges(out["id"])
        return np.bincount(interaction, minlength=n), out


def event_seeds(seed: int, index: int) -> dict[str, int]:
    """The seeds of event ``index`` of sample ``seed``: Pythia's hard-scatter and pileup seeds, numpy's.

    Example:
        >>> event_seeds(0, 0) == event_seeds(0, 0) != event_seeds(0, 1)
        True
    """
    hard, pileup, numpy_seed = np.random.SeedSequence([int(seed), int(index)]).generate_state(3)
    return {"hard": int(hard) % _MAX_SEED, "pileup": int(pileup) % _MAX_SEED, "numpy": int(numpy_seed)}


def generate_event(config: EventConfig, seed: int, index: int) -> GenParticles:
    """The particles of event ``index`` of the sample ``seed``: a function of (config, seed, index) only."""
    seeds = event_seeds(seed, index)
    rng = np.random.default_rng(seeds["numpy"])
    parts: list[tuple[np.ndarray, dict[str, np.ndarray]]] = []
    if config.hard != "none":
        hard = _pythia(config.sqrt_s, HARD_PROCESSES[config.hard], seeds["hard"])
        parts.append(hard.interactions(1, config.pt_min, config.eta_max))
    n_pileup = int(rng.poisson(config.pileup))
    while config.hard == "none" and n_pileup == 0:  # pileup-only events: Poisson conditioned on N >= 1
        n_pileup = int(rng.poisson(config.pileup))
    if n_pileup:
        pileup = _pythia(config.sqrt_s, PILEUP_PROCESS, seeds["pileup"])
        parts.append(pileup.interactions(n_pileup, config.pt_min, config.eta_max))
    counts = np.concatenate([c for c, _ in parts])  # (V,) particles per interaction
    cols = {k: np.concatenate([p[k] for _, p in parts]) for k in parts[0][1]}
    bs = config.beam_spot
    vertices = rng.normal(size=(len(counts), 4)) * [bs.sigma_xy, bs.sigma_xy, bs.sigma_z, bs.sigma_t]  # (V, 4)
    vertex = np.repeat(np.arange(len(counts)), counts)  # (N,)
    return GenParticles(
        vertex=vertex + 1,
        pdg=cols["id"].astype(np.int64),
        charge=cols["charge"],
        mass=cols["m"],
        position=np.stack([cols[k] for k in ("x", "y", "z", "t")], axis=1) + vertices[vertex],  # (N, 4)
        momentum=np.stack([cols[k] for k in ("px", "py", "pz")], axis=1),  # (N, 3)
    )
