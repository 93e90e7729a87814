"""Reading and writing jets: the jetlab format, foreign public datasets, ``open(path)``."""
