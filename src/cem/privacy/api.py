"""GDPR export and erasure of one person in the caller's workspace."""

from __future__ import annotations

from fastapi import APIRouter

from cem.api.body import StrictJsonRoute
from cem.api.deps import DbSession, PrivacyOfficer
from cem.privacy import service
from cem.privacy.schemas import EraseIn, ErasureRead, ExportIn, ExportRead

router = APIRouter(tags=["privacy"], route_class=StrictJsonRoute)


@router.post("/privacy/export", response_model=ExportRead, summary="Export everything held about a person")
def export_person(session: DbSession, actor: PrivacyOfficer, body: ExportIn) -> ExportRead:
    """Every row linked to the email (customers, events, feedback, user account...) per table."""
    data = service.export_person(session, email=body.email, workspace_id=actor.workspace_id, actor=actor)
    return ExportRead.model_validate(data)


@router.post("/privacy/erase", response_model=ErasureRead, summary="Erase a person from this workspace")
def erase_person(session: DbSession, actor: PrivacyOfficer, body: EraseIn) -> ErasureRead:
    """Permanent: deletes the person's records and scrubs their email; the audit log keeps counts only."""
    report = service.erase_person(session, email=body.email, workspace_id=actor.workspace_id, actor=actor)
    return ErasureRead(deleted=report.deleted, anonymised=report.anonymised, total=report.total)
