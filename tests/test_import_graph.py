"""The import graph of surf_bench (docs/architecture.md, "Layout"): no module imports a module that
imports it back, however long the loop, and no part of the package imports one on a floor above it.

Every import counts, at module level or inside a function; importing ``a.b.c`` also runs the
``__init__.py`` of ``a`` and ``a.b``, so those are edges too (a package's re-exports count)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "surf_bench"

# The floors, from the ground up: a part imports only parts on lower floors (and its own modules).
# A part is a subpackage or a top-level module; "surf_bench" is the package's own __init__.py.
FLOORS = [
    {"surf_bench", "errors"},
    {"maths", "files", "nets"},
    {"oracle"},
    {"data"},
    {"metrics"},
    {"method"},
    {"registry"},
    {"config"},
    {"engine"},
    {"results", "orchestration", "conformance"},
    {"cli"},
    {"__main__"},
]


def modules() -> dict[str, tuple[Path, bool]]:
    """{dotted name: (file, is a package)} of every module under surf_bench/."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "__pycache__" in path.parts:
            continue
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if package else parts)] = (path, package)
    return found


def imported(name: str, known: dict) -> set[str]:
    """The modules that importing ``name`` runs: the deepest known module it names and the packages
    above it."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    out = set()
    while name:
        out.add(name)
        name = name.rpartition(".")[0]
    return out


def graph() -> dict[str, set[str]]:
    known = modules()
    edges = {}
    for name, (path, package) in known.items():
        here = name if package else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here.split(".")[:len(here.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                names = [source] + [f"{source}.{alias.name}" for alias in node.names]
            else:
                continue
            for target in names:
                if target.split(".")[0] == "surf_bench":
                    targets |= imported(target, known)
        own_packages = imported(name, known) - {name}  # already running when this module runs
        edges[name] = targets - own_packages - {name}
    return edges


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One loop of imports, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (found := visit(start)):
            return found
    return None


def part(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "surf_bench"


def test_the_graph_sees_relative_lazy_and_package_imports():
    edges = graph()
    assert "surf_bench.maths.pit" in edges["surf_bench.engine.criterion"]  # from ..maths.pit import ...
    assert "surf_bench.maths" in edges["surf_bench.engine.criterion"]  # the package's __init__.py runs first
    assert "surf_bench.orchestration.tune" in edges["surf_bench.cli"]  # inside a function
    assert "surf_bench.metrics.audio" in edges["surf_bench.metrics"]  # a package's re-exports
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_module_imports_one_that_imports_it_back():
    loop = cycle(graph())
    assert loop is None, "import cycle: " + " -> ".join(loop)


def test_every_part_is_on_a_floor():
    placed = set().union(*FLOORS)
    parts = {part(name) for name in graph()}
    assert parts == placed, f"not on a floor: {sorted(parts - placed)}; on a floor but gone: {sorted(placed - parts)}"


def test_no_part_imports_one_on_a_floor_above_or_beside_it():
    floor = {name: level for level, names in enumerate(FLOORS) for name in names}
    upward = sorted(f"{source} -> {target}" for source, targets in graph().items() for target in targets
                    if part(source) != part(target) and floor[part(target)] >= floor[part(source)])
    assert not upward, "imports that run up the floors: " + "; ".join(upward)
