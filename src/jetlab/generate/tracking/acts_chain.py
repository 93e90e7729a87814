"""ACTS on its Generic detector: simulation of generated events into TrackML hits, and the classical
track reconstruction of TrackML hits (seeding, combinatorial Kalman filter, ambiguity resolution).

Detector: ACTS's ``GenericDetector`` (Gen1 geometry): pixels in volumes 7, 8, 9 (-z endcap, barrel,
+z endcap), short strips in 12, 13, 14, long strips in 16, 17, 18; a constant 2 T field along z.

Simulation (:func:`simulate_events`), one ``acts.examples.Sequencer`` run per call:

1. :func:`~jetlab.generate.tracking.events.generate_event` particles enter ACTS as its own event data
   model: a Python source algorithm writes a ``SimParticleContainer`` (the ACTS particle input that needs
   no file; barcode = (vertex, particle number in its vertex));
2. ``FatrasSimulation``: helix propagation with multiple scattering, ionisation and radiation energy
   loss, photon conversion; one simulated hit per sensitive surface crossed;
3. ``DigitizationAlgorithm`` with jetlab's ``configs/acts/generic-digi-smearing.json``: both local
   coordinates smeared by a Gaussian of σ = pitch/√12 (pixels 50 x 50 µm, short strips 80 µm x 1 mm,
   long strips 120 µm x 10 mm); one measurement per simulated hit;
4. a Python sink turns the measurements into TrackML arrays: ``hits`` (the smeared local point on its
   module, in global coordinates), ``truth`` (the simulated crossing point and momentum, challenge
   weights), ``particles`` (Fatras's particles with their initial state, secondaries included).

Reconstruction (:func:`reconstruct_ckf`) reads only the TrackML ``hits`` of an event: local coordinates
come back from the module transforms, variances from the smearing config; then ``SpacePointMaker`` on
the pixel layers of ``configs/acts/generic-seeding-layers.json``, ``GridTripletSeedingAlgorithm``,
``TrackParamsEstimationAlgorithm``, ``TrackFindingAlgorithm`` (CKF) and
``GreedyAmbiguityResolutionAlgorithm``. Tracks come back as hit-id lists; their truth matching is
:mod:`jetlab.metrics.trackml`'s, on the arrays.

``particle_id`` packs the ACTS barcode: vertex primary (12 bits), vertex secondary (12), particle (20),
generation (7), sub-particle (12), from the high bits down; generator particles have generation 0.

ACTS logs at ``log_level`` (WARNING by default); the Sequencer's working directory (its timing file) is
a temporary directory removed on return: nothing is left on disk.
"""

from __future__ import annotations

import csv
import functools
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import acts
import acts.examples as ae
import acts.examples.json as ajson
import acts.fatras
import numpy as np

import jetlab
from jetlab.errors import FormatError, JetlabError, UsageError
from jetlab.generate.tracking.events import EventConfig, GenParticles, generate_event
from jetlab.io.trackml import assign_hits, hit_weights

__all__ = ["RecoConfig", "Tracks", "simulate_events", "reconstruct_ckf", "generic_detector", "particle_id",
           "decode_particle_id", "DIGI_CONFIG", "SEEDING_LAYERS"]

CONFIG_DIR = Path(jetlab.__file__).parent / "configs" / "acts"
DIGI_CONFIG = CONFIG_DIR / "generic-digi-smearing.json"
SEEDING_LAYERS = CONFIG_DIR / "generic-seeding-layers.json"
FIELD_T = 2.0
_PLANE_TOLERANCE = 1e-3  # mm: a hit read back from a TrackML file sits on its module's plane
u = acts.UnitConstants
_BARCODE_BITS = (("vertexPrimary", 12), ("vertexSecondary", 12), ("particle", 20), ("generation", 7),
                 ("subParticle", 12))


