"""Bulk customer resolution for file imports: thousands of references in a few queries, no ORM objects.

Same identity rules as `service.resolve_customers` (external id first, else lower-cased email), but
built for batches of 10,000 rows: distinct references are looked up with chunked IN queries and the
unknown ones created with one multi-row INSERT ... RETURNING.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cem.customers.models import Customer
from cem.db.base import utcnow
from cem.db.upsert import insert_ignoring_conflicts

IN_CHUNK = 5000
RefKey = tuple[str, str]


@dataclass(slots=True)
class BulkRef:
    """A customer reference from one row; `email` must already be validated and lower-cased."""

    external_id: str | None = None
    email: str | None = None
    name: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    key: RefKey = field(init=False)

    def __post_init__(self) -> None:
        # The identity, computed once: external id first, else the email (as resolve_customers does).
        self.key = ("x", self.external_id) if self.external_id else ("e", self.email or "")


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]


def _merged(refs: Iterable[BulkRef]) -> dict[RefKey, BulkRef]:
    """One reference per identity; later rows fill in or override name, email and attributes."""
    out: dict[RefKey, BulkRef] = {}
    for ref in refs:
        seen = out.get(ref.key)
        if seen is None:
            out[ref.key] = BulkRef(ref.external_id, ref.email, ref.name, dict(ref.attributes))
            continue
        seen.email = ref.email or seen.email
        seen.name = ref.name or seen.name
        seen.attributes.update(ref.attributes)
    return out


def _existing(session: Session, workspace_id: int, keys: Iterable[RefKey]) -> dict[RefKey, int]:
    external = sorted({v for k, v in keys if k == "x"})
    emails = sorted({v for k, v in keys if k == "e"})
    found: dict[RefKey, int] = {}
    for part in _chunks(external):
        stmt = select(Customer.id, Customer.external_id).where(
            Customer.workspace_id == workspace_id, Customer.external_id.in_(part)
        )
        found.update({("x", str(ext)): cid for cid, ext in session.execute(stmt)})
    for part in _chunks(emails):
        stmt = (
            select(Customer.id, Customer.email)
            .where(Customer.workspace_id == workspace_id, Customer.email.in_(part))
            .order_by(Customer.id.desc())  # the oldest customer with an email wins, as in resolve_customers
        )
        found.update({("e", str(email)): cid for cid, email in session.execute(stmt)})
    return found


def _create(session: Session, workspace_id: int, refs: Sequence[BulkRef]) -> dict[RefKey, int]:
    """Insert the missing customers in one executemany, then read their ids back by identity.

    (INSERT ... RETURNING with ordered rows runs row by row on SQLite; two set-based statements are faster.)
    """
    now = utcnow()
    rows = [
        {
            "workspace_id": workspace_id,
            "external_id": r.external_id,
            "email": r.email,
            "name": r.name,
            "attributes": r.attributes,
            "created_at": now,
            "updated_at": now,
        }
        for r in refs
    ]
    # A concurrent request may have created the same customer a moment ago: keep theirs, read it back.
    insert_ignoring_conflicts(session, Customer.__table__, rows)  # type: ignore[arg-type]
    return _existing(session, workspace_id, [r.key for r in refs])


def _update(session: Session, found: dict[RefKey, int], refs: dict[RefKey, BulkRef]) -> None:
    """Write name/email and merge attributes into existing customers (only those that carry something)."""
    changes = {found[k]: r for k, r in refs.items() if k in found and (r.name or r.attributes or r.email)}
    if not changes:
        return
    current: dict[int, dict[str, Any]] = {}
    for part in _chunks(sorted(changes)):
        rows = session.execute(select(Customer.id, Customer.attributes).where(Customer.id.in_(part)))
        current.update((cid, attrs) for cid, attrs in rows)
    now = utcnow()
    params = []
    for cid, ref in changes.items():
        row: dict[str, Any] = {"id": cid, "updated_at": now, "attributes": {**current.get(cid, {}), **ref.attributes}}
        if ref.name:
            row["name"] = ref.name
        if ref.email and ref.external_id:
            row["email"] = ref.email
        params.append(row)
    # Bulk UPDATE by primary key needs the same keys on every parameter set; group by shape.
    for keys in {tuple(sorted(p)) for p in params}:
        session.execute(update(Customer), [p for p in params if tuple(sorted(p)) == keys])


def resolve_refs(
    session: Session, *, workspace_id: int, refs: Iterable[BulkRef], create: bool = True, update_existing: bool = False
) -> dict[RefKey, int]:
    """Customer id per reference key; unknown ones are created unless `create` is false (then absent)."""
    merged = _merged(refs)
    found = _existing(session, workspace_id, merged)
    if update_existing:
        _update(session, found, merged)
    missing = [r for k, r in merged.items() if k not in found]
    if create and missing:
        found.update(_create(session, workspace_id, missing))
    return found


def existing_ids(session: Session, *, workspace_id: int, ids: Iterable[int]) -> set[int]:
    """The subset of `ids` that are customers of the workspace."""
    wanted = sorted(set(ids))
    out: set[int] = set()
    for part in _chunks(wanted):
        out.update(
            session.scalars(select(Customer.id).where(Customer.workspace_id == workspace_id, Customer.id.in_(part)))
        )
    return out
