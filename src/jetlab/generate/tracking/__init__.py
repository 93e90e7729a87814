"""Tracking events: Pythia 8 hard scatter + pileup, ACTS Fatras simulation on the Generic detector, TrackML
hits, and ACTS's classical reconstruction (seeding, CKF, ambiguity resolution) as the baseline.

Usage::

    from jetlab.generate.tracking import simulate_events, reconstruct_ckf
    from jetlab.io.trackml import write_event
    from jetlab.metrics.trackml import trackml_score

    events = simulate_events(n_events=2, pileup=10, hard="ttbar", pt_min=0.1, seed=1)
    for event in events:
        write_event("out/", event["event_id"], event)     # event#########-{hits,particles,truth}.csv
        tracks = reconstruct_ckf(event)                    # hit-id lists + timing
        print(trackml_score(event["truth"], *tracks.submission()))

Event ``i`` of sample ``seed`` depends on (arguments, ``seed``, ``i``) only: shard ``k`` of a sample can call
``simulate_events(n_events=n, first_event=k * n, seed=seed, ...)``.
"""

from jetlab.generate.tracking.acts_chain import RecoConfig, Tracks, generic_detector, reconstruct_ckf, simulate_events
from jetlab.generate.tracking.events import HARD_PROCESSES, BeamSpot, EventConfig, GenParticles, generate_event

__all__ = ["simulate_events", "reconstruct_ckf", "RecoConfig", "Tracks", "generic_detector", "EventConfig",
           "BeamSpot", "GenParticles", "generate_event", "HARD_PROCESSES"]