def particle_id(barcode: Any) -> int:
    """The TrackML ``particle_id`` of an ACTS barcode (see the module docstring); 0 is never produced.

    Example:
        >>> b = acts.fatras.Barcode()
        >>> b.vertexPrimary, b.particle = 2, 5
        >>> particle_id(b)
        4503599629991936
        >>> {k: int(v[0]) for k, v in decode_particle_id(np.array([4503599629991936])).items()}
        {'vertexPrimary': 2, 'vertexSecondary': 0, 'particle': 5, 'generation': 0, 'subParticle': 0}
    """
    value = 0
    for name, bits in _BARCODE_BITS:
        part = int(getattr(barcode, name))
        if part >= 1 << bits:
            raise JetlabError(f"ACTS barcode {barcode}: {name} {part} does not fit in {bits} bits")
        value = (value << bits) | part
    return value


def decode_particle_id(pid: np.ndarray) -> dict[str, np.ndarray]:
    """The barcode fields of TrackML particle ids (P,): a primary has ``vertexSecondary == generation == 0``."""
    pid = np.asarray(pid, dtype=np.int64)
    out, shift = {}, sum(bits for _, bits in _BARCODE_BITS)
    for name, bits in _BARCODE_BITS:
        shift -= bits
        out[name] = (pid >> shift) & ((1 << bits) - 1)
    return out


def _level(name: str) -> Any:
    try:
        return getattr(acts.logging, name.upper())
    except AttributeError:
        raise UsageError(f"unknown ACTS log level {name!r}") from None


@dataclass
class _Detector:
    """The Generic detector's geometry and a vectorised table of its sensitive modules (S,)."""

    detector: Any
    geometry: Any
    context: Any
    field: Any
    keys: np.ndarray  # (S,) sorted volume/layer/module keys
    ids: list[Any]  # (S,) acts.GeometryIdentifier
    rotation: np.ndarray  # (S, 3, 3) local -> global
    center: np.ndarray  # (S, 3) mm
    sigma: dict[int, tuple[float, float]]  # volume -> smearing σ of local 0, 1 (mm)

    def rows(self, volume: np.ndarray, layer: np.ndarray, module: np.ndarray, source: str) -> np.ndarray:
        key = _module_key(volume, layer, module)
        pos = np.searchsorted(self.keys, key).clip(max=len(self.keys) - 1)
        bad = self.keys[pos] != key
        if bad.any():
            i = np.flatnonzero(bad)[0]
            raise FormatError(f"{source}: hit on module (volume {volume[i]}, layer {layer[i]}, module "
                              f"{module[i]}) that the Generic detector does not have")
        return pos


def _module_key(volume: np.ndarray, layer: np.ndarray, module: np.ndarray) -> np.ndarray:
    return (np.asarray(volume, np.int64) * 1000 + np.asarray(layer, np.int64)) * 1_000_000 + np.asarray(module)


def _smearing_sigmas(path: Path) -> dict[int, tuple[float, float]]:
    import json

    out = {}
    for entry in json.loads(path.read_text())["entries"]:
        sm = sorted(entry["value"]["smearing"], key=lambda s: s["index"])
        out[int(entry["volume"])] = (float(sm[0]["stddev"]), float(sm[1]["stddev"]))
    return out


@functools.cache
def generic_detector() -> _Detector:
    """The Generic detector, its 2 T field and module table, built once per process (~1 s)."""
    cfg = ae.GenericDetector.Config()
    for name in ("logLevel", "layerLogLevel", "surfaceLogLevel", "volumeLogLevel"):
        setattr(cfg, name, acts.logging.WARNING)
    det = ae.GenericDetector(cfg)
    geometry = det.trackingGeometry()
    context = det.nominalGeometryContext()
    rows = sorted((_module_key(g.volume, g.layer, g.sensitive), g, s)
                  for g, s in geometry.geoIdSurfaceMap().items() if g.sensitive > 0)
    transforms = [s.localToGlobalTransform(context) for _, _, s in rows]
    return _Detector(
        detector=det, geometry=geometry, context=context,
        field=acts.ConstantBField(acts.Vector3(0, 0, FIELD_T * u.T)),
        keys=np.array([k for k, _, _ in rows], dtype=np.int64),
        ids=[g for _, g, _ in rows],
        rotation=np.array([[[t.rotation[i, j] for j in range(3)] for i in range(3)] for t in transforms]),
        center=np.array([np.array(t.translation) for t in transforms]),
        sigma=_smearing_sigmas(DIGI_CONFIG),
    )


