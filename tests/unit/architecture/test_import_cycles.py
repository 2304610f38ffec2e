"""No import cycles among haws modules, type-only imports included.

A cycle means two modules cannot be read, tested or moved apart; under
``TYPE_CHECKING`` it is the same coupling, only hidden from the interpreter. The
graph is read from the source with ``ast`` (nothing is imported), so a cycle
fails here with its modules named, before anything else notices it.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SOURCE_ROOTS = [
    ROOT / folder
    for folder in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"][
        "mypy_path"
    ].split(":")
]
"""Every folder holding a part of the ``haws`` namespace (mypy's list of them)."""


def haws_modules() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for root in SOURCE_ROOTS:
        for path in sorted((root / "haws").rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _resolve(module: str, current: str, level: int, is_package: bool) -> str:
    if level == 0:
        return module
    base = current.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def imports_of(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """Every haws module ``name`` imports, wherever in the file (functions and
    ``TYPE_CHECKING`` blocks too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known:
                    yield alias.name
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(node.module or "", name, node.level, is_package)
            for alias in node.names:
                child = f"{target}.{alias.name}"
                if child in known:
                    yield child  # ``from haws.gateway.fanout import recovery``
                elif target in known:
                    yield target


def import_graph() -> dict[str, set[str]]:
    modules = haws_modules()
    known = set(modules)
    return {
        name: {m for m in imports_of(name, path, known) if m != name}
        for name, path in modules.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component: list[str] = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_the_graph_sees_the_gateway_and_its_type_only_imports() -> None:
    graph = import_graph()
    assert "haws.protocol.codec" in graph
    assert "haws.client" in graph
    assert "haws.gateway.deps" in graph["haws.gateway.ws_endpoint"]
    # connection.py names Subscription only under TYPE_CHECKING: still an edge.
    assert "haws.gateway.fanout.subscription" in graph["haws.gateway.delivery.connection"]


def test_a_cycle_is_found_and_named() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_no_import_cycles_among_haws_modules() -> None:
    assert cycles(import_graph()) == []
