"""Reading and writing jets: the jetlab format, foreign public datasets, ``open(path)``.

Usage::

    from jetlab.io import open
    jets = open("data/")   # a jetlab directory, a shard, or an hls4ml / Top Tagging / QG / JetNet file
"""

from jetlab.io.dataset import ShardedDataset, detect_format, open_data, open_jets
from jetlab.io.jets import Jets
from jetlab.io.showers import Showers

open = open_data  # noqa: A001 - the public name users expect: jetlab.io.open(path), jets or showers

__all__ = ["Jets", "Showers", "ShardedDataset", "detect_format", "open", "open_data", "open_jets"]
