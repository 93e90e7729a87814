"""The layer order of docs/architecture.md, enforced: no module imports a higher layer, no import cycles.

Every ``import jetlab...`` counts, also those inside functions (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "jetlab"

# Lowest first; a module may import its own layer and those before it. Keep in step with docs/architecture.md.
LAYERS: list[tuple[str, ...]] = [
    ("errors", "schema", "classes", "_quiet", "__init__"),
    ("physics",),
    ("io",),
    ("generate",),
    ("represent",),
    ("data",),
    ("models",),
    ("deploy",),
    ("metrics",),
    ("report",),
    ("tasks",),
    ("export",),
    ("api", "cli", "cli_train", "__main__"),
]
_RANK = {name: i for i, names in enumerate(LAYERS) for name in names}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every jetlab module ``path`` imports (``from jetlab.x import y`` counts x.y when x.y is a module)."""
    tree = ast.parse(path.read_text(), str(path))
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("jetlab")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            if base.startswith("jetlab"):
                found.add(base)
                found |= {f"{base}.{a.name}" for a in node.names if _exists(f"{base}.{a.name}")}
    found.discard(me)
    return {m for m in found if _exists(m)}


def _exists(module: str) -> bool:
    p = SRC.parent.joinpath(*module.split("."))
    return p.with_suffix(".py").is_file() or (p / "__init__.py").is_file()


def _layer(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    top = "cli" if top.startswith("cli_") else top  # cli_train, cli_showers, ...: the command line
    if top not in _RANK:
        pytest.fail(f"{module}: top-level module or package {top!r} has no layer in LAYERS")
    return _RANK[top]


GRAPH = {_module_name(p): _imports(p) for p in sorted(SRC.rglob("*.py"))}


def test_no_lower_layer_imports_a_higher_one() -> None:
    back = sorted(f"{m} -> {d}" for m, deps in GRAPH.items() for d in deps if _layer(d) > _layer(m))
    assert not back, "imports against the layer order:\n" + "\n".join(back)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def _without_packages(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """A package's ``__init__`` importing its own modules is how packages are built, not a cycle."""
    return {m: {d for d in deps if not (d.startswith(m + ".") or m.startswith(d + "."))} for m, deps in graph.items()}


def test_no_import_cycles() -> None:
    cycles = _cycles(_without_packages(GRAPH))
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_checker_sees_a_back_edge() -> None:
    """The check itself can fail: a made-up io -> tasks import is reported, and a made-up cycle found."""
    graph = {**GRAPH, "jetlab.io.fake": {"jetlab.tasks.train"}}
    assert any(_layer(d) > _layer(m) for m, deps in graph.items() for d in deps)
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]
