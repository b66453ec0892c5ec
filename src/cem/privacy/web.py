"""The privacy page: erase a person named by email, external id or customer id, after a confirmation step.

Step 1 (POST /admin/privacy/preview) shows what would go: rows per table, and other customers' records whose text
names the person. Step 2 (POST /admin/privacy/erase) erases, optionally redacting those mentions, and shows the
report. Both call the same service as the API and the CLI.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from cem.analytics.settings import AnalyticsSettings
from cem.api.deps import get_db, get_settings
from cem.auth.permissions import Permission
from cem.auth.principal import Principal
from cem.errors import CEMError
from cem.privacy import service
from cem.privacy.schemas import PersonIn
from cem.web.deps import page_permission, render
from cem.web.forms import validation_message

router = APIRouter()

PagePrivacy = Annotated[Principal, Depends(page_permission(Permission.privacy))]
KINDS = {"email": "Email address", "external_id": "External id", "customer_id": "Customer id"}
Field = Annotated[str, Form(max_length=320)]


def _page(request: Request, principal: Principal, status: int = 200, **context: Any) -> Response:
    defaults: dict[str, Any] = {"kinds": KINDS, "kind": "email", "value": "", "error": None}
    response = render(request, "admin/privacy.html", principal, **{**defaults, **context})
    response.status_code = status
    return response


def _person(kind: str, value: str) -> PersonIn:
    """The form's (kind, value) as a validated identifier; raises ValueError with a readable message."""
    if kind not in KINDS:
        raise ValueError("Choose how the person is identified: email, external id or customer id.")
    value = value.strip()
    if kind == "customer_id" and not value.isdigit():
        raise ValueError("A customer id is a whole number.")
    try:
        return PersonIn.model_validate({kind: value or None})
    except ValidationError as exc:
        raise ValueError(validation_message(exc)) from exc


@router.get("/admin/privacy")
def privacy_home(request: Request, principal: PagePrivacy) -> Response:
    """The form naming the person to erase."""
    return _page(request, principal)


@router.post("/admin/privacy/preview")
def privacy_preview(request: Request, principal: PagePrivacy, kind: Field = "email", value: Field = "") -> Response:
    """What an erasure would do, with a confirmation form; nothing changes yet."""
    try:
        person = _person(kind, value)
    except ValueError as exc:
        return _page(request, principal, 422, kind=kind, value=value, error=str(exc))
    with get_db(request).unit_of_work(readonly=True) as session:
        preview = service.preview_erasure(session, **person.identifier(), workspace_id=principal.workspace_id)
    if not preview.found:
        missing = (
            f"Nobody with this identifier here: no customer or account in this workspace has the "
            f"{KINDS[kind].lower()} “{value.strip()}”. Check the value, or identify the person another way."
        )
        return _page(request, principal, 404, kind=kind, value=value, error=missing)
    return _page(request, principal, kind=kind, value=value.strip(), preview=preview)


@router.post("/admin/privacy/erase")
def privacy_erase(
    request: Request,
    principal: PagePrivacy,
    kind: Field = "email",
    value: Field = "",
    confirm: Field = "",
    redact_mentions: Field = "",
) -> Response:
    """Erase the person (the confirmation box must be ticked) and show the report."""
    try:
        person = _person(kind, value)
        if confirm != "yes":
            raise ValueError("Tick the confirmation box: erasure cannot be undone.")
    except ValueError as exc:
        return _page(request, principal, 422, kind=kind, value=value, error=str(exc))
    try:
        with get_db(request).unit_of_work() as session:
            report = service.erase_person(
                session,
                **person.identifier(),
                workspace_id=principal.workspace_id,
                actor=principal,
                redact_mentions=redact_mentions == "yes",
                snapshot_dir=AnalyticsSettings().resolved_snapshot_dir(get_settings(request)),
            )
    except CEMError as exc:
        return _page(request, principal, exc.status_code, kind=kind, value=value, error=exc.detail)
    return _page(request, principal, kind=kind, value=value.strip(), report=report)
