"""GDPR export and erasure of one person in the caller's workspace."""

from __future__ import annotations

from fastapi import APIRouter, Request

from cem.analytics.settings import AnalyticsSettings
from cem.api.body import StrictJsonRoute
from cem.api.deps import DbSession, PrivacyOfficer, get_settings
from cem.privacy import service
from cem.privacy.schemas import EraseIn, ErasureRead, ExportIn, ExportRead, MentionRead

router = APIRouter(tags=["privacy"], route_class=StrictJsonRoute)


@router.post("/privacy/export", response_model=ExportRead, summary="Export everything held about a person")
def export_person(session: DbSession, actor: PrivacyOfficer, body: ExportIn) -> ExportRead:
    """Every row linked to the person (by email, external id or customer id) per table."""
    data = service.export_person(session, **body.identifier(), workspace_id=actor.workspace_id, actor=actor)
    return ExportRead.model_validate(data)


@router.post("/privacy/erase", response_model=ErasureRead, summary="Erase a person from this workspace")
def erase_person(request: Request, session: DbSession, actor: PrivacyOfficer, body: EraseIn) -> ErasureRead:
    """Permanent: deletes the person's records (named by email, external id or customer id) and scrubs their email.

    The answer lists other customers' records whose text names the person (email, name, phone, handle);
    `redact_mentions` replaces those mentions. The audit log keeps counts only.
    """
    report = service.erase_person(
        session,
        **body.identifier(),
        workspace_id=actor.workspace_id,
        actor=actor,
        redact_mentions=body.redact_mentions,
        snapshot_dir=AnalyticsSettings().resolved_snapshot_dir(get_settings(request)),
    )
    return ErasureRead(
        deleted=report.deleted,
        anonymised=report.anonymised,
        total=report.total,
        mentions=[MentionRead.model_validate(m, from_attributes=True) for m in report.mentions],
        redacted=report.redacted,
    )
