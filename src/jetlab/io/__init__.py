"""Reading and writing jets: the jetlab format, foreign public datasets, ``open(path)``.

>>> from jetlab.io import open  # doctest: +SKIP
>>> jets = open("data/")        # doctest: +SKIP
"""

from jetlab.io.dataset import ShardedDataset, detect_format, open_jets
from jetlab.io.jets import Jets

open = open_jets  # noqa: A001 - the public name users expect: jetlab.io.open(path)

__all__ = ["Jets", "ShardedDataset", "detect_format", "open", "open_jets"]
