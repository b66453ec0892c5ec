"""Inbound webhook sources: manage them (secret shown once) and turn deliveries into feedback records."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cem.admin import service as admin_service
from cem.auth import audit
from cem.auth.models import Workspace
from cem.auth.permissions import Permission
from cem.auth.principal import Principal
from cem.auth.security import digest, new_secret
from cem.errors import BadRequest, Conflict, Forbidden, InvalidInput, NotFound, Unauthorized, UnsupportedMediaType
from cem.feedback import service as feedback_service
from cem.journeys import service as journey_service
from cem.json_input import parse_json
from cem.sources import signing
from cem.sources.mapping import Mapped, Problem, map_payload, raise_problems
from cem.sources.models import InboundSource
from cem.sources.schemas import HookResult, SourceCreate, SourceMapping, SourceUpdate

HOOK_PATH = "/api/v1/hooks/{workspace_slug}/{source_key}"
JSON_TYPES = ("application/json", "text/json")


@dataclass
class IssuedSource:
    source: InboundSource
    secret: str  # shown once; only its digest and an encrypted copy are stored


@dataclass
class Delivery:
    """One webhook request as received: where it was sent, its credentials and its raw body."""

    workspace_slug: str
    source_key: str
    body: bytes
    content_type: str = "application/json"
    secret: str | None = None
    signature: str | None = None


def hook_path(workspace_slug: str, source_key: str) -> str:
    """The inbound URL path of a source (slugs and keys are URL-safe by construction)."""
    return HOOK_PATH.format(workspace_slug=workspace_slug, source_key=source_key)


def workspace_slug(session: Session, *, workspace_id: int) -> str:
    """The slug that addresses a workspace in inbound URLs."""
    slug = session.scalar(select(Workspace.slug).where(Workspace.id == workspace_id))
    if slug is None:
        raise NotFound(f"Workspace {workspace_id} does not exist.")
    return slug


def list_sources(session: Session, *, workspace_id: int) -> list[InboundSource]:
    """The workspace's sources, by key."""
    stmt = select(InboundSource).where(InboundSource.workspace_id == workspace_id).order_by(InboundSource.key)
    return list(session.scalars(stmt))


def get_source(session: Session, *, workspace_id: int, source_id: int) -> InboundSource:
    """One source of the workspace, or 404 (also for another workspace's source)."""
    source = session.get(InboundSource, source_id)
    if source is None or source.workspace_id != workspace_id:
        raise NotFound(f"Inbound source {source_id} does not exist.")
    return source


def _set_secret(source: InboundSource, *, secret_key: str) -> str:
    secret = new_secret("whsec")
    source.secret_hash = digest(secret)
    source.secret_encrypted = signing.encrypt_secret(secret, secret_key=secret_key)
    return secret


def create_source(session: Session, *, actor: Principal, source_in: SourceCreate, secret_key: str) -> IssuedSource:
    """Create a source with a fresh secret; the key must be unused in the workspace."""
    taken = session.scalar(
        select(InboundSource.id).where(
            InboundSource.workspace_id == actor.workspace_id, InboundSource.key == source_in.key
        )
    )
    if taken is not None:
        raise Conflict(f"A source with the key {source_in.key!r} already exists; pick another key.")
    source = InboundSource(
        workspace_id=actor.workspace_id,
        key=source_in.key,
        name=source_in.name,
        source_type=source_in.source_type,
        is_active=source_in.is_active,
        mapping=source_in.mapping.model_dump(mode="json", exclude_none=True),
    )
    secret = _set_secret(source, secret_key=secret_key)
    session.add(source)
    session.flush()
    audit.record(
        session, actor, "source.create", entity_type="inbound_source", entity_id=source.id, details={"key": source.key}
    )
    return IssuedSource(source=source, secret=secret)


def update_source(session: Session, *, actor: Principal, source_id: int, update: SourceUpdate) -> InboundSource:
    """Rename, (de)activate or remap a source; key and type are part of stored records' identity."""
    source = get_source(session, workspace_id=actor.workspace_id, source_id=source_id)
    for frozen in ("key", "source_type"):
        sent = getattr(update, frozen)
        if sent is not None and sent != getattr(source, frozen):
            raise InvalidInput(
                f"The {frozen} of a source cannot change: it is part of every stored record's identity, so "
                "re-sent payloads would be duplicated. Create a new source instead.",
                errors=[{"loc": [frozen], "msg": "cannot change"}],
            )
    wanted: dict[str, Any] = {"name": update.name, "is_active": update.is_active}
    if update.mapping is not None:
        wanted["mapping"] = update.mapping.model_dump(mode="json", exclude_none=True)
    changed = [name for name, value in wanted.items() if value is not None and value != getattr(source, name)]
    for name in changed:
        setattr(source, name, wanted[name])
    if changed:
        session.flush()
        details = {"changed": changed, "is_active": source.is_active}
        audit.record(
            session, actor, "source.update", entity_type="inbound_source", entity_id=source.id, details=details
        )
    return source


