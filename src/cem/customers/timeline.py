"""The customer 360 timeline: every event and feedback submission of one customer in one list."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cem.customers.models import Event
from cem.customers.service import get_customer, list_events
from cem.feedback import service as feedback_service
from cem.journeys import service as journey_service


@dataclass
class TimelineEntry:
    """One line of a timeline item: an answer of a submission, or an event's value and properties."""

    label: str
    value: str
    text: str


@dataclass
class TimelineItem:
    kind: str  # event | feedback
    at: datetime
    title: str  # event type, or "source_type · source_name" for feedback
    detail: dict[str, Any]
    touchpoint: str = ""  # "Journey / Stage / Touchpoint"
    entries: list[TimelineEntry] = field(default_factory=list)


def _event_item(event: Event, labels: dict[int, str]) -> TimelineItem:
    props = "; ".join(f"{k}={v}" for k, v in sorted(event.properties.items()))
    value = (
        "" if event.value is None else (str(int(event.value)) if event.value == int(event.value) else str(event.value))
    )
    return TimelineItem(
        kind="event",
        at=event.occurred_at,
        title=event.type,
        detail={"id": event.id},
        touchpoint=labels.get(event.touchpoint_id, "") if event.touchpoint_id else "",
        entries=[TimelineEntry(label=event.type, value=value, text=props)],
    )


def _feedback_items(records: Sequence[Any], labels: dict[int, str]) -> list[TimelineItem]:
    """One item per submission: its answers grouped together, dated by the newest answer."""
    groups: dict[tuple[str, str, str], TimelineItem] = {}
    for rec in sorted(records, key=lambda r: r.id):  # answers in the order they were stored (question order)
        key = (rec.source_type, rec.source_name, rec.submission_id)
        item = groups.get(key)
        if item is None:
            item = groups[key] = TimelineItem(
                kind="feedback",
                at=rec.collected_at,
                title=f"{rec.source_type} · {rec.source_name}",
                detail={"submission_id": rec.submission_id},
            )
        item.at = max(item.at, rec.collected_at)
        if rec.touchpoint_id and not item.touchpoint:
            item.touchpoint = labels.get(rec.touchpoint_id, "")
        text = rec.value_text if rec.field_type in ("text", "choice") else ""
        value = "" if text else feedback_service.display_value(rec)
        item.entries.append(TimelineEntry(label=rec.field_label or rec.field_id, value=value, text=text or ""))
    return list(groups.values())


def customer_timeline(session: Session, *, workspace_id: int, customer_id: int, limit: int = 500) -> list[TimelineItem]:
    """Every event and feedback submission of one customer in one list, newest first."""
    get_customer(session, workspace_id=workspace_id, customer_id=customer_id)
    labels = journey_service.touchpoint_labels(session, workspace_id=workspace_id)
    events = list_events(session, workspace_id=workspace_id, customer_id=customer_id, limit=limit)
    records = feedback_service.for_customer(session, workspace_id=workspace_id, customer_id=customer_id, limit=limit)
    items = [_event_item(e, labels) for e in events] + _feedback_items(records, labels)
    items.sort(key=lambda i: i.at, reverse=True)
    return items
