"""Trackers: hit-graph edge classifiers and recurrent hit followers (``task="track"``)."""
