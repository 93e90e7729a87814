"""The YAML mapping of a columnar ntuple (the reference: docs/columnar.md): which branch holds each jetlab quantity.

:func:`load_mapping` parses and checks a mapping file into a :class:`Mapping` (its files, matched now, and their
:class:`Columns`), refusing unknown or repeated keys with a :class:`~jetlab.errors.FormatError` that names the
key. The reader that uses it is :mod:`jetlab.io.readers.columnar`; JetClass's branches are a built-in
:class:`Columns` (:mod:`jetlab.io.readers.jetclass`).
"""

from __future__ import annotations

import difflib
import glob
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

import jetlab.io.guarded as guarded
from jetlab.classes import LabelScheme, schemes
from jetlab.errors import FormatError, brief
from jetlab.schema import KINEMATIC_FEATURES

__all__ = ["Columns", "Mapping", "MAX_PARTICLES", "load_mapping"]

MAX_PARTICLES = 128  # particle slots kept per jet (the hardest), unless a mapping says max_particles
_POLAR, _CARTESIAN = ("pt", "eta", "phi"), ("px", "py", "pz", "E")
_KINEMATIC = {*KINEMATIC_FEATURES, "mass"}
_JET_KEYS = ("pt", "eta", "phi", "mass", "E")
_TOP_KEYS = ("format", "files", "tree", "particles", "jet", "hlf", "labels", "name", "max_particles")
_LABEL_KEYS = ("classes", "descriptions", "branch", "one_hot")


@dataclass(frozen=True)
class Columns:
    """Which branch (ROOT) or column (Parquet) holds each jetlab quantity.

    ``particles`` jetlab name -> jagged branch: ``pt, eta, phi[, mass]`` or ``px, py, pz, E``, then extras;
    ``jet`` any of ``pt, eta, phi, mass, E`` -> branch (missing ones from the particle sum; ``E`` gives the
    mass with ``pt`` and ``eta``); ``hlf`` feature name -> branch; labels from ``label_branch`` (class ids
    0..C-1, -1 = no class) or ``one_hot`` (one branch per class of ``scheme``, in class order).
    """

    particles: dict[str, str]
    scheme: LabelScheme
    jet: dict[str, str] = field(default_factory=dict)
    hlf: dict[str, str] = field(default_factory=dict)
    label_branch: str | None = None
    one_hot: tuple[str, ...] = ()
    tree: str | None = None
    max_particles: int = MAX_PARTICLES

    def keys(self) -> dict[str, str]:
        """branch -> the mapping key that names it first (``particles.pt``), for messages."""
        named = [(f"{group}.{k}", b) for group, names in (("particles", self.particles), ("jet", self.jet),
                                                          ("hlf", self.hlf)) for k, b in names.items()]
        out: dict[str, str] = {}
        for key, branch in named + self.label_keys():
            out.setdefault(branch, key)
        return out

    def label_keys(self) -> list[tuple[str, str]]:
        if self.label_branch is not None:
            return [("labels.branch", self.label_branch)]
        return [(f"labels.one_hot.{c}", b) for c, b in zip(self.scheme.classes, self.one_hot)]


@dataclass(frozen=True)
class Mapping:
    """A parsed YAML mapping: its path, the data files it names (in order) and their :class:`Columns`."""

    path: Path
    files: tuple[Path, ...]
    columns: Columns


# ------------------------------------------------------------------------------------------ the YAML
class _DuplicateKey(yaml.YAMLError):
    pass


