"""Tracking events: Pythia 8 hard scatter + pileup, ACTS Fatras simulation on the Generic detector, TrackML files.

- :mod:`~jetlab.generate.tracking.events`: generator-level particles (Pythia 8 tt̄ + minimum-bias pileup);
- :mod:`~jetlab.generate.tracking.geometry`: ACTS's Generic detector, its module table, the Sequencer runner;
- :mod:`~jetlab.generate.tracking.simulation`: Fatras + digitisation into TrackML hits, particles, truth;
- :mod:`~jetlab.generate.tracking.dataset`: a directory of TrackML events: ``detectors.csv``, ``manifest.json``;
- :mod:`~jetlab.generate.tracking.runner`: ``jetlab tracks generate`` (blocks of events, workers, resume).

The classical reconstruction (seeding + CKF, the baseline tracker) is :mod:`jetlab.tasks.track_ckf`.

Usage::

    from jetlab.generate.tracking import generate_tracks, simulate_events
    from jetlab.io.trackml import read_event

    events = simulate_events(n_events=2, pileup=10, hard="ttbar", pt_min=0.1, seed=1)   # in memory
    generate_tracks("out/", events=10, pileup=10, seed=1)        # event#########-{hits,particles,truth}.csv
    event = read_event("out/", 0)

Event ``i`` of sample ``seed`` depends on (arguments, ``seed``, ``i``) only: any split of the events
into blocks or workers gives the same files. Names load on first use, so reading a TrackML directory
does not start ACTS or Pythia.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["simulate_events", "generic_detector", "module_table", "generate_tracks", "TracksConfig", "EventConfig",
           "BeamSpot", "GenParticles", "generate_event", "HARD_PROCESSES"]

_WHERE = {"simulate_events": "simulation", "generic_detector": "geometry", "module_table": "geometry",
          "generate_tracks": "runner", "TracksConfig": "runner", "EventConfig": "events", "BeamSpot": "events",
          "GenParticles": "events", "generate_event": "events", "HARD_PROCESSES": "events"}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
