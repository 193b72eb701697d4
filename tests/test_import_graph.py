"""The package's imports point one way: no cycles, and the base layers import nothing above them.

Read from the source (``ast``), every ``fitting_room`` import counts, including those inside
functions: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "fitting_room"
FLOWS = SRC.parents[1] / "flows"

# package -> the only fitting_room packages it may import (the base of the graph)
BASE = {
    "errors": set(),
    "environ": set(),
    "files": set(),
    "seeds": set(),
    "png": set(),
    "logs": {"errors"},
    "config": {"files"},  # configuration computes nothing: no data, models or services
    "tracking": {"config", "environ", "errors", "files"},
    "tryon": {"png", "errors", "files"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").startswith("fitting_room")
        ):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("fitting_room"))
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in SRC.rglob("*.py")}
    return {m: {t for t in _imports(p) if t in modules and t != m} for m, p in modules.items()}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_itself_back_through_others():
    assert _cycles(_graph()) == []


def test_no_package_imports_itself_back_through_others():
    packages: dict[str, set[str]] = defaultdict(set)
    for module, targets in _graph().items():
        packages[_package(module)].update(_package(t) for t in targets if _package(t) != _package(module))
    assert _cycles(packages) == []


def test_the_base_layers_import_nothing_above_them():
    wrong = {
        module: sorted(
            _package(t) for t in targets if _package(t) not in BASE[_package(module)] | {_package(module)}
        )
        for module, targets in _graph().items()
        if _package(module) in BASE
    }
    assert {m: t for m, t in wrong.items() if t} == {}


def test_flows_import_the_project_as_a_package_without_editing_sys_path():
    edit = re.compile(r"sys\.path\s*(\.(insert|append|extend)\b|\+?=|\[)")
    edits = [str(p) for p in [*FLOWS.glob("*.py"), *SRC.rglob("*.py")] if edit.search(p.read_text())]
    assert edits == []
    assert edit.search("sys.path.insert(0, here)") and edit.search("sys.path = [x]")
