"""Customers: resolve-or-create by external id / email, upserts, listing, events (the 360 timeline: timeline.py)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from cem import hooks
from cem.auth import audit
from cem.auth.principal import Principal
from cem.customers import bulk as customer_bulk
from cem.customers.models import Customer, Event
from cem.customers.schemas import CustomerIn, CustomerRef, CustomerUpdate, EventIn
from cem.db.base import utcnow
from cem.db.upsert import upsert_rows
from cem.errors import InvalidInput, NotFound
from cem.journeys import service as journey_service
from cem.pagination import decode_cursor, encode_cursor


def resolve_customers(session: Session, *, workspace_id: int, refs: Sequence[CustomerRef]) -> list[int]:
    """Map each reference to a customer id, creating unknown customers; one query per kind, not per row."""
    bulk_refs = [
        customer_bulk.BulkRef(r.external_id, str(r.email).lower() if r.email else None, r.name, dict(r.attributes))
        for r in refs
    ]
    ids = customer_bulk.resolve_refs(session, workspace_id=workspace_id, refs=bulk_refs)
    return [ids[r.key] for r in bulk_refs]


def upsert_customer(session: Session, *, actor: Principal, customer_in: CustomerIn) -> tuple[Customer, bool]:
    """Create or update one customer; attributes are merged, not replaced. Returns (customer, created)."""
    (cid,) = resolve_customers(session, workspace_id=actor.workspace_id, refs=[customer_in])
    customer = session.get(Customer, cid)
    assert customer is not None
    created = customer.created_at is None or customer.updated_at == customer.created_at
    if customer_in.email:
        customer.email = str(customer_in.email).lower()
    if customer_in.name:
        customer.name = customer_in.name
    if customer_in.attributes:
        customer.attributes = {**customer.attributes, **customer_in.attributes}
    customer.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, "customer.upsert", entity_type="customer", entity_id=customer.id)
    return customer, created


def upsert_customers(session: Session, *, actor: Principal, customers_in: Sequence[CustomerIn]) -> list[int]:
    ids = [upsert_customer(session, actor=actor, customer_in=c)[0].id for c in customers_in]
    return ids


def get_customer(session: Session, *, workspace_id: int, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None or customer.workspace_id != workspace_id:
        raise NotFound(f"Customer {customer_id} does not exist.")
    return customer


def find_customer_by_email(session: Session, *, workspace_id: int, email: str) -> Customer | None:
    return session.scalars(
        select(Customer).where(Customer.workspace_id == workspace_id, Customer.email == email.lower())
    ).first()


def update_customer(session: Session, *, actor: Principal, customer_id: int, update: CustomerUpdate) -> Customer:
    customer = get_customer(session, workspace_id=actor.workspace_id, customer_id=customer_id)
    if update.email is not None:
        customer.email = str(update.email).lower()
    if update.name is not None:
        customer.name = update.name
    if update.attributes is not None:
        customer.attributes = {**customer.attributes, **update.attributes}
    customer.updated_at = utcnow()
    audit.record(session, actor, "customer.update", entity_type="customer", entity_id=customer.id)
    return customer


def list_customers(
    session: Session, *, workspace_id: int, q: str | None, cursor: str | None, limit: int
) -> tuple[list[Customer], str | None]:
    """Customers by id descending (newest first), keyset-paginated, optionally matched on id/email/name."""
    stmt = select(Customer).where(Customer.workspace_id == workspace_id)
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(Customer.email).like(like),
                func.lower(Customer.name).like(like),
                func.lower(Customer.external_id).like(like),
            )
        )
    after = decode_cursor(cursor)
    if after:
        stmt = stmt.where(Customer.id < int(after[0]))
    rows = list(session.scalars(stmt.order_by(Customer.id.desc()).limit(limit + 1)))
    next_cursor = encode_cursor([rows[limit - 1].id]) if len(rows) > limit else None
    return rows[:limit], next_cursor


def count_customers(session: Session, *, workspace_id: int) -> int:
    return int(session.scalar(select(func.count()).where(Customer.workspace_id == workspace_id)) or 0)


# -- events -------------------------------------------------------------------------------------


def _event_key(event: EventIn, customer_id: int) -> str:
    """A content hash for events sent without an external id, so re-sends stay idempotent."""
    payload = json.dumps(
        [
            customer_id,
            event.type,
            event.occurred_at.isoformat(),
            event.touchpoint,
            event.properties,
            event.value,
        ],
        sort_keys=True,
        default=str,
    )
    return "h:" + hashlib.sha256(payload.encode()).hexdigest()[:40]


def ingest_events(session: Session, *, actor: Principal, events: Sequence[EventIn]) -> int:
    """Upsert events by (workspace, external id); returns how many were accepted."""
    ws = actor.workspace_id
    customer_ids = _customer_ids_for(session, workspace_id=ws, items=events)
    touchpoints = journey_service.touchpoint_ids_by_key(
        session, workspace_id=ws, keys={e.touchpoint for e in events if e.touchpoint}
    )
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for index, (event, cid) in enumerate(zip(events, customer_ids, strict=True)):
        tp_id = _touchpoint_id(touchpoints, event.touchpoint, index)
        assert cid is not None  # EventIn guarantees a customer reference
        rows.append(
            {
                "workspace_id": ws,
                "customer_id": cid,
                "touchpoint_id": tp_id,
                "external_id": event.external_id or _event_key(event, cid),
                "type": event.type,
                "occurred_at": event.occurred_at,
                "properties": event.properties,
                "value": event.value,
                "created_at": now,
            }
        )
    upsert_rows(
        session,
        Event.__table__,  # type: ignore[arg-type]
        rows,
        conflict=("workspace_id", "external_id"),
        update=("customer_id", "touchpoint_id", "type", "occurred_at", "properties", "value"),
        keep_if_null=("customer_id", "touchpoint_id"),
    )
    hooks.events_ingested(session, workspace_id=ws, rows=rows)  # e.g. triggered surveys schedule their sends
    audit.record(session, actor, "event.ingest", entity_type="event", details={"count": len(rows)})
    return len(rows)


def _touchpoint_id(touchpoints: dict[str, int], key: str | None, index: int) -> int | None:
    if key is None:
        return None
    if key not in touchpoints:
        raise InvalidInput(
            f"Unknown touchpoint {key!r}.",
            errors=[{"loc": [index, "touchpoint"], "msg": f"no touchpoint has the key {key!r}"}],
        )
    return touchpoints[key]


def _customer_ids_for(
    session: Session, *, workspace_id: int, items: Sequence[EventIn] | Sequence[Any]
) -> list[int | None]:
    """Customer ids for items carrying `customer` (a ref) or `customer_id`; unknown ids are an error."""
    refs = [i.customer for i in items if i.customer is not None]
    resolved = iter(resolve_customers(session, workspace_id=workspace_id, refs=refs)) if refs else iter(())
    given = {i.customer_id for i in items if i.customer is None and i.customer_id is not None}
    existing = (
        set(session.scalars(select(Customer.id).where(Customer.workspace_id == workspace_id, Customer.id.in_(given))))
        if given
        else set()
    )
    out: list[int | None] = []
    for index, item in enumerate(items):
        if item.customer is not None:
            out.append(next(resolved))
        elif item.customer_id is not None:
            if item.customer_id not in existing:
                raise InvalidInput(
                    f"Unknown customer_id {item.customer_id}.",
                    errors=[{"loc": [index, "customer_id"], "msg": "no customer has this id in the workspace"}],
                )
            out.append(item.customer_id)
        else:
            out.append(None)
    return out


def customer_ids_for(session: Session, *, workspace_id: int, items: Sequence[Any]) -> list[int | None]:
    """Public form of the resolver, shared with feedback ingest."""
    return _customer_ids_for(session, workspace_id=workspace_id, items=items)


def touchpoint_id(touchpoints: dict[str, int], key: str | None, index: int) -> int | None:
    return _touchpoint_id(touchpoints, key, index)


def list_events(session: Session, *, workspace_id: int, customer_id: int, limit: int = 500) -> list[Event]:
    return list(
        session.scalars(
            select(Event)
            .where(Event.workspace_id == workspace_id, Event.customer_id == customer_id)
            .order_by(Event.occurred_at.desc(), Event.id.desc())
            .limit(limit)
        )
    )


def customer_names(session: Session, *, workspace_id: int, ids: set[int]) -> dict[int, str]:
    """Customer id -> display name (name, else email, else external id) for links in lists."""
    if not ids:
        return {}
    rows = session.execute(
        select(Customer.id, Customer.name, Customer.email, Customer.external_id).where(
            Customer.workspace_id == workspace_id, Customer.id.in_(ids)
        )
    )
    return {cid: name or email or ext or f"#{cid}" for cid, name, email, ext in rows}
