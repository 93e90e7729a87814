"""Data-quality monitoring: lumisection maps of the calorimeter and the tracker with injected faults.

``generate_dqm(DQMConfig(out, detector="calorimeter", n_maps=2000, seed=1))`` writes shards of
:class:`~jetlab.io.maps.Maps` with a manifest (``format: dqm``) that ``jetlab anomaly train --data`` and
``jetlab dqm evaluate`` read. Detector models: :mod:`~jetlab.generate.dqm.maps`; faults:
:mod:`~jetlab.generate.dqm.faults`; shards, seeds and resume: :mod:`~jetlab.generate.dqm.runner`.
"""

from jetlab.generate.dqm.runner import DQMConfig, generate_dqm, make_maps, make_reference

__all__ = ["DQMConfig", "generate_dqm", "make_maps", "make_reference"]
