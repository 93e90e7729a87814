"""ACTS's Generic detector (Gen1 geometry) in a 2 T solenoid field: its module table, and the Sequencer runner.

Pixels in volumes 7, 8, 9 (-z endcap, barrel, +z endcap), short strips in 12, 13, 14, long strips in
16, 17, 18; sensitive layers have even ids; a constant 2 T field along z. 18 728 sensitive modules, each
a plane: rectangles in the barrels, trapezoids in the endcaps.

:func:`module_table` gives the detector in the TrackML ``detectors.csv`` columns (Kaggle challenge):
``volume_id, layer_id, module_id``, the centre ``cx, cy, cz`` (mm), the local-to-global rotation
``rot_xu .. rot_zw`` (row x, y, z; column u, v, w), the half thickness ``module_t``, the half widths
``module_minhu, module_maxhu`` in u at the -v and +v edges (equal for a rectangle), the half length
``module_hv``, and the pitches ``pitch_u, pitch_v`` = sqrt(12) x the smearing σ of the digitisation config.

The geometry-specific JSON configs are jetlab's own (package data, ``configs/acts``): the digitisation
smearing (:data:`DIGI_CONFIG`) and the pixel layers used for seeding (:data:`SEEDING_LAYERS`).
"""

from __future__ import annotations

import csv
import functools
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import acts
import acts.examples as ae
import numpy as np

import jetlab
from jetlab.errors import FormatError, UsageError

__all__ = ["DetectorGeometry", "generic_detector", "module_table", "module_key", "acts_level", "run_sequencer",
           "DETECTOR_NAME", "DIGI_CONFIG", "SEEDING_LAYERS", "FIELD_T", "CONFIG_DIR"]

CONFIG_DIR = Path(jetlab.__file__).parent / "configs" / "acts"
DIGI_CONFIG = CONFIG_DIR / "generic-digi-smearing.json"
SEEDING_LAYERS = CONFIG_DIR / "generic-seeding-layers.json"
FIELD_T = 2.0
DETECTOR_NAME = "ACTS GenericDetector (Gen1), 2 T solenoid"
u = acts.UnitConstants


@dataclass
class DetectorGeometry:
    """The Generic detector's geometry and a vectorised table of its sensitive modules (S,)."""

    detector: Any
    geometry: Any
    context: Any
    field: Any
    keys: np.ndarray  # (S,) sorted volume/layer/module keys
    ids: list[Any]  # (S,) acts.GeometryIdentifier
    rotation: np.ndarray  # (S, 3, 3) local -> global
    center: np.ndarray  # (S, 3) mm
    half_size: np.ndarray  # (S, 3) half width in u at -v and at +v, half length in v (mm)
    thickness: np.ndarray  # (S,) mm
    sigma: dict[int, tuple[float, float]]  # volume -> smearing σ of local 0, 1 (mm)

    def rows(self, volume: np.ndarray, layer: np.ndarray, module: np.ndarray, source: str) -> np.ndarray:
        """Row in the table of each (volume, layer, module); FormatError naming ``source`` for an unknown one."""
        key = module_key(volume, layer, module)
        pos = np.searchsorted(self.keys, key).clip(max=len(self.keys) - 1)
        bad = self.keys[pos] != key
        if bad.any():
            i = np.flatnonzero(bad)[0]
            raise FormatError(f"{source}: hit on module (volume {volume[i]}, layer {layer[i]}, module "
                              f"{module[i]}) that the Generic detector does not have")
        return pos


def module_key(volume: np.ndarray, layer: np.ndarray, module: np.ndarray) -> np.ndarray:
    """One int64 per module: (volume * 1000 + layer) * 10^6 + module."""
    return (np.asarray(volume, np.int64) * 1000 + np.asarray(layer, np.int64)) * 1_000_000 + np.asarray(module)


def _smearing_sigmas(path: Path) -> dict[int, tuple[float, float]]:
    out = {}
    for entry in json.loads(path.read_text())["entries"]:
        sm = sorted(entry["value"]["smearing"], key=lambda s: s["index"])
        out[int(entry["volume"])] = (float(sm[0]["stddev"]), float(sm[1]["stddev"]))
    return out


