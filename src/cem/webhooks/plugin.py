"""Outbound webhooks as a plugin: stored feedback and every domain event become queued deliveries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from cem.hooks import hookimpl
from cem.hooks.rows import FeedbackRow
from cem.jobs import registry
from cem.jobs.registry import Task
from cem.webhooks import clock, outbox, tasks

FEEDBACK_CREATED = "feedback.created"


@hookimpl
def feedback_stored(session: Session, workspace_id: int, rows: Sequence[FeedbackRow]) -> None:
    """One feedback.created message per submission written (its fields together), not one per field."""
    if FEEDBACK_CREATED not in outbox.subscribed_types(session, workspace_id):
        return  # the common case: a dictionary look-up, no query
    outbox.publish(session, workspace_id, FEEDBACK_CREATED, submissions(rows), now=clock.now())


@hookimpl
def domain_event(session: Session, workspace_id: int, event_type: str, data: dict[str, Any]) -> None:
    outbox.publish(session, workspace_id, event_type, [data], now=clock.now())


@hookimpl
def job_tasks() -> list[Task]:
    return registry.declared_in(tasks)


def submissions(rows: Sequence[FeedbackRow]) -> list[dict[str, Any]]:
    """The rows grouped by (source, submission): submission ids are unique only within a source."""
    grouped: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row.source_type, row.source_name, row.submission_id)
        item = grouped.get(key)
        if item is None:
            item = grouped[key] = {
                "source_type": row.source_type,
                "source_name": row.source_name,
                "submission_id": row.submission_id,
                "customer_id": row.customer_id,
                "touchpoint_id": row.touchpoint_id,
                "collected_at": row.collected_at.isoformat(),
                "language": row.language,
                "fields": {},
            }
        item["fields"][row.field_id] = {"type": row.field_type, "label": row.field_label, "value": _value(row)}
    return list(grouped.values())


def _value(row: FeedbackRow) -> Any:
    for value in (row.value_number, row.value_text, row.value_bool, row.value_date):
        if value is not None:
            return value.isoformat() if isinstance(value, date | datetime) else value
    return None