def _run(sequencer_kwargs: dict[str, Any], algorithms: list[Any]) -> dict[str, float]:
    """Run the algorithms in a Sequencer working in a temporary directory; seconds per event per algorithm."""
    with tempfile.TemporaryDirectory(prefix="jetlab-acts-") as tmp:
        seq = ae.Sequencer(numThreads=1, trackFpes=False, outputDir=tmp, **sequencer_kwargs)
        for alg in algorithms:
            seq.addAlgorithm(alg)
        seq.run()
        timing_file = Path(tmp) / "timing.csv"
        if not timing_file.exists():
            return {}
        with open(timing_file, newline="") as fh:
            return {row["identifier"]: float(row["time_perevent_s"]) for row in csv.DictReader(fh)}


# -- simulation ------------------------------------------------------------------------------------------


class _ParticleSource(ae.IAlgorithm):
    """Writes event ``n``'s generated particles as the ``particles_generated`` SimParticleContainer."""

    def __init__(self, events: dict[int, GenParticles], level: Any) -> None:
        super().__init__(name="JetlabParticleSource", level=level)
        self.events = events
        self.output = ae.WriteDataHandle(self, ae.SimParticleContainer, "OutputParticles")
        self.output.initialize("particles_generated")

    def execute(self, context: Any) -> Any:
        gen = self.events[context.eventNumber]
        first = np.searchsorted(gen.vertex, gen.vertex)  # vertices are sorted: first particle of each
        number = np.arange(len(gen)) - first + 1  # (N,) 1-based particle number in its vertex
        p = np.linalg.norm(gen.momentum, axis=1)  # (N,)
        direction = gen.momentum / np.maximum(p, 1e-300)[:, None]
        container = ae.SimParticleContainer()
        for k in range(len(gen)):
            barcode = acts.fatras.Barcode()
            barcode.vertexPrimary, barcode.particle = int(gen.vertex[k]), int(number[k])
            particle = ae.SimParticle(barcode, acts.PdgParticle(int(gen.pdg[k])), float(gen.charge[k]),
                                      float(gen.mass[k]))
            particle.fourPosition = acts.Vector4(*gen.position[k].tolist())
            particle.direction = acts.Vector3(*direction[k].tolist())
            particle.absoluteMomentum = float(p[k])
            container.insert(particle)
        self.output(context, container)
        return ae.ProcessCode.SUCCESS


class _SimulationSink(ae.IAlgorithm):
    """Reads the simulated particles, hits and measurements of each event into TrackML arrays."""

    def __init__(self, detector: _Detector, level: Any) -> None:
        super().__init__(name="JetlabSimulationSink", level=level)
        self.detector = detector
        self.events: dict[int, dict[str, Any]] = {}
        self.handles = {}
        for key, kind in (("particles_simulated", ae.SimParticleContainer), ("simhits", ae.SimHitContainer),
                          ("measurements", ae.MeasurementContainer),
                          ("measurement_simhits_map", ae.MeasurementSimHitsMap)):
            self.handles[key] = ae.ReadDataHandle(self, kind, key)
            self.handles[key].initialize(key)

    def execute(self, context: Any) -> Any:
        store = context.eventStore
        simhits = list(self.handles["simhits"](store))
        measurements = self.handles["measurements"](store)
        n = len(measurements)
        simhit_of = np.full(n, -1, dtype=np.int64)
        for m, h in self.handles["measurement_simhits_map"](store):
            if simhit_of[m] < 0:
                simhit_of[m] = h
        params = (measurements[i].fullParameters for i in range(n))
        local = np.array([(v[0], v[1]) for v in params], dtype=np.float64).reshape(n, 2)  # (M, 2)
        rows, pid = [], np.zeros(n, dtype=np.int64)
        known: dict[str, int] = {}  # barcode -> particle_id
        for m, h in enumerate(simhits[i] for i in simhit_of.tolist()):  # vectors indexed, not iterated: faster
            g, x, p = h.geometryId, h.fourPosition, h.momentum4Before
            rows.append((g.volume, g.layer, g.sensitive, x[0], x[1], x[2], p[0], p[1], p[2]))
            key = str(h.particleId)
            pid[m] = known[key] if key in known else known.setdefault(key, particle_id(h.particleId))
        table = np.array(rows, dtype=np.float64).reshape(n, 9)
        ids, truth_xyz = table[:, :3].astype(np.int64), table[:, 3:]
        self.events[context.eventNumber] = _trackml_event(self.detector, local, ids, truth_xyz, pid,
                                                          self.handles["particles_simulated"](store))
        return ae.ProcessCode.SUCCESS


