"""Layering rules, checked on the source tree (AST, not text, so comments and strings never trip them).

- Only the unit of work (`cem/db/session.py`) commits: routes, services, tasks and the CLI never do.
- Nothing outside `cem/db/` opens its own auto-committing transaction (`engine.begin()`).
- `HTTPException` is never raised outside `api/deps.py`; business errors are CEMError subclasses.
- `api.py` / `web.py` call services instead of querying the session (known exceptions are listed).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import cem

SRC = Path(cem.__file__).resolve().parent
COMMIT_OWNER = "db/session.py"
SESSION_QUERIES = {"execute", "scalar", "scalars", "get", "add", "add_all", "delete", "flush", "merge", "query"}
# Pages/routes that query the session directly today. Shrink this list; never grow it.
KNOWN_QUERYING_ROUTES = {"admin/api.py", "admin/web.py"}


def modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if not rel.startswith("db/migrations/"):
            yield rel, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def calls(tree: ast.AST, method: str) -> list[int]:
    """Line numbers of `<anything>.method(...)` calls."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == method
    ]


def is_route_module(rel: str) -> bool:
    return Path(rel).name in ("api.py", "web.py") or Path(rel).name.startswith("web_")


def test_only_the_unit_of_work_commits() -> None:
    found = {rel: lines for rel, tree in modules() if rel != COMMIT_OWNER and (lines := calls(tree, "commit"))}
    assert not found, f"commit() outside {COMMIT_OWNER}: {found}; let Database.unit_of_work() commit"


def test_the_unit_of_work_does_commit() -> None:
    """Guards the test itself: the scanner must see the one legitimate commit."""
    assert calls(dict(modules())[COMMIT_OWNER], "commit")


def test_no_private_transactions_outside_db() -> None:
    found = {rel: lines for rel, tree in modules() if not rel.startswith("db/") and (lines := calls(tree, "begin"))}
    assert not found, f"engine/connection begin() outside cem/db: {found}"


def test_http_exception_is_only_raised_in_deps() -> None:
    found = []
    for rel, tree in modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and node.exc is not None and rel != "api/deps.py":
                target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
                if name.endswith("HTTPException"):
                    found.append((rel, node.lineno))
    assert not found, f"raise a CEMError subclass instead of HTTPException: {found}"


def test_routes_do_not_query_the_session() -> None:
    querying = set()
    for rel, tree in modules():
        if is_route_module(rel):
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in SESSION_QUERIES
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "session"
                ):
                    querying.add(rel)
    new = sorted(querying - KNOWN_QUERYING_ROUTES)
    assert not new, f"api/web modules querying the session directly (move the query into a service): {new}"
    fixed = sorted(KNOWN_QUERYING_ROUTES - querying)
    assert not fixed, f"these no longer query the session; remove them from KNOWN_QUERYING_ROUTES: {fixed}"
