"""Label schemes (a dataset's own classes) and the parsing of class selections.

Every dataset declares its :class:`LabelScheme`: the class names in label order with a one-line
description each. Labels are integers indexing the scheme's classes (-1: no class).

=========== ================================================ ==========================================
scheme      classes                                           datasets
=========== ================================================ ==========================================
``jetlab``  ``g, q, w, z, t``                                 generated jets; hls4ml LHC jets
``toptag``  ``qcd, top``                                      Top Tagging landscape
``qg``      ``q, g``                                          Pythia quark/gluon jets (energyflow)
``jetnet``  ``g, q, t, w, z``                                 JetNet
``jetclass`` ``QCD, Hbb, Hcc, Hgg, H4q, Hqql, Zqq, Wqq, Tbqq, Tbl`` JetClass
=========== ================================================ ==========================================

A selection is multi-class (``g,q,w``) or binary signal : background (``t:g,q``); names match the
scheme's case-insensitively and come back in the scheme's spelling and order.

Example:
    >>> TOPTAG.parse("TOP")
    ['top']
    >>> JETLAB.selection("t:g,q").names
    ['g+q', 't']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from jetlab.errors import FormatError, UsageError

__all__ = ["LabelScheme", "ClassSelection", "register_scheme", "get_scheme", "schemes", "JETLAB", "TOPTAG", "QG",
           "JETNET", "JETCLASS", "CLASSES", "CLASS_TITLES", "parse_classes", "parse_selection"]


@dataclass(frozen=True)
class ClassSelection:
    """A multi-class (``g,q,w``) or binary (``t:g,q``) selection of a scheme's classes."""

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
        """Output class names: the selected classes, or ``['bkg', 'sig']`` style for binary."""
        if self.binary:
            return ["+".join(self.background), "+".join(self.signal)]
        return list(self.signal)

    @property
    def text(self) -> str:
        """The selection as written on the command line: ``g,q`` or ``t:g,q``."""
        return ",".join(self.signal) + (":" + ",".join(self.background) if self.binary else "")


@dataclass(frozen=True)
class LabelScheme:
    """A dataset's classes: ``name``, ``classes`` in label order, one ``descriptions`` entry per class."""

    name: str
    classes: tuple[str, ...]
    descriptions: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.classes) < 1 or len(self.descriptions) != len(self.classes):
            raise ValueError(f"label scheme {self.name!r}: one description per class needed")
        if len({c.lower() for c in self.classes}) != len(self.classes):
            raise ValueError(f"label scheme {self.name!r}: class names must differ (case-insensitively)")

    def __str__(self) -> str:
        return f"{self.name!r} ({', '.join(self.classes)})"

    def index(self, name: str, flag: str = "--classes") -> int:
        """Label of class ``name`` (case-insensitive); a :class:`UsageError` naming ``flag`` and the classes."""
        key = name.strip().lower()
        for i, c in enumerate(self.classes):
            if c.lower() == key:
                return i
        raise UsageError(f"{flag}: unknown class {name!r} (scheme {self.name!r} has: {', '.join(self.classes)})")

    def title(self, name: str) -> str:
        """The one-line description of class ``name`` ('' for a combined name such as ``g+q``)."""
        low = [c.lower() for c in self.classes]
        return self.descriptions[low.index(name.lower())] if name.lower() in low else ""

    def parse(self, text: str | Sequence[str], flag: str = "--classes") -> list[str]:
        """``"g,q,t"`` -> ``["g", "q", "t"]`` in label order, validated and de-duplicated."""
        items = [s.strip() for s in (text.split(",") if isinstance(text, str) else text) if s.strip()]
        if not items:
            raise UsageError(f"{flag}: empty class selection")
        idx = [self.index(s, flag) for s in items]
        if len(set(idx)) != len(idx):
            raise UsageError(f"{flag}: class listed twice in {','.join(items)!r}")
        return [self.classes[i] for i in sorted(idx)]

    def selection(self, text: str, flag: str = "--classes") -> ClassSelection:
        """Parse ``"g,q,w,z,t"`` or ``"t:g,q"``; signal and background must not overlap."""
        if ":" not in text:
            return ClassSelection(tuple(self.parse(text, flag)))
        sig_text, _, bkg_text = text.partition(":")
        sig, bkg = self.parse(sig_text, flag), self.parse(bkg_text, flag)
        both = set(sig) & set(bkg)
        if both:
            raise UsageError(f"{flag}: class {','.join(sorted(both))} is both signal and background")
        return ClassSelection(tuple(sig), tuple(bkg))

    def labels_of(self, names: Iterable[str]) -> list[int]:
        return [self.index(n) for n in names]

    def same_classes(self, other: LabelScheme) -> bool:
        return self.classes == other.classes

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "classes": list(self.classes), "descriptions": list(self.descriptions)}

    @classmethod
    def from_dict(cls, d: Any, source: str = "scheme") -> LabelScheme:
        """A scheme saved with :meth:`to_dict`; the registered one when it has the same classes."""
        try:
            scheme = cls(str(d["name"]), tuple(str(c) for c in d["classes"]),
                         tuple(str(t) for t in d.get("descriptions", [""] * len(d["classes"]))))
        except (KeyError, TypeError, ValueError) as e:
            raise FormatError(f"{source}: invalid label scheme {d!r} ({e})") from None
        known = _SCHEMES.get(scheme.name)
        return known if known is not None and known.same_classes(scheme) else scheme


