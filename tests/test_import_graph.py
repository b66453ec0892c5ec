"""The import graph: no cycle between cem modules, and the import contracts really bite.

The contracts themselves (layers, domain independence, private models, web never imports api) live in
pyproject.toml under [tool.importlinter] and run as `lint-imports` in scripts/test.sh. grimp, which
import-linter is built on, records every import statement, including those inside functions, so a
function-level import cannot hide a cycle here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

import cem

SRC = Path(cem.__file__).resolve().parent
PYPROJECT = SRC.parents[1] / "pyproject.toml"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def strongly_connected_components(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (a recursive walk can exceed Python's stack on a long import chain).

    Written here rather than taken from networkx: twenty lines do not justify a new dependency.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            successor = next(successors, None)
            if successor is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
            elif successor not in index:
                index[successor] = low[successor] = len(index)
                stack.append(successor)
                on_stack.add(successor)
                work.append((successor, iter(sorted(edges.get(successor, ())))))
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
    return components


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    edges = {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}
    return [component for component in strongly_connected_components(edges) if len(component) > 1]


def test_the_cycle_finder_finds_cycles() -> None:
    """Guards the finder itself, on a graph with one three-module cycle and a module importing into it."""
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert sorted(strongly_connected_components(edges)) == [["a", "b", "c"], ["d"], ["e"]]


def test_no_import_cycle_between_cem_modules() -> None:
    cycles = import_cycles(grimp.build_graph("cem", cache_dir=None))
    assert not cycles, "import cycles (function-level imports included): " + "; ".join(
        " <-> ".join(cycle) for cycle in cycles
    )


def _lint(root: Path, contract: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    command = [str(LINT_IMPORTS), "--config", str(PYPROJECT), "--contract", contract, "--no-cache"]
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_a_forbidden_import_breaks_its_contract(tmp_path: Path) -> None:
    """A copy of the package passes the contract; the same copy with `import cem.api` in a web module fails it."""
    copy = tmp_path / "cem"
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__", "static", "templates", "migrations"))
    kept = _lint(tmp_path, "web-not-api")
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert "cem.web never imports cem.api KEPT" in kept.stdout

    templating = copy / "web" / "templating.py"
    templating.write_text(templating.read_text(encoding="utf-8") + "\nimport cem.api  # forbidden\n", encoding="utf-8")
    broken = _lint(tmp_path, "web-not-api")
    assert broken.returncode != 0
    assert "cem.web never imports cem.api BROKEN" in broken.stdout
    assert "cem.web.templating -> cem.api" in broken.stdout