def _trackml_event(det: _Detector, local: np.ndarray, ids: np.ndarray, truth_xyz: np.ndarray, pid: np.ndarray,
                   sim_particles: Any) -> dict[str, Any]:
    """TrackML parts from measurements (M,): local (M, 2), module ids (M, 3), true x, p (M, 6), particle ids."""
    rows = det.rows(ids[:, 0], ids[:, 1], ids[:, 2], "simulation")
    xyz = det.center[rows] + np.einsum("mij,mj->mi", det.rotation[rows, :, :2], local)  # (M, 3)
    hit_id = np.arange(1, len(pid) + 1)
    truth = {"hit_id": hit_id, "particle_id": pid, **dict(zip(("tx", "ty", "tz", "tpx", "tpy", "tpz"), truth_xyz.T))}
    particles = _particles(list(sim_particles), pid)
    truth["weight"] = hit_weights(truth, particles)
    hits = {"hit_id": hit_id, "x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2],
            "volume_id": ids[:, 0], "layer_id": ids[:, 1], "module_id": ids[:, 2]}
    return {"hits": hits, "particles": particles, "truth": truth}


def _particles(sim: list[Any], hit_pid: np.ndarray) -> dict[str, np.ndarray]:
    """TrackML particles (initial states) of Fatras's particles, sorted by id, with their hit counts."""
    pid = np.array([particle_id(p.particleId) for p in sim], dtype=np.int64)  # (P,)
    table = np.array([(x[0], x[1], x[2], q[0], q[1], q[2], p.charge, p.pdg.value)
                      for p, x, q in ((p, p.position, p.momentum) for p in sim)]).reshape(len(sim), 8)
    order = np.argsort(pid)
    pid, table = pid[order], table[order]
    counted, counts = np.unique(hit_pid, return_counts=True)
    pos = np.searchsorted(pid, counted).clip(max=max(len(pid) - 1, 0))
    if len(counted) and (len(pid) == 0 or (pid[pos] != counted).any()):
        raise JetlabError("ACTS: simulated hits of a particle missing from particles_simulated")
    nhits = np.zeros(len(pid), dtype=np.int64)
    nhits[pos] = counts
    return {"particle_id": pid, **dict(zip(("vx", "vy", "vz", "px", "py", "pz"), table[:, :6].T)),
            "q": np.rint(table[:, 6]).astype(np.int64), "nhits": nhits, "particle_type": table[:, 7].astype(np.int64)}


