"""Login, logout and the home page: the state of the program (cem.analytics.home_view)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from cem.admin import service
from cem.analytics import home_view, overview
from cem.analytics.web import fmt_change, fmt_p, fmt_value, p_text
from cem.api.deps import get_db
from cem.auth import credentials
from cem.auth.caller import SESSION_COOKIE
from cem.auth.login_throttle import LoginThrottle
from cem.errors import CEMError, TooManyRequests
from cem.web.deps import PageReader, render

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only same-site relative redirects after login (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or urlparse(target).netloc:
        return "/"
    return target


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    return render(request, "admin/login.html", None, next=_safe_next(next), error=None, email="", workspace="")


@router.post("/login")
def login(
    request: Request,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=200)],
    workspace: Annotated[str, Form(max_length=64)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    settings = request.app.state.settings
    throttle: LoginThrottle = request.app.state.login_throttle
    address = request.client.host if request.client else "unknown"
    try:
        with throttle.attempt(email=email, address=address), get_db(request).unit_of_work() as session:
            result = credentials.login(
                session,
                email=email,
                password=password,
                workspace_slug=workspace or None,
                hours=settings.session_hours,
            )
    except CEMError as exc:
        context = {"next": _safe_next(next), "error": exc.detail, "email": email, "workspace": workspace}
        response = render(request, "admin/login.html", None, **context)
        response.status_code = exc.status_code
        if isinstance(exc, TooManyRequests):
            response.headers.update(exc.headers)
        return response
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        result.session_secret,
        httponly=True,
        samesite="lax",
        secure=settings.session_cookie_secure,
        max_age=settings.session_hours * 3600,
    )
    return response


@router.post("/logout")
def logout(request: Request, _principal: PageReader) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        with get_db(request).unit_of_work() as session:
            credentials.logout(session, cookie)
    response = RedirectResponse("/login", status_code=303)
    settings = request.app.state.settings
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax", secure=settings.session_cookie_secure)
    return response


@router.get("/")
def home(request: Request, principal: PageReader) -> Response:
    ws_id = principal.workspace_id
    with get_db(request).unit_of_work(readonly=True) as session:
        workspace = service.get_workspace(session, ws_id)
        counts = overview.counts(session, ws_id)
        by_source = overview.submissions_by_source(session, ws_id)
        program = home_view.home_context(session, principal) if counts["feedback"] else {}
    return render(
        request,
        "home.html",
        principal,
        workspace=workspace,
        counts=counts,
        by_source=by_source,
        fmt_value=fmt_value,
        fmt_change=fmt_change,
        fmt_p=fmt_p,
        p_text=p_text,
        **program,
    )