def _half_size(bounds: Any) -> tuple[float, float, float]:
    """(half u at -v, half u at +v, half v) of rectangle [minX, minY, maxX, maxY] or trapezoid [hx-, hx+, hy, α]."""
    v = list(bounds.values())
    if type(bounds).__name__ == "RectangleBounds":
        return (v[2] - v[0]) / 2, (v[2] - v[0]) / 2, (v[3] - v[1]) / 2
    return v[0], v[1], v[2]


@functools.cache
def generic_detector() -> DetectorGeometry:
    """The Generic detector, its 2 T field and module table, built once per process (~1 s)."""
    cfg = ae.GenericDetector.Config()
    for name in ("logLevel", "layerLogLevel", "surfaceLogLevel", "volumeLogLevel"):
        setattr(cfg, name, acts.logging.WARNING)
    det = ae.GenericDetector(cfg)
    geometry = det.trackingGeometry()
    context = det.nominalGeometryContext()
    rows = sorted((int(module_key(g.volume, g.layer, g.sensitive)), g, s)
                  for g, s in geometry.geoIdSurfaceMap().items() if g.sensitive > 0)
    transforms = [s.localToGlobalTransform(context) for _, _, s in rows]
    return DetectorGeometry(
        detector=det, geometry=geometry, context=context,
        field=acts.ConstantBField(acts.Vector3(0, 0, FIELD_T * u.T)),
        keys=np.array([k for k, _, _ in rows], dtype=np.int64),
        ids=[g for _, g, _ in rows],
        rotation=np.array([[[t.rotation[i, j] for j in range(3)] for i in range(3)] for t in transforms]),
        center=np.array([np.array(t.translation) for t in transforms]),
        half_size=np.array([_half_size(s.bounds) for _, _, s in rows]),
        thickness=np.array([s.thickness for _, _, s in rows]),
        sigma=_smearing_sigmas(DIGI_CONFIG),
    )


def module_table() -> dict[str, np.ndarray]:
    """The Generic detector's sensitive modules (S,) in the TrackML ``detectors.csv`` columns (module docstring)."""
    det = generic_detector()
    keys = det.keys
    volume = keys // 1_000_000_000
    table = {"volume_id": volume, "layer_id": keys // 1_000_000 % 1000, "module_id": keys % 1_000_000}
    table |= dict(zip(("cx", "cy", "cz"), det.center.T))
    for i, x in enumerate("xyz"):
        for j, w in enumerate("uvw"):
            table[f"rot_{x}{w}"] = det.rotation[:, i, j]
    table["module_t"] = det.thickness / 2
    table |= dict(zip(("module_minhu", "module_maxhu", "module_hv"), det.half_size.T))
    sigma = np.array([det.sigma.get(int(v), (np.nan, np.nan)) for v in volume.tolist()]).reshape(len(keys), 2)
    table["pitch_u"], table["pitch_v"] = (np.sqrt(12.0) * sigma).T
    return table


def acts_level(name: str) -> Any:
    """The ``acts.logging`` level called ``name`` (``"WARNING"``, ``"info"``, ...)."""
    try:
        return getattr(acts.logging, name.upper())
    except AttributeError:
        raise UsageError(f"unknown ACTS log level {name!r}") from None


def run_sequencer(sequencer_kwargs: dict[str, Any], algorithms: list[Any]) -> dict[str, float]:
    """Run the algorithms in a one-thread Sequencer working in a temporary directory (removed on return).

    Returns seconds per event of each algorithm (ACTS's ``timing.csv``). An algorithm that stored an
    exception in its ``error`` attribute (and returned ``ABORT``) has it re-raised here.
    """
    with tempfile.TemporaryDirectory(prefix="jetlab-acts-") as tmp:
        seq = ae.Sequencer(numThreads=1, trackFpes=False, outputDir=tmp, **sequencer_kwargs)
        for alg in algorithms:
            seq.addAlgorithm(alg)
        try:
            seq.run()
        except RuntimeError:
            for alg in algorithms:
                if getattr(alg, "error", None) is not None:
                    raise alg.error from None
            raise
        timing_file = Path(tmp) / "timing.csv"
        if not timing_file.exists():
            return {}
        with open(timing_file, newline="") as fh:
            return {row["identifier"]: float(row["time_perevent_s"]) for row in csv.DictReader(fh)}
