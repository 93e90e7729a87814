"""The classical tracking baseline: ACTS seeding + combinatorial Kalman filter + ambiguity resolution.

:func:`reconstruct_ckf` reads only the TrackML ``hits`` of an event (never the truth), on ACTS's Generic
detector (:mod:`jetlab.generate.tracking.geometry`): local coordinates come back from the module
transforms, variances from the smearing config; then

1. ``SpacePointMaker`` on the pixel layers of ``configs/acts/generic-seeding-layers.json``;
2. ``GridTripletSeedingAlgorithm`` (triplets of space points compatible with a helix from the beam line);
3. ``TrackParamsEstimationAlgorithm`` (initial parameters from each seed);
4. ``TrackFindingAlgorithm``: the CKF, following each seed outward and branching on compatible
   measurements (χ² cuts of :class:`RecoConfig`);
5. ``GreedyAmbiguityResolutionAlgorithm``: removes tracks sharing more than ``max_shared_hits`` hits.

Tracks come back as hit-id lists (:class:`Tracks`); their truth matching is
:mod:`jetlab.metrics.trackml`'s, on the arrays. Run like a model at evaluation time
(``jetlab tracks evaluate DIR --ckf``).

Usage::

    from jetlab.generate.tracking import simulate_events
    from jetlab.metrics.trackml import trackml_score
    from jetlab.tasks.track_ckf import reconstruct_ckf

    for event in simulate_events(n_events=2, pileup=10, hard="ttbar", seed=1):
        tracks = reconstruct_ckf(event)                      # hit-id lists + timing
        print(trackml_score(event["truth"], *tracks.submission()))
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import acts
import acts.examples as ae
import acts.examples.json as ajson
import numpy as np

from jetlab.errors import FormatError, JetlabError
from jetlab.generate.tracking.geometry import (
    DIGI_CONFIG,
    FIELD_T,
    SEEDING_LAYERS,
    DetectorGeometry,
    acts_level,
    generic_detector,
    run_sequencer,
)
from jetlab.io.trackml import assign_hits

__all__ = ["RecoConfig", "Tracks", "reconstruct_ckf"]

_PLANE_TOLERANCE = 1e-3  # mm: a hit read back from a TrackML file sits on its module's plane
u = acts.UnitConstants


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


def _measurements(det: DetectorGeometry, hits: dict[str, np.ndarray]) -> tuple[list[Any], np.ndarray, np.ndarray]:
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


def _reco_algorithms(det: DetectorGeometry, cfg: RecoConfig, level: Any) -> list[Any]:
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
    level = acts_level(log_level)
    hits = event["hits"]
    ids, local, variance = _measurements(det, hits)
    sink = _TrackSink(level)
    timing = run_sequencer({"events": 1, "logLevel": level},
                           [_MeasurementSource(ids, local, variance, level), _MeasurementSubset(level),
                            *_reco_algorithms(det, cfg, level), sink])
    res = sink.result
    if [len(p) for p in res["proto"]] != res["n_measurements"].tolist():
        raise JetlabError("ACTS proto tracks do not match the tracks' measurement counts")
    hit_id = np.asarray(hits["hit_id"], dtype=np.int64)
    timing["total"] = time.perf_counter() - start
    return Tracks([hit_id[p] for p in res["proto"]], res["parameters"], res["n_seeds"], timing)