def simulate_events(n_events: int = 1, pileup: float = 0.0, hard: str = "ttbar", pt_min: float = 0.1,
                    seed: int = 0, first_event: int = 0, eta_max: float = 4.0,
                    log_level: str = "WARNING") -> list[dict[str, Any]]:
    """Generate and simulate events ``first_event .. first_event + n_events - 1`` of sample ``seed``.

    Returns one dict per event: ``event_id``, the TrackML parts ``hits``, ``particles`` (with the extra
    column ``particle_type``, the PDG id), ``truth`` as numpy arrays (see :mod:`jetlab.io.trackml`), and
    ``timing``: seconds of Pythia for this event and of each ACTS algorithm per event (run average).
    An event depends on (arguments, event id) only, so shards may split an index range.
    """
    if n_events < 1 or first_event < 0:
        raise UsageError(f"--events must be >= 1 and the first event >= 0, got {n_events}, {first_event}")
    config = EventConfig(pileup=pileup, hard=hard, pt_min=pt_min, eta_max=eta_max)
    ids = range(first_event, first_event + n_events)
    generated, generation_s = {}, {}
    for i in ids:
        start = time.perf_counter()
        generated[i] = generate_event(config, seed, i)
        generation_s[i] = time.perf_counter() - start
    det = generic_detector()
    level = _level(log_level)
    rnd = ae.RandomNumbers(seed=int(np.random.SeedSequence(int(seed)).generate_state(1)[0]))
    sink = _SimulationSink(det, level)
    digi = ae.DigitizationAlgorithm(ae.DigitizationAlgorithm.Config(
        digitizationConfigs=ajson.readDigiConfigFromJson(str(DIGI_CONFIG)),
        surfaceByIdentifier=det.geometry.geoIdSurfaceMap(), randomNumbers=rnd, inputSimHits="simhits",
        outputMeasurements="measurements", outputMeasurementParticlesMap="measurement_particles_map",
        outputMeasurementSimHitsMap="measurement_simhits_map",
        outputParticleMeasurementsMap="particle_measurements_map",
        outputSimHitMeasurementsMap="simhit_measurements_map"), level)
    fatras = ae.FatrasSimulation(
        level=level, inputParticles="particles_generated", outputParticles="particles_simulated",
        outputSimHits="simhits", randomNumbers=rnd, trackingGeometry=det.geometry, magneticField=det.field,
        generateHitsOnSensitive=True, emScattering=True, emEnergyLossIonisation=True,
        emEnergyLossRadiation=True, emPhotonConversion=True)
    acts_s = _run({"events": n_events, "skip": first_event, "logLevel": level},
                  [_ParticleSource(generated, level), fatras, digi, sink])
    return [{"event_id": i, **sink.events[i], "timing": {"pythia": generation_s[i], **acts_s}} for i in ids]


# -- reconstruction --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecoConfig:
    """Cuts of the classical chain (units: GeV, mm)."""

    seed_pt_min: float = 0.5
    seed_impact_max: float = 3.0
    seed_delta_r: tuple[float, float] = (1.0, 120.0)
    seed_r_middle: tuple[float, float] = (20.0, 190.0)
    seed_r_max: float = 200.0
    seed_z: tuple[float, float] = (-2000.0, 2000.0)
    collision_region: tuple[float, float] = (-250.0, 250.0)
    cot_theta_max: float = 10.0  # |η| < 3
    max_seeds_per_middle: int = 1
    chi2_measurement: float = 15.0
    chi2_outlier: float = 25.0
    max_branches_per_surface: int = 10
    track_pt_min: float = 0.5
    track_min_measurements: int = 7
    max_shared_hits: int = 3


@dataclass
class Tracks:
    """Reconstructed tracks (T,) of one event."""

    hit_ids: list[np.ndarray]  # (T,) each the track's hit ids (measurement states, outside in)
    parameters: np.ndarray  # (T, 6) loc0, loc1 (mm), phi, theta, q/p (1/GeV), t at the perigee
    n_seeds: int
    timing: dict[str, float] = field(default_factory=dict)  # seconds: "total" and per ACTS algorithm

    def __len__(self) -> int:
        return len(self.hit_ids)

    @property
    def pt(self) -> np.ndarray:
        return np.sin(self.parameters[:, 3]) / np.abs(self.parameters[:, 4])

    @property
    def eta(self) -> np.ndarray:
        return -np.log(np.tan(self.parameters[:, 3] / 2))

    @property
    def charge(self) -> np.ndarray:
        return np.sign(self.parameters[:, 4])

    def submission(self) -> tuple[np.ndarray, np.ndarray]:
        """(hit_id, track_id), each shared hit given to one track: the input of ``trackml_score``."""
        return assign_hits(self.hit_ids)


class _MeasurementSource(ae.IAlgorithm):
    """Writes the hits of an event as ACTS measurements (``measurements``) and their full subset."""

    def __init__(self, geometry_ids: list[Any], local: np.ndarray, variance: np.ndarray, level: Any) -> None:
        super().__init__(name="JetlabMeasurementSource", level=level)
        self.geometry_ids, self.local, self.variance = geometry_ids, local.tolist(), variance.tolist()
        self.output = ae.WriteDataHandle(self, ae.MeasurementContainer, "OutputMeasurements")
        self.output.initialize("measurements")

    def execute(self, context: Any) -> Any:
        container = ae.MeasurementContainer()
        container.reserve(len(self.local))
        for gid, loc, var in zip(self.geometry_ids, self.local, self.variance):
            container.emplaceMeasurement(gid, [0, 1], loc, var)  # bound indices eBoundLoc0, eBoundLoc1
        self.output(context, container)
        return ae.ProcessCode.SUCCESS


