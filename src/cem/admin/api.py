"""Workspace administration: members, API tokens, audit log, background jobs and their dead letters."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from cem.admin import service
from cem.admin.schemas import AuditRead, JobRead, MemberIn, MemberRead, TokenIn, TokenIssued, TokenRead
from cem.api.body import StrictJsonRoute
from cem.api.deps import Admin, DbSession
from cem.auth.caller import CurrentPrincipal
from cem.jobs import service as job_service
from cem.schemas import Id, ReadModel

router = APIRouter(tags=["admin"], route_class=StrictJsonRoute)


class WhoAmI(ReadModel):
    workspace_id: int
    role: str
    actor_type: str
    label: str
    permissions: list[str]


@router.get("/me", response_model=WhoAmI, summary="Who am I")
def whoami(actor: CurrentPrincipal) -> WhoAmI:
    return WhoAmI(
        workspace_id=actor.workspace_id,
        role=actor.role,
        actor_type=actor.actor_type,
        label=actor.label,
        permissions=sorted(p.value for p in actor.permissions),
    )


@router.get("/members", response_model=list[MemberRead], summary="List workspace members")
def list_members(session: DbSession, actor: Admin) -> list[MemberRead]:
    return [
        MemberRead(id=u.id, email=u.email, name=u.name, role=role)
        for u, role in service.list_members(session, workspace_id=actor.workspace_id)
    ]


@router.post("/members", response_model=MemberRead, status_code=201, summary="Add a member or change a role")
def add_member(session: DbSession, actor: Admin, member: MemberIn) -> MemberRead:
    user = service.add_member(
        session,
        actor=actor,
        email=str(member.email),
        password=member.password,
        name=member.name,
        role=member.role,
    )
    return MemberRead(id=user.id, email=user.email, name=user.name, role=member.role)


@router.delete("/members/{user_id}", status_code=204, summary="Remove a member from the workspace")
def remove_member(session: DbSession, actor: Admin, user_id: Id) -> Response:
    """Their sessions in this workspace end and their API tokens here stop working at once."""
    service.remove_member(session, actor=actor, user_id=user_id)
    return Response(status_code=204)


@router.get("/tokens", response_model=list[TokenRead], summary="List API tokens")
def list_tokens(session: DbSession, actor: Admin) -> list[TokenRead]:
    return [TokenRead.model_validate(t) for t in service.list_tokens(session, workspace_id=actor.workspace_id)]


@router.post("/tokens", response_model=TokenIssued, status_code=201, summary="Create an API token")
def create_token(session: DbSession, actor: Admin, token_in: TokenIn) -> TokenIssued:
    issued = service.create_token(
        session,
        actor=actor,
        name=token_in.name,
        role=token_in.role,
        scopes=token_in.scopes,
        expires_in_days=token_in.expires_in_days,
    )
    return TokenIssued.model_validate({**TokenRead.model_validate(issued.token).model_dump(), "token": issued.secret})


@router.delete("/tokens/{token_id}", response_model=TokenRead, summary="Revoke an API token")
def revoke_token(session: DbSession, actor: Admin, token_id: Id) -> TokenRead:
    return TokenRead.model_validate(service.revoke_token(session, actor=actor, token_id=token_id))


@router.get("/audit", response_model=list[AuditRead], summary="Audit log, newest first")
def audit_log(
    session: DbSession,
    actor: Admin,
    limit: int = Query(default=100, ge=1, le=1000),
    action: str | None = None,
) -> list[AuditRead]:
    rows = service.list_audit(session, workspace_id=actor.workspace_id, limit=limit, action=action)
    return [AuditRead.model_validate(r) for r in rows]


@router.get("/jobs", response_model=list[JobRead], summary="Background jobs (filter status=dead for dead letters)")
def list_jobs(
    session: DbSession,
    actor: Admin,
    status: str | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
) -> list[JobRead]:
    rows = job_service.list_jobs(session, workspace_id=actor.workspace_id, status=status, limit=limit)
    return [JobRead.model_validate(j) for j in rows]


@router.get("/jobs/{job_id}", response_model=JobRead, summary="One job with its progress")
def get_job(session: DbSession, actor: CurrentPrincipal, job_id: Id) -> JobRead:
    return JobRead.model_validate(job_service.get_job(session, workspace_id=actor.workspace_id, job_id=job_id))


@router.post("/jobs/{job_id}/retry", response_model=JobRead, summary="Retry a dead job")
def retry_job(session: DbSession, actor: Admin, job_id: Id, request: Request) -> JobRead:
    job = job_service.retry_dead(session, actor=actor, job_id=job_id)
    request.app.state.wake_worker()
    return JobRead.model_validate(job)
