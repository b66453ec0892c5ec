"""Admin pages: members and roles, API tokens (secret shown once), background jobs with dead letters, audit log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from cem.admin import service
from cem.api.deps import get_db
from cem.auth.permissions import Role
from cem.auth.principal import Principal
from cem.errors import CEMError, InvalidInput
from cem.jobs import service as job_service
from cem.web.deps import PageAdmin, render
from cem.web.forms import see_other

router = APIRouter()

JOB_STATUSES = ("queued", "running", "done", "dead")
AUDIT_LIMIT = 200
JOB_LIMIT = 100
# Fixed flash messages chosen by code, so nothing user-typed is reflected from the URL.
NOTICES = {
    "member": "Member saved.",
    "role": "Role changed.",
    "revoked": "Token revoked.",
    "retried": "Job queued again.",
}
Field = Annotated[str, Form(max_length=320)]


def _admin_page(request: Request, principal: Principal, *, jobs: str = "", **extra: Any) -> Response:
    status = jobs if jobs in JOB_STATUSES else None
    ws = principal.workspace_id
    with get_db(request).unit_of_work(readonly=True) as session:
        context = {
            "members": service.list_members(session, workspace_id=ws),
            "tokens": service.list_tokens(session, workspace_id=ws),
            "jobs": job_service.list_jobs(session, workspace_id=ws, status=status, limit=JOB_LIMIT),
            "audit": service.list_audit(session, workspace_id=ws, limit=AUDIT_LIMIT),
        }
    defaults: dict[str, Any] = {"error": None, "notice": None, "issued": None, "job_status": status or "", "form": {}}
    return render(
        request, "admin/index.html", principal, roles=[r.value for r in Role], statuses=JOB_STATUSES,
        **{**defaults, **context, **extra},
    )  # fmt: skip


def _write(
    request: Request, principal: Principal, action: Callable[[Session], object], **on_error: Any
) -> Response | None:
    """Run one admin write; None on success, else the page re-rendered with the readable error."""
    try:
        with get_db(request).unit_of_work() as session:
            action(session)
    except CEMError as exc:
        response = _admin_page(request, principal, error=exc.detail, **on_error)
        response.status_code = exc.status_code
        return response
    return None


@router.get("/admin")
def admin_home(request: Request, principal: PageAdmin, jobs: str = "", ok: str = "") -> Response:
    """Members, tokens, jobs (filter `jobs=dead` for dead letters) and the latest audit entries."""
    return _admin_page(request, principal, jobs=jobs, notice=NOTICES.get(ok))


@router.post("/admin/members")
def member_add(
    request: Request, principal: PageAdmin, email: Field, role: Field, name: Field = "", password: Field = ""
) -> Response:
    """Add a user to the workspace (creating the account if new) with a role."""

    def act(s: Session) -> object:
        return service.add_member(s, actor=principal, email=email, name=name, password=password, role=role)

    form = {"email": email, "name": name, "role": role}
    return _write(request, principal, act, form=form) or see_other("/admin?ok=member")


@router.post("/admin/members/{user_id}/role")
def member_role(request: Request, principal: PageAdmin, user_id: int, role: Field) -> Response:
    """Change a member's role."""

    def act(s: Session) -> object:
        return service.change_role(s, actor=principal, user_id=user_id, role=role)

    return _write(request, principal, act) or see_other("/admin?ok=role")


@router.post("/admin/tokens")
def token_create(
    request: Request, principal: PageAdmin, name: Field, role: Field, expires_in_days: Field = ""
) -> Response:
    """Issue a token and show its secret on this response only (never in a URL, never again)."""
    try:
        days = int(expires_in_days) if expires_in_days.strip() else None
        if days is not None and not 1 <= days <= 3650:
            raise InvalidInput("Expiry must be between 1 and 3650 days.")
        if not name.strip():
            raise InvalidInput("A token needs a name.")
        with get_db(request).unit_of_work() as session:
            issued = service.create_token(session, actor=principal, name=name.strip(), role=role, expires_in_days=days)
            secret, token_name = issued.secret, issued.token.name
    except ValueError:
        return _status(_admin_page(request, principal, error="Expiry must be a whole number of days."), 422)
    except CEMError as exc:
        return _status(_admin_page(request, principal, error=exc.detail), exc.status_code)
    return _status(_admin_page(request, principal, issued={"name": token_name, "secret": secret}), 201)


def _status(response: Response, status: int) -> Response:
    response.status_code = status
    return response


@router.post("/admin/tokens/{token_id}/revoke")
def token_revoke(request: Request, principal: PageAdmin, token_id: int) -> Response:
    """Revoke a token; requests using it fail from now on."""

    def act(s: Session) -> object:
        return service.revoke_token(s, actor=principal, token_id=token_id)

    return _write(request, principal, act) or see_other("/admin?ok=revoked")


@router.post("/admin/jobs/{job_id}/retry")
def job_retry(request: Request, principal: PageAdmin, job_id: int) -> Response:
    """Requeue a dead job with a fresh attempt budget and wake the worker."""

    def act(s: Session) -> object:
        return job_service.retry_dead(s, actor=principal, job_id=job_id)

    response = _write(request, principal, act, jobs="dead")
    if response is not None:
        return response
    request.app.state.wake_worker()
    return see_other("/admin?jobs=dead&ok=retried")
