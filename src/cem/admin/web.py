"""Login, logout and the workspace overview page."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute

from cem.admin import service
from cem.api.deps import SESSION_COOKIE, get_db
from cem.auth.login_throttle import LoginThrottle
from cem.auth.models import Workspace
from cem.customers.models import Customer, Event
from cem.errors import CEMError, TooManyRequests
from cem.feedback.models import FeedbackRecord
from cem.journeys.models import Journey
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
            result = service.login(
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
            service.logout(session, cookie)
    response = RedirectResponse("/login", status_code=303)
    settings = request.app.state.settings
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax", secure=settings.session_cookie_secure)
    return response


@router.get("/")
def home(request: Request, principal: PageReader) -> Response:
    ws_id = principal.workspace_id
    with get_db(request).unit_of_work(readonly=True) as session:
        workspace = session.get(Workspace, ws_id)

        def count(column: InstrumentedAttribute[int]) -> int:
            return int(session.scalar(select(func.count()).where(column == ws_id)) or 0)

        counts = {
            "customers": count(Customer.workspace_id),
            "feedback": count(FeedbackRecord.workspace_id),
            "events": count(Event.workspace_id),
            "journeys": count(Journey.workspace_id),
        }
        rows = [
            (f"{t} · {n}", c)
            for t, n, c in session.execute(
                select(
                    FeedbackRecord.source_type,
                    FeedbackRecord.source_name,
                    func.count(func.distinct(FeedbackRecord.submission_id)),
                )
                .where(FeedbackRecord.workspace_id == ws_id)
                .group_by(FeedbackRecord.source_type, FeedbackRecord.source_name)
                .order_by(func.count().desc())
                .limit(12)
            )
        ]
        # The chart spec charts.js draws (kind "ranking": horizontal bars, largest first).
        by_source = {"kind": "ranking", "x": [label for label, _ in rows], "values": [c for _, c in rows]}
    return render(request, "home.html", principal, workspace=workspace, counts=counts, by_source=by_source)
