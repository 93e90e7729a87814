"""Class names and the parsing of class selections.

Labels are always integers in ``g, q, w, z, t`` order (gluon, light quark, W, Z, top),
the order of the hls4ml LHC jet dataset. Binary tasks are written ``t:g,q``
(signal : background).
"""

from __future__ import annotations

from dataclasses import dataclass

from jetlab.errors import UsageError

__all__ = ["CLASSES", "CLASS_TITLES", "class_index", "parse_classes", "ClassSelection", "parse_selection"]

CLASSES: tuple[str, ...] = ("g", "q", "w", "z", "t")
CLASS_TITLES: dict[str, str] = {"g": "gluon", "q": "light quark", "w": "W boson", "z": "Z boson", "t": "top quark"}


def class_index(name: str, flag: str = "--classes") -> int:
    """Index of class ``name`` in ``CLASSES``; a :class:`UsageError` naming ``flag`` otherwise."""
    key = name.strip().lower()
    if key not in CLASSES:
        raise UsageError(f"{flag}: unknown class {name!r} (known: {','.join(CLASSES)})")
    return CLASSES.index(key)


def parse_classes(text: str | list[str] | tuple[str, ...], flag: str = "--classes") -> list[str]:
    """``"g,q,t"`` -> ``["g", "q", "t"]`` in canonical order, validated and de-duplicated."""
    items = text.split(",") if isinstance(text, str) else list(text)
    items = [s.strip().lower() for s in items if s.strip()]
    if not items:
        raise UsageError(f"{flag}: empty class selection")
    for s in items:
        class_index(s, flag)
    if len(set(items)) != len(items):
        raise UsageError(f"{flag}: class listed twice in {','.join(items)!r}")
    return [c for c in CLASSES if c in items]


@dataclass(frozen=True)
class ClassSelection:
    """A multi-class (``g,q,w``) or binary (``t:g,q``) selection of classes."""

    signal: tuple[str, ...]
    background: tuple[str, ...] = ()

    @property
    def binary(self) -> bool:
        return bool(self.background)

    @property
    def classes(self) -> tuple[str, ...]:
        return self.signal + self.background

    @property
    def names(self) -> list[str]:
        """Output class names: ``['g', 'q', ...]`` or ``['bkg', 'sig']`` style for binary."""
        if self.binary:
            return ["+".join(self.background), "+".join(self.signal)]
        return list(self.signal)


def parse_selection(text: str, flag: str = "--classes") -> ClassSelection:
    """Parse ``"g,q,w,z,t"`` or ``"t:g,q"``; signal and background must not overlap."""
    if ":" in text:
        sig_text, _, bkg_text = text.partition(":")
        sig, bkg = parse_classes(sig_text, flag), parse_classes(bkg_text, flag)
        both = set(sig) & set(bkg)
        if both:
            raise UsageError(f"{flag}: class {','.join(sorted(both))} is both signal and background")
        return ClassSelection(tuple(sig), tuple(bkg))
    return ClassSelection(tuple(parse_classes(text, flag)))
