"""ACTS simulation of generated events on the Generic detector into TrackML hits, particles and truth.

One ``acts.examples.Sequencer`` run per call of :func:`simulate_events`; per event:

1. :func:`~jetlab.generate.tracking.events.generate_event` makes the particles (Pythia 8, inside the
   Sequencer's event loop), handed to ACTS in its own event data model: a Python source algorithm
   writes a ``SimParticleContainer`` (the ACTS particle input that needs no file; barcode = (vertex,
   particle number in its vertex));
2. ``FatrasSimulation``: helix propagation in the 2 T field with multiple scattering, ionisation and
   radiation energy loss, photon conversion; one simulated hit per sensitive surface crossed;
3. ``DigitizationAlgorithm`` with jetlab's ``configs/acts/generic-digi-smearing.json``: both local
   coordinates smeared by a Gaussian of σ = pitch/√12 (pixels 50 x 50 µm, short strips 80 µm x 1 mm,
   long strips 120 µm x 10 mm); one measurement per simulated hit;
4. a Python sink turns the measurements into TrackML arrays: ``hits`` (the smeared local point on its
   module, in global coordinates), ``truth`` (the simulated crossing point and momentum, challenge
   weights), ``particles`` (Fatras's particles with their initial state, secondaries included).

``particle_id`` packs the ACTS barcode: vertex primary (12 bits), vertex secondary (12), particle (20),
generation (7), sub-particle (12), from the high bits down; generator particles have generation 0.

Seeds: Pythia's come from (``seed``, event id) (:func:`~jetlab.generate.tracking.events.event_seeds`);
Fatras and the digitisation draw from ``acts.examples.RandomNumbers`` seeded with :func:`acts_seed`
(``seed``), which ACTS splits per event number: an event depends on (arguments, event id) only.

ACTS logs at ``log_level`` (WARNING by default); the Sequencer's working directory is a temporary
directory removed on return: nothing is left on disk.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import acts
import acts.examples as ae
import acts.examples.json as ajson
import acts.fatras
import numpy as np

from jetlab.errors import JetlabError, UsageError
from jetlab.generate.tracking.events import EventConfig, generate_event
from jetlab.generate.tracking.geometry import DIGI_CONFIG, DetectorGeometry, acts_level, generic_detector, run_sequencer
from jetlab.io.trackml import hit_weights

__all__ = ["simulate_events", "particle_id", "decode_particle_id", "acts_seed"]

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


def acts_seed(seed: int) -> int:
    """The seed of ACTS's ``RandomNumbers`` (Fatras, digitisation) for sample ``seed``."""
    return int(np.random.SeedSequence(int(seed)).generate_state(1)[0])


class _ParticleSource(ae.IAlgorithm):
    """Generates event ``n`` (Pythia) and writes its particles as the ``particles_generated`` container."""

    def __init__(self, config: EventConfig, seed: int, level: Any) -> None:
        super().__init__(name="JetlabParticleSource", level=level)
        self.config, self.seed = config, seed
        self.seconds: dict[int, float] = {}  # Pythia time per event
        self.error: BaseException | None = None
        self.output = ae.WriteDataHandle(self, ae.SimParticleContainer, "OutputParticles")
        self.output.initialize("particles_generated")

    def execute(self, context: Any) -> Any:
        try:
            start = time.perf_counter()
            gen = generate_event(self.config, self.seed, context.eventNumber)
            self.seconds[context.eventNumber] = time.perf_counter() - start
        except Exception as e:  # noqa: BLE001 - re-raised by run_sequencer, without ACTS's traceback dump
            self.error = e
            return ae.ProcessCode.ABORT
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
    """Reads the simulated particles, hits and measurements of each event into TrackML arrays.

    Each event goes to ``on_event`` as soon as it is made (and is not kept), or into ``events``.
    """

    def __init__(self, detector: DetectorGeometry, level: Any,
                 on_event: Callable[[dict[str, Any]], None] | None) -> None:
        super().__init__(name="JetlabSimulationSink", level=level)
        self.detector, self.on_event = detector, on_event
        self.events: dict[int, dict[str, Any]] = {}
        self.error: BaseException | None = None
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
        event = {"event_id": context.eventNumber, **_trackml_event(self.detector, local, ids, truth_xyz, pid,
                                                                   self.handles["particles_simulated"](store))}
        if self.on_event is None:
            self.events[context.eventNumber] = event
            return ae.ProcessCode.SUCCESS
        try:
            self.on_event(event)
        except Exception as e:  # noqa: BLE001 - re-raised by run_sequencer (a full disk, say)
            self.error = e
            return ae.ProcessCode.ABORT
        return ae.ProcessCode.SUCCESS


def _trackml_event(det: DetectorGeometry, local: np.ndarray, ids: np.ndarray, truth_xyz: np.ndarray,
                   pid: np.ndarray, sim_particles: Any) -> dict[str, Any]:
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


def _algorithms(det: DetectorGeometry, seed: int, level: Any) -> list[Any]:
    """Fatras and the smearing digitisation, sharing one ``RandomNumbers``."""
    rnd = ae.RandomNumbers(seed=acts_seed(seed))
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
    return [fatras, digi]


def simulate_events(n_events: int = 1, pileup: float = 0.0, hard: str = "ttbar", pt_min: float = 0.1,
                    seed: int = 0, first_event: int = 0, eta_max: float = 4.0, log_level: str = "WARNING",
                    on_event: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Generate and simulate events ``first_event .. first_event + n_events - 1`` of sample ``seed``.

    Returns one dict per event: ``event_id``, the TrackML parts ``hits``, ``particles`` (with the extra
    column ``particle_type``, the PDG id), ``truth`` as numpy arrays (see :mod:`jetlab.io.trackml`), and
    ``timing``: seconds of Pythia for this event and of each ACTS algorithm per event (run average).
    With ``on_event``, each event (without ``timing``) is passed to it as soon as it is simulated and
    not kept: the list returned is empty. An event depends on (arguments, event id) only.
    """
    if n_events < 1 or first_event < 0:
        raise UsageError(f"--events must be >= 1 and the first event >= 0, got {n_events}, {first_event}")
    config = EventConfig(pileup=pileup, hard=hard, pt_min=pt_min, eta_max=eta_max)
    det = generic_detector()
    level = acts_level(log_level)
    source = _ParticleSource(config, seed, level)
    sink = _SimulationSink(det, level, on_event)
    acts_s = run_sequencer({"events": n_events, "skip": first_event, "logLevel": level},
                           [source, *_algorithms(det, seed, level), sink])
    acts_s.pop("Algorithm:JetlabParticleSource", None)  # it holds Pythia's time, reported per event
    return [{**sink.events[i], "timing": {"pythia": source.seconds[i], **acts_s}} for i in sorted(sink.events)]
