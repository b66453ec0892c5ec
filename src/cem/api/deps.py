"""Request dependencies: database unit of work, the calling principal, and permission checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from cem.admin import service as admin_service
from cem.auth.permissions import Permission
from cem.auth.principal import Principal
from cem.auth.security import digest
from cem.auth.token_cache import TokenCache
from cem.config import Settings
from cem.db.session import Database
from cem.errors import Forbidden, Unauthorized

SESSION_COOKIE = "cem_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_db(request: Request) -> Database:
    return request.app.state.db


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    """One unit of work per request: read-only for safe methods, committed before the response otherwise."""
    db: Database = request.app.state.db
    with db.unit_of_work(readonly=request.method in SAFE_METHODS) as session:
        yield session


# scope="function": commit (or roll back) before the response is sent. FastAPI's default ("request") runs the
# teardown after sending, so a client could see 200 for a write that then fails to commit, or race its own
# next request past the commit (a webhook re-send on PostgreSQL inserted the same customer twice).
DbSession = Annotated[Session, Depends(get_session, scope="function")]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def resolve_principal(request: Request) -> Principal:
    """Authenticate by bearer token or session cookie; cookie writes must carry the CSRF token."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    db: Database = request.app.state.db
    token = _bearer(request)
    if token:
        principal = _token_principal(request, db, token)
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            raise Unauthorized("Authentication required: send 'Authorization: Bearer <token>' or log in.")
        with db.unit_of_work(readonly=True) as session:
            principal = admin_service.principal_from_session(session, cookie)
    request.state.principal = principal
    return principal


def _token_principal(request: Request, db: Database, secret: str) -> Principal:
    cache: TokenCache = request.app.state.token_cache
    key = digest(secret)
    principal = cache.get(key)
    if principal is None:
        with db.unit_of_work(readonly=True) as session:
            principal, expires_at = admin_service.token_principal(session, secret)
        cache.put(key, principal, expires_at)
    return principal


async def csrf_form_token(request: Request) -> str | None:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get("csrf_token")
        return value if isinstance(value, str) else None
    return None


async def current_principal(request: Request) -> Principal:
    # Database I/O never runs on the event loop: a blocked loop cannot commit other requests'
    # transactions, which deadlocks SQLite's single writer.
    principal = await run_in_threadpool(resolve_principal, request)
    if principal.csrf_token and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER) or await csrf_form_token(request)
        if sent != principal.csrf_token:
            raise Forbidden("Missing or wrong CSRF token; reload the page and try again.")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(permission: Permission) -> Callable[..., Principal]:
    """Dependency factory: the caller must hold `permission` in the current workspace."""

    def check(principal: CurrentPrincipal) -> Principal:
        if not principal.can(permission):
            raise Forbidden(f"Your role ({principal.role}) does not allow this ({permission.value}).")
        return principal

    check.required_permission = permission  # type: ignore[attr-defined]  # read by the route-matrix test
    return check


Reader = Annotated[Principal, Depends(require(Permission.read))]
Writer = Annotated[Principal, Depends(require(Permission.write))]
JourneyManager = Annotated[Principal, Depends(require(Permission.journeys))]
Importer = Annotated[Principal, Depends(require(Permission.imports))]
SourceManager = Annotated[Principal, Depends(require(Permission.sources))]
Exporter = Annotated[Principal, Depends(require(Permission.export))]
Admin = Annotated[Principal, Depends(require(Permission.admin))]
PrivacyOfficer = Annotated[Principal, Depends(require(Permission.privacy))]
