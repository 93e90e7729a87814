"""Reading and writing jets: the jetlab format, foreign public datasets, ``open(path)``.

Usage::

    from jetlab.io import open
    jets = open("data/")   # a jetlab directory, a shard, or an hls4ml / Top Tagging / QG / JetNet file
"""

from jetlab.io.dataset import ShardedDataset, detect_format, open_jets
from jetlab.io.jets import Jets

open = open_jets  # noqa: A001 - the public name users expect: jetlab.io.open(path)

__all__ = ["Jets", "ShardedDataset", "detect_format", "open", "open_jets"]
