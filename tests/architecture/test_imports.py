"""The layout holds (issue 11): no import cycle anywhere in the application, and the
layers import one way only (front ends -> services -> selectors -> models), checked on
the real import graph with grimp (import-linter's graph builder) and the contracts in
pyproject.toml's `[tool.importlinter]`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

APP = ("tickets", "approvals", "notifications", "changeprocess")
ROOT = Path(__file__).resolve().parents[2]


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.find_modules_directly_imported_by(v):
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

    for module in sorted(graph.modules):
        if module not in index and module.split(".")[1:2] != ["migrations"]:
            visit(module)
    return found


def test_no_import_cycle_in_the_application() -> None:
    graph = grimp.build_graph(*APP, exclude_type_checking_imports=True)
    assert _cycles(graph) == []


def test_the_layers_import_one_way() -> None:
    result = subprocess.run(  # noqa: S603 (our own venv's script)
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_module_is_over_600_lines() -> None:
    """A module that grows past this is split by what it holds (README, Architecture)."""
    long = {
        str(path.relative_to(ROOT)): n
        for package in APP
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
        and (n := len(path.read_text(encoding="utf-8").splitlines())) > 600
    }
    assert long == {}