class _MeasurementSubset(ae.IAlgorithm):
    """``measurement_subset``: all measurements (built on the whiteboard's container, which it points to)."""

    def __init__(self, level: Any) -> None:
        super().__init__(name="JetlabMeasurementSubset", level=level)
        self.input = ae.ReadDataHandle(self, ae.MeasurementContainer, "InputMeasurements")
        self.input.initialize("measurements")
        self.output = ae.WriteDataHandle(self, ae.MeasurementSubset, "OutputMeasurementSubset")
        self.output.initialize("measurement_subset")

    def execute(self, context: Any) -> Any:
        container = self.input(context.eventStore)
        self.output(context, ae.MeasurementSubset(container, list(range(len(container)))))
        return ae.ProcessCode.SUCCESS


class _TrackSink(ae.IAlgorithm):
    """Reads the final tracks, their measurement indices (proto tracks) and the number of seeds."""

    def __init__(self, level: Any) -> None:
        super().__init__(name="JetlabTrackSink", level=level)
        self.handles = {}
        for key, kind in (("ambi_tracks", ae.ConstTrackContainer), ("ambi_prototracks", ae.ProtoTrackContainer),
                          ("seed_prototracks", ae.ProtoTrackContainer)):
            self.handles[key] = ae.ReadDataHandle(self, kind, key)
            self.handles[key].initialize(key)
        self.result: dict[str, Any] = {}

    def execute(self, context: Any) -> Any:
        store = context.eventStore
        tracks = self.handles["ambi_tracks"](store)
        self.result = {
            "proto": [np.array(list(p), dtype=np.int64) for p in self.handles["ambi_prototracks"](store)],
            # per-track accessors: the container's array views do not outlive the event
            "parameters": np.array([[t.loc0, t.loc1, t.phi, t.theta, t.qOverP, t.time] for t in tracks],
                                   dtype=np.float64).reshape(len(tracks), 6),
            "n_measurements": np.array([t.nMeasurements for t in tracks], dtype=np.int64),
            "n_seeds": len(self.handles["seed_prototracks"](store)),
        }
        return ae.ProcessCode.SUCCESS


def _measurements(det: _Detector, hits: dict[str, np.ndarray]) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """Module ids (M,), local coordinates (M, 2) and variances (M, 2) of TrackML hits."""
    rows = det.rows(hits["volume_id"], hits["layer_id"], hits["module_id"], "hits")
    xyz = np.stack([hits["x"], hits["y"], hits["z"]], axis=1)  # (M, 3)
    uvw = np.einsum("mji,mj->mi", det.rotation[rows], xyz - det.center[rows])  # (M, 3) R^T (x - c)
    off = np.abs(uvw[:, 2]) > _PLANE_TOLERANCE
    if off.any():
        i = np.flatnonzero(off)[0]
        raise FormatError(f"hits: hit_id {hits['hit_id'][i]} lies {uvw[i, 2]:.3g} mm off the plane of its module: "
                          "not a hit of ACTS's Generic detector (e.g. the Kaggle TrackML detector differs)")
    volumes = np.asarray(hits["volume_id"], np.int64)
    missing = set(np.unique(volumes).tolist()) - set(det.sigma)
    if missing:
        raise FormatError(f"hits: volume(s) {sorted(missing)} have no resolution in {DIGI_CONFIG.name}")
    sigma = np.array([det.sigma[v] for v in volumes.tolist()]).reshape(len(volumes), 2)
    return [det.ids[r] for r in rows.tolist()], uvw[:, :2], sigma**2


