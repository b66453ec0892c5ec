"""Store a prepared dataset through the bulk services, in batches, inside one unit of work per dataset."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from cem.auth import audit
from cem.auth.principal import Principal
from cem.customers import service as customer_service
from cem.db.session import Database
from cem.demo.program import DemoBatch
from cem.feedback import service as feedback_service

T = TypeVar("T")
# Keeps every IN (...) list and multi-row INSERT well inside SQLite's and psycopg's parameter limits.
BATCH_SIZE = 2000


@dataclass
class StoredCounts:
    """What one dataset put in the store (created counts tell a first run from a re-run)."""

    name: str
    customers: int
    customers_created: int
    events: int
    feedback: int
    feedback_created: int
    seconds: float


def chunks(items: Sequence[T], size: int = BATCH_SIZE) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def store_batch(db: Database, *, actor: Principal, batch: DemoBatch) -> StoredCounts:
    """Customers first (with attributes), then events and feedback that refer to them by external id."""
    started = time.perf_counter()
    ws = actor.workspace_id
    with db.unit_of_work() as session:
        before = customer_service.count_customers(session, workspace_id=ws)
        for part in chunks(batch.customers):
            customer_service.resolve_customers(session, workspace_id=ws, refs=part)
        created = customer_service.count_customers(session, workspace_id=ws) - before
        if batch.customers:
            details = {"dataset": batch.name, "count": len(batch.customers), "created": created}
            audit.record(session, actor, "customer.import", entity_type="customer", details=details)
        for events in chunks(batch.events):
            customer_service.ingest_events(session, actor=actor, events=events)
        feedback_created = 0
        for records in chunks(batch.feedback):
            feedback_created += feedback_service.ingest_feedback(session, actor=actor, records=records).created
    return StoredCounts(
        name=batch.name,
        customers=len(batch.customers),
        customers_created=created,
        events=len(batch.events),
        feedback=len(batch.feedback),
        feedback_created=feedback_created,
        seconds=time.perf_counter() - started,
    )
