"""The package's layering: which room may import which, no cycles, no hidden imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lucidgym"

SHARED = {"types", "batched", "files", "configs", "progress", "threads"}
"""Top-level modules every room may use."""

MAY_IMPORT = {
    "envs": {"envs", ""} | SHARED,
    "world_models": {"world_models", ""} | SHARED,
    "agents": {"agents", "world_models", ""} | SHARED,
    "benchmarks": {"benchmarks", "agents", "world_models", "envs", "video", ""} | SHARED,
}
"""Room -> the rooms (first component under ``lucidgym``; "" is the package itself, for
``__version__``) its modules may import."""


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[str, bool]]:
    """``(module imported, at module level?)`` for every lucidgym import in ``path``."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        found += [(n, id(node) in top) for n in names if n.split(".")[0] == "lucidgym"]
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: _module(p))
def test_rooms_import_only_what_they_may(path: Path) -> None:
    module = _module(path)
    parts = module.split(".")
    room = parts[1] if len(parts) > 1 else ""
    for imported, _ in _imports(path):
        target = imported.split(".")
        target_room = target[1] if len(target) > 1 else ""
        assert target_room != "cli" or room == "cli", f"{module} imports the command line"
        if room in MAY_IMPORT:
            assert target_room in MAY_IMPORT[room], f"{module} (room {room}) imports {imported}"


def test_no_module_finds_code_by_string() -> None:
    for path in SOURCES:
        text = path.read_text()
        assert "import_module(" not in text and "__import__(" not in text, _module(path)


def test_module_level_imports_have_no_cycles() -> None:
    known = {_module(p) for p in SOURCES}
    graph: dict[str, set[str]] = {}
    for path in SOURCES:
        edges = set()
        for imported, at_top in _imports(path):
            if not at_top:
                continue
            # "from lucidgym.a import b" may name the module lucidgym.a.b or a name in a.
            target = imported if imported in known else imported.rsplit(".", 1)[0]
            if target in known:
                edges.add(target)
        graph[_module(path)] = edges - {_module(path)}
    # A package's __init__ importing its own submodules is how Python packages work;
    # a submodule importing its package back is the cycle to refuse.
    for module, edges in graph.items():
        graph[module] = {e for e in edges if not module.startswith(e + ".")}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            assert state.get(nxt) != 1, "import cycle: " + " -> ".join([*trail, node, nxt])
            if nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: _module(p))
def test_modules_stay_readable_in_one_sitting(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= 420, f"{_module(path)} is over 420 lines"
