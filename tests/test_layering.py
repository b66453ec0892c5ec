"""Layering rules, checked on the source tree (AST, not text, so comments and strings never trip them).

- Only the unit of work (`cem/db/session.py`) commits: routes, services, tasks and the CLI never do.
- Nothing outside `cem/db/` opens its own auto-committing transaction (`engine.begin()`).
- `HTTPException` is never raised outside `api/deps.py`; business errors are CEMError subclasses.
- Route modules (any module that defines routes on an `APIRouter`, whatever its file name) call services instead
  of querying the session (known exceptions are listed).

Which package may import which is checked by import-linter (`[tool.importlinter]` in pyproject.toml) and the
import cycles by tests/test_import_graph.py.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import cem

SRC = Path(cem.__file__).resolve().parent
COMMIT_OWNER = "db/session.py"
SESSION_QUERIES = {"execute", "scalar", "scalars", "get", "add", "add_all", "delete", "flush", "merge", "query"}
ROUTE_DECORATORS = {"get", "post", "put", "patch", "delete", "head", "options", "api_route", "websocket"}
# Route modules that query the session directly today. Shrink this list; never grow it.
KNOWN_QUERYING_ROUTES: set[str] = set()


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


def routers(tree: ast.Module) -> set[str]:
    """Names bound to `APIRouter(...)` at module level."""
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = node.value.func
            if (func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")) == "APIRouter":
                names |= {target.id for target in node.targets if isinstance(target, ast.Name)}
    return names


def is_route_module(tree: ast.Module) -> bool:
    """Defines at least one route: a function decorated with `@<router>.get(...)` (or another method)."""
    names = routers(tree)
    return any(
        isinstance(decorator, ast.Call)
        and isinstance(decorator.func, ast.Attribute)
        and decorator.func.attr in ROUTE_DECORATORS
        and isinstance(decorator.func.value, ast.Name)
        and decorator.func.value.id in names
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for decorator in node.decorator_list
    )


def route_modules() -> list[str]:
    return [rel for rel, tree in modules() if is_route_module(tree)]


def test_route_modules_are_recognised_by_content() -> None:
    """Guards the scanner: a module serving routes is one whatever its name (api/docs.py serves /docs)."""
    found = route_modules()
    assert {"responses/web.py", "api/docs.py", "surveys/web.py", "admin/api.py", "text/web_search.py"} <= set(found)
    assert "api/deps.py" not in found


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
        if is_route_module(tree):
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
    assert not new, f"route modules querying the session directly (move the query into a service): {new}"
    fixed = sorted(KNOWN_QUERYING_ROUTES - querying)
    assert not fixed, f"these no longer query the session; remove them from KNOWN_QUERYING_ROUTES: {fixed}"
