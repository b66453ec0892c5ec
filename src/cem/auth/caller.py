"""Who is calling: the principal of an HTTP request, by bearer token or session cookie (with its CSRF token).

Both HTTP kernels build on this: cem.api.deps (JSON routes) and cem.web.deps (pages, which send an anonymous
visitor to the login page instead).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from cem.auth import credentials
from cem.auth.principal import Principal
from cem.auth.security import digest
from cem.auth.token_cache import TokenCache
from cem.db.session import Database
from cem.errors import Forbidden, Unauthorized

SESSION_COOKIE = "cem_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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
            principal = credentials.principal_from_session(session, cookie)
    request.state.principal = principal
    return principal


def _token_principal(request: Request, db: Database, secret: str) -> Principal:
    cache: TokenCache = request.app.state.token_cache
    key = digest(secret)
    principal = cache.get(key)
    if principal is None:
        with db.unit_of_work(readonly=True) as session:
            principal, expires_at = credentials.token_principal(session, secret)
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
