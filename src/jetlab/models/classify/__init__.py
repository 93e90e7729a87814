"""Classifiers (taggers): every module here registers its models with ``task="classify"``."""
