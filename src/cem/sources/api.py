"""Inbound webhook sources over JSON: management (SourceManager) and the public inbound endpoint."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from sqlalchemy.orm import Session

from cem.api.body import StrictJsonRoute
from cem.api.deps import DbSession, SourceManager, get_settings
from cem.schemas import Id
from cem.sources import service
from cem.sources.models import InboundSource
from cem.sources.schemas import HookResult, SourceCreate, SourceRead, SourceUpdate, SourceWithSecret

router = APIRouter(tags=["sources"], route_class=StrictJsonRoute)

# Routes reachable without a bearer token or session: they authenticate by the source's own secret.
PUBLIC_ROUTES = [("POST", "/api/v1/hooks/{workspace_slug}/{source_key}")]


def _inbound_url(request: Request, slug: str, key: str) -> str:
    return str(request.base_url).rstrip("/") + service.hook_path(slug, key)


def _read(request: Request, session: Session, source: InboundSource) -> SourceRead:
    slug = service.workspace_slug(session, workspace_id=source.workspace_id)
    return SourceRead.model_validate(source).model_copy(update={"inbound_url": _inbound_url(request, slug, source.key)})


def _issued(request: Request, session: Session, issued: service.IssuedSource) -> SourceWithSecret:
    read = _read(request, session, issued.source)
    return SourceWithSecret(**read.model_dump(), secret=issued.secret)


@router.get("/sources", response_model=list[SourceRead], summary="List inbound webhook sources")
def list_sources(request: Request, session: DbSession, actor: SourceManager) -> list[SourceRead]:
    """Every source of the workspace with its inbound URL (never a secret)."""
    slug = service.workspace_slug(session, workspace_id=actor.workspace_id)
    return [
        SourceRead.model_validate(s).model_copy(update={"inbound_url": _inbound_url(request, slug, s.key)})
        for s in service.list_sources(session, workspace_id=actor.workspace_id)
    ]


@router.post(
    "/sources", response_model=SourceWithSecret, status_code=201, summary="Create a source (the secret is shown once)"
)
def create_source(
    request: Request, session: DbSession, actor: SourceManager, source_in: SourceCreate
) -> SourceWithSecret:
    """Create a source; the response carries its secret, the only time it is shown."""
    secret_key = get_settings(request).secret_key
    issued = service.create_source(session, actor=actor, source_in=source_in, secret_key=secret_key)
    return _issued(request, session, issued)


@router.get("/sources/{source_id}", response_model=SourceRead, summary="Get a source (never its secret)")
def get_source(request: Request, session: DbSession, actor: SourceManager, source_id: Id) -> SourceRead:
    """One source with its inbound URL."""
    return _read(request, session, service.get_source(session, workspace_id=actor.workspace_id, source_id=source_id))


@router.patch("/sources/{source_id}", response_model=SourceRead, summary="Rename, (de)activate or remap a source")
def update_source(
    request: Request, session: DbSession, actor: SourceManager, source_id: Id, update: SourceUpdate
) -> SourceRead:
    """Change name, active flag or mapping; key and type are fixed."""
    source = service.update_source(session, actor=actor, source_id=source_id, update=update)
    return _read(request, session, source)


@router.delete("/sources/{source_id}", status_code=204, summary="Delete a source (its feedback stays)")
def delete_source(session: DbSession, actor: SourceManager, source_id: Id) -> Response:
    """Delete the source; its URL stops working, stored feedback is kept."""
    service.delete_source(session, actor=actor, source_id=source_id)
    return Response(status_code=204)


@router.post(
    "/sources/{source_id}/rotate-secret",
    response_model=SourceWithSecret,
    summary="Replace the secret (the old one stops working; the new one is shown once)",
)
def rotate_secret(request: Request, session: DbSession, actor: SourceManager, source_id: Id) -> SourceWithSecret:
    """Issue a new secret; the old one is refused from now on."""
    secret_key = get_settings(request).secret_key
    issued = service.rotate_secret(session, actor=actor, source_id=source_id, secret_key=secret_key)
    return _issued(request, session, issued)


async def raw_body(request: Request) -> bytes:
    """The exact bytes sent: HMAC signatures are computed over them, not over re-serialised JSON."""
    return await request.body()


RawBody = Annotated[bytes, Depends(raw_body)]
_PAYLOAD_SCHEMA = {"schema": {"type": ["object", "array"]}}
_HOOK_BODY = {"requestBody": {"required": True, "content": {"application/json": _PAYLOAD_SCHEMA}}}


@router.post(
    "/hooks/{workspace_slug}/{source_key}",
    response_model=HookResult,
    summary="Receive a webhook delivery (authenticated by the source secret, not a token)",
    openapi_extra=_HOOK_BODY,
)
def receive_hook(
    request: Request,
    body: RawBody,
    session: DbSession,
    workspace_slug: str,
    source_key: str,
    x_cem_secret: Annotated[str | None, Header(description="the source secret")] = None,
    x_cem_signature: Annotated[str | None, Header(description="sha256=<hex HMAC-SHA256(secret, body)>")] = None,
) -> HookResult:
    """Map the JSON payload with the source's mapping and store it; re-sending the same payload updates."""
    settings = get_settings(request)
    delivery = service.Delivery(
        workspace_slug=workspace_slug,
        source_key=source_key,
        body=body,
        content_type=request.headers.get("content-type", ""),
        secret=x_cem_secret,
        signature=x_cem_signature,
    )
    return service.receive(
        session, delivery=delivery, secret_key=settings.secret_key, max_records=settings.max_bulk_records
    )