_SCHEMES: dict[str, LabelScheme] = {}


def register_scheme(scheme: LabelScheme) -> LabelScheme:
    """Make ``scheme`` known by name (a dataset's reader registers the scheme its files use)."""
    old = _SCHEMES.get(scheme.name)
    if old is not None and old != scheme:
        raise ValueError(f"label scheme {scheme.name!r} registered twice with different classes")
    _SCHEMES[scheme.name] = scheme
    return scheme


def get_scheme(name: str) -> LabelScheme:
    if name not in _SCHEMES:
        raise UsageError(f"unknown label scheme {name!r} (known: {', '.join(_SCHEMES)})")
    return _SCHEMES[name]


def schemes() -> dict[str, LabelScheme]:
    return dict(_SCHEMES)


JETLAB = register_scheme(LabelScheme(
    "jetlab", ("g", "q", "w", "z", "t"),
    ("gluon", "light quark (u, d, s)", "W boson -> qq'", "Z boson -> qq", "top quark -> bqq'")))
TOPTAG = register_scheme(LabelScheme(
    "toptag", ("qcd", "top"), ("QCD dijet background (light quarks and gluons)", "hadronic top quark")))
QG = register_scheme(LabelScheme("qg", ("q", "g"), ("light quark (u, d, s)", "gluon")))
JETNET = register_scheme(LabelScheme(
    "jetnet", ("g", "q", "t", "w", "z"),
    ("gluon", "light quark", "top quark -> bqq'", "W boson -> qq'", "Z boson -> qq")))
JETCLASS = register_scheme(LabelScheme(
    "jetclass", ("QCD", "Hbb", "Hcc", "Hgg", "H4q", "Hqql", "Zqq", "Wqq", "Tbqq", "Tbl"),
    ("QCD light quark or gluon", "H -> bb", "H -> cc", "H -> gg", "H -> 4q", "H -> lvqq'", "Z -> qq",
     "W -> qq'", "t -> bqq'", "t -> blv")))

# The generated-jet classes, for code and users that predate label schemes.
CLASSES: tuple[str, ...] = JETLAB.classes
CLASS_TITLES: dict[str, str] = dict(zip(JETLAB.classes, JETLAB.descriptions))


def parse_classes(text: str | Sequence[str], flag: str = "--classes", scheme: LabelScheme = JETLAB) -> list[str]:
    return scheme.parse(text, flag)


def parse_selection(text: str, flag: str = "--classes", scheme: LabelScheme = JETLAB) -> ClassSelection:
    return scheme.selection(text, flag)