class _Loader(yaml.SafeLoader):
    """Safe YAML that refuses a key given twice (PyYAML would keep the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise _DuplicateKey(f"key {key!r} given twice (line {key_node.start_mark.line + 1})")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_mapping(path: str | os.PathLike[str]) -> Mapping:
    """The parsed mapping of a YAML file, its file patterns matched now; FormatError naming the key."""
    path = Path(path)
    guarded.check_file(path)
    try:
        doc = yaml.load(path.read_text("utf-8"), Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise FormatError(f"{path}: invalid YAML ({brief(e)})") from None
    return _parse(path, doc)


def _parse(path: Path, doc: Any) -> Mapping:
    if not isinstance(doc, dict):
        raise FormatError(f"{path}: not a YAML mapping of keys to values")
    _known_keys(path, doc, _TOP_KEYS, "")
    if doc.get("format") != "columnar":
        raise FormatError(f"{path}: format: must be 'columnar', got {doc.get('format')!r}")
    tree = doc.get("tree")
    if tree is not None and not (isinstance(tree, str) and tree):
        raise FormatError(f"{path}: tree: expected a tree name, got {tree!r}")
    cap = doc.get("max_particles", MAX_PARTICLES)
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
        raise FormatError(f"{path}: max_particles: expected a positive integer, got {cap!r}")
    particles = _branches(path, doc.get("particles"), "particles", required=True)
    _check_kinematics(path, particles)
    jet, hlf = _branches(path, doc.get("jet"), "jet"), _branches(path, doc.get("hlf"), "hlf")
    _known_keys(path, jet, _JET_KEYS, "jet.")
    if "E" in jet and "mass" not in jet and not {"pt", "eta"} <= set(jet):
        raise FormatError(f"{path}: jet.E: the jet mass from E needs jet.pt and jet.eta too")
    scheme, branch, one_hot = _label_spec(path, doc)
    columns = Columns(particles, scheme, jet, hlf, branch, one_hot, tree, cap)
    return Mapping(path, _files(path, doc.get("files")), columns)


def _known_keys(path: Path, doc: dict[str, Any], known: tuple[str, ...], where: str) -> None:
    for key in doc:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"
            raise FormatError(f"{path}: {where}{key}: unknown key ({hint})")


def _branches(path: Path, value: Any, key: str, required: bool = False) -> dict[str, str]:
    """``value``, the mapping at ``key``, of jetlab names to branch names, checked."""
    if value is None and not required:
        return {}
    if not isinstance(value, dict) or not value:
        raise FormatError(f"{path}: {key}: expected a mapping of jetlab names to branch names, got {value!r}")
    for name, branch in value.items():
        if not isinstance(name, str) or not isinstance(branch, str) or not branch:
            raise FormatError(f"{path}: {key}.{name}: expected a branch name, got {branch!r}")
    return dict(value)


def _check_kinematics(path: Path, particles: dict[str, str]) -> None:
    given = [k for k in particles if k in _KINEMATIC]
    if set(given) not in ({*_CARTESIAN}, {*_POLAR}, {*_POLAR, "mass"}):
        raise FormatError(f"{path}: particles: give pt, eta, phi [, mass] or px, py, pz, E "
                          f"(got {', '.join(given) or 'none of them'})")


def _label_spec(path: Path, doc: dict[str, Any]) -> tuple[LabelScheme, str | None, tuple[str, ...]]:
    labels = doc.get("labels")
    if not isinstance(labels, dict):
        raise FormatError(f"{path}: labels: expected a mapping with classes and branch or one_hot, got {labels!r}")
    _known_keys(path, labels, _LABEL_KEYS, "labels.")
    classes, desc = labels.get("classes"), labels.get("descriptions")
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) and c for c in classes):
        raise FormatError(f"{path}: labels.classes: expected a list of class names, got {classes!r}")
    if desc is not None and (not isinstance(desc, list) or len(desc) != len(classes)
                             or not all(isinstance(d, str) for d in desc)):  # fmt: skip
        raise FormatError(f"{path}: labels.descriptions: expected {len(classes)} strings, one per class")
    name = doc.get("name", path.stem)
    if not isinstance(name, str) or not name:
        raise FormatError(f"{path}: name: expected the label scheme's name, got {name!r}")
    try:
        scheme = LabelScheme(name, tuple(classes), tuple(desc or classes))
    except ValueError as e:
        raise FormatError(f"{path}: labels.classes: {e}") from None
    known = schemes().get(name)
    scheme = known if known is not None and known.same_classes(scheme) else scheme
    branch, one_hot = labels.get("branch"), labels.get("one_hot")
    if (branch is None) == (one_hot is None):
        raise FormatError(f"{path}: labels: give exactly one of branch (class ids) and one_hot (a branch per class)")
    if branch is not None:
        if not isinstance(branch, str) or not branch:
            raise FormatError(f"{path}: labels.branch: expected a branch name, got {branch!r}")
        return scheme, branch, ()
    hot = _branches(path, one_hot, "labels.one_hot")
    if set(hot) != set(classes):
        raise FormatError(f"{path}: labels.one_hot: needs one branch for each class of labels.classes "
                          f"({', '.join(classes)}), got {', '.join(map(str, hot))}")
    return scheme, None, tuple(hot[c] for c in classes)


def _files(path: Path, value: Any) -> tuple[Path, ...]:
    patterns = [value] if isinstance(value, str) else value
    if not isinstance(patterns, list) or not patterns or not all(isinstance(s, str) and s for s in patterns):
        raise FormatError(f"{path}: files: expected a file pattern or a list of them, got {value!r}")
    out: dict[Path, None] = {}
    for pattern in patterns:
        full = pattern if os.path.isabs(pattern) else str(path.resolve().parent / pattern)
        hits = sorted(Path(p) for p in glob.glob(full, recursive=True) if Path(p).is_file())
        if not hits:
            raise FormatError(f"{path}: files: {pattern!r} matches no file (relative to {path.parent})")
        out.update(dict.fromkeys(hits))
    return tuple(out)
