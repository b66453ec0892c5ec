"""Request dependencies: database unit of work and permission checks on the caller (cem.auth.caller)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from cem.auth.caller import SAFE_METHODS, CurrentPrincipal
from cem.auth.permissions import Permission
from cem.auth.principal import Principal
from cem.config import Settings
from cem.db.session import Database
from cem.errors import Forbidden


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
SurveyManager = Annotated[Principal, Depends(require(Permission.surveys))]
DashboardManager = Annotated[Principal, Depends(require(Permission.dashboards))]
WebhookManager = Annotated[Principal, Depends(require(Permission.webhooks))]
CaseWorker = Annotated[Principal, Depends(require(Permission.cases))]
LoopManager = Annotated[Principal, Depends(require(Permission.loop))]