def _reco_algorithms(det: _Detector, cfg: RecoConfig, level: Any) -> list[Any]:
    """Space points, seeds, parameter estimates, CKF, ambiguity resolution, proto tracks (ACTS algorithms)."""
    geo, bfield = det.geometry, det.field
    finder = ae.TrackFindingAlgorithm
    return [
        ae.SpacePointMaker(level=level, inputMeasurements="measurement_subset", outputSpacePoints="spacepoints",
                           trackingGeometry=geo, geometrySelection=ajson.readJsonGeometryList(str(SEEDING_LAYERS))),
        ae.GridTripletSeedingAlgorithm(
            level=level, inputSpacePoints="spacepoints", outputSeeds="seeds", bFieldInZ=FIELD_T * u.T,
            minPt=cfg.seed_pt_min * u.GeV, impactMax=cfg.seed_impact_max * u.mm, cotThetaMax=cfg.cot_theta_max,
            deltaRMin=cfg.seed_delta_r[0], deltaRMax=cfg.seed_delta_r[1], rMin=0.0, rMax=cfg.seed_r_max,
            rMinMiddle=cfg.seed_r_middle[0], rMaxMiddle=cfg.seed_r_middle[1], zMin=cfg.seed_z[0],
            zMax=cfg.seed_z[1], collisionRegionMin=cfg.collision_region[0],
            collisionRegionMax=cfg.collision_region[1], maxSeedsPerSpM=cfg.max_seeds_per_middle,
            sigmaScattering=5.0, radLengthPerSeed=0.1),
        ae.TrackParamsEstimationAlgorithm(
            level=level, inputSeeds="seeds", outputTrackParameters="estimatedparameters",
            outputSeeds="estimatedseeds", trackingGeometry=geo, magneticField=bfield),
        ae.SeedsToProtoTracks(level=level, inputSeeds="estimatedseeds", outputProtoTracks="seed_prototracks"),
        finder(
            level=level, inputMeasurements="measurement_subset", inputInitialTrackParameters="estimatedparameters",
            inputSeeds="estimatedseeds", outputTracks="ckf_tracks", trackingGeometry=geo, magneticField=bfield,
            findTracks=finder.makeTrackFinderFunction(geo, bfield, level),
            findTracksBrem=finder.makeBremTrackFinderFunction(geo, bfield, level),
            measurementSelectorCfg=acts.MeasurementSelector.Config([(acts.GeometryIdentifier(), (
                [], [cfg.chi2_measurement], [cfg.chi2_outlier], [cfg.max_branches_per_surface]))]),
            trackSelectorCfg=acts.TrackSelector.Config(ptMin=cfg.track_pt_min * u.GeV,
                                                       minMeasurements=cfg.track_min_measurements),
            seedDeduplication=True, stayOnSeed=True),
        ae.GreedyAmbiguityResolutionAlgorithm(
            level=level, inputTracks="ckf_tracks", outputTracks="ambi_tracks",
            maximumSharedHits=cfg.max_shared_hits, nMeasurementsMin=cfg.track_min_measurements,
            maximumIterations=1_000_000),
        ae.TracksToTrajectories(level=level, inputTracks="ambi_tracks", outputTrajectories="ambi_trajectories"),
        ae.TrajectoriesToProtoTracks(level=level, inputTrajectories="ambi_trajectories",
                                     outputProtoTracks="ambi_prototracks"),
    ]


def reconstruct_ckf(event: dict[str, Any], config: RecoConfig | None = None, log_level: str = "WARNING") -> Tracks:
    """Classical track finding on an event's TrackML ``hits`` (the truth is not read); see the module docstring."""
    start = time.perf_counter()
    det = generic_detector()
    cfg = config or RecoConfig()
    level = _level(log_level)
    hits = event["hits"]
    ids, local, variance = _measurements(det, hits)
    sink = _TrackSink(level)
    timing = _run({"events": 1, "logLevel": level},
                  [_MeasurementSource(ids, local, variance, level), _MeasurementSubset(level),
                   *_reco_algorithms(det, cfg, level), sink])
    res = sink.result
    if [len(p) for p in res["proto"]] != res["n_measurements"].tolist():
        raise JetlabError("ACTS proto tracks do not match the tracks' measurement counts")
    hit_id = np.asarray(hits["hit_id"], dtype=np.int64)
    timing["total"] = time.perf_counter() - start
    return Tracks([hit_id[p] for p in res["proto"]], res["parameters"], res["n_seeds"], timing)
