"""Argument types shared by every command group of the ``jetlab`` command line."""

from __future__ import annotations

import argparse
from collections.abc import Callable

__all__ = ["positive", "pair"]


def positive(text: str) -> int:
    """A positive integer, or an argparse error naming the value."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def pair(flag: str, unit: str = "GeV") -> Callable[[str], tuple[float, float]]:
    """``LOW,HIGH`` with ``0 < LOW < HIGH``, for the flag ``flag``."""

    def parse(text: str) -> tuple[float, float]:
        try:
            lo, hi = (float(s) for s in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected LOW,HIGH in {unit}, got {text!r}") from None
        if not 0 < lo < hi:
            raise argparse.ArgumentTypeError(f"needs 0 < LOW < HIGH, got {text!r}")
        return lo, hi

    parse.__name__ = flag
    return parse