def delete_source(session: Session, *, actor: Principal, source_id: int) -> None:
    """Remove a source; feedback it delivered stays (source_name is the key)."""
    source = get_source(session, workspace_id=actor.workspace_id, source_id=source_id)
    audit.record(
        session, actor, "source.delete", entity_type="inbound_source", entity_id=source.id, details={"key": source.key}
    )
    session.delete(source)
    session.flush()


def rotate_secret(session: Session, *, actor: Principal, source_id: int, secret_key: str) -> IssuedSource:
    """Replace the secret at once: the old one stops working in the same transaction."""
    source = get_source(session, workspace_id=actor.workspace_id, source_id=source_id)
    secret = _set_secret(source, secret_key=secret_key)
    session.flush()
    audit.record(session, actor, "source.rotate_secret", entity_type="inbound_source", entity_id=source.id)
    return IssuedSource(source=source, secret=secret)


# -- deliveries ---------------------------------------------------------------------------------


def find_inbound(session: Session, *, workspace_slug: str, source_key: str) -> InboundSource:
    """The source addressed by an inbound URL; unknown workspace and unknown key look the same."""
    try:
        ws = admin_service.get_workspace_by_slug(session, workspace_slug)
    except NotFound:
        ws = None
    source = None
    if ws is not None:
        stmt = select(InboundSource).where(InboundSource.workspace_id == ws.id, InboundSource.key == source_key)
        source = session.scalars(stmt).first()
    if source is None:
        raise NotFound(f"There is no inbound source {source_key!r} in workspace {workspace_slug!r}.")
    return source


def authenticate(source: InboundSource, delivery: Delivery, *, secret_key: str) -> None:
    """Header secret or HMAC signature; a missing or wrong one is 401."""
    if delivery.secret:
        signing.check_secret_header(delivery.secret, secret_hash=source.secret_hash)
    elif delivery.signature:
        signing.check_signature(
            delivery.signature, body=delivery.body, encrypted_secret=source.secret_encrypted, secret_key=secret_key
        )
    else:
        raise Unauthorized(
            "Send the source secret in the X-CEM-Secret header, "
            "or sign the raw body: X-CEM-Signature: sha256=<hex HMAC-SHA256(secret, body)>."
        )


def webhook_principal(source: InboundSource) -> Principal:
    """Who a delivery acts as: the source itself, allowed only to write feedback (audited as `webhook`)."""
    return Principal(
        workspace_id=source.workspace_id,
        role="agent",
        actor_type="webhook",
        actor_id=source.id,
        label=f"webhook:{source.key}",
        permissions=frozenset({Permission.write}),
    )


def parse_body(delivery: Delivery) -> Any:
    """The JSON payload, or a 400/415 naming what is wrong with the body."""
    media = delivery.content_type.split(";")[0].strip().lower()
    if media and media not in JSON_TYPES and not media.endswith("+json"):
        raise UnsupportedMediaType(f"Content-Type {media!r} is not accepted; send application/json.")
    try:
        text = delivery.body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The body is not valid UTF-8.") from None
    try:
        return parse_json(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"Malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}.") from None


def check_touchpoints(session: Session, *, workspace_id: int, mapped: Mapped, mapping: SourceMapping) -> None:
    """Every touchpoint key a record names must exist, else 422 naming the records."""
    keys = {item.touchpoint for item in mapped.items if item.touchpoint}
    known = journey_service.touchpoint_ids_by_key(session, workspace_id=workspace_id, keys=keys)
    path = mapping.touchpoint_path or ""
    problems: list[Problem] = []
    for item, origin in zip(mapped.items, mapped.origins, strict=True):
        if item.touchpoint and item.touchpoint not in known:
            problem = Problem(origin, "touchpoint", path, f"no touchpoint has the key {item.touchpoint!r}")
            if problem not in problems:
                problems.append(problem)
    raise_problems(problems, total=mapped.records)


def receive(session: Session, *, delivery: Delivery, secret_key: str, max_records: int) -> HookResult:
    """Authenticate a delivery, map it and store it idempotently; any problem stores nothing."""
    source = find_inbound(session, workspace_slug=delivery.workspace_slug, source_key=delivery.source_key)
    authenticate(source, delivery, secret_key=secret_key)
    if not source.is_active:
        raise Forbidden(
            f"The inbound source {source.key!r} is inactive; activate it on the Sources page to accept data."
        )
    mapping = SourceMapping.model_validate(source.mapping)
    payload = parse_body(delivery)
    mapped = map_payload(
        payload, mapping, source_type=source.source_type, source_name=source.key, max_records=max_records
    )
    check_touchpoints(session, workspace_id=source.workspace_id, mapped=mapped, mapping=mapping)
    result = feedback_service.ingest_feedback(session, actor=webhook_principal(source), records=mapped.items)
    return HookResult(records=mapped.records, accepted=result.accepted, created=result.created, updated=result.updated)
