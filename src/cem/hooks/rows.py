"""The typed row every writer puts into feedback_record (cem.feedback.writer writes it). It is part of the hook
contract: `feedback_stored` hands these rows to every plugin, so it lives here, below the domains, importing none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from cem.scores import default_scale

# (workspace_id, source_type, source_name, submission_id, field_id): a record's identity, unique in the table.
RowKey = tuple[int, str, str, str, str]


@dataclass(slots=True)
class FeedbackRow:
    """One feedback record as written: an answer or text, its typed value and what it belongs to.

    `customer_id` and `touchpoint_id` may be filled in after the row is made (file imports resolve them per
    batch); created_at/updated_at are the writer's, not the row's. `scale_min`/`scale_max`: the declared scale of
    a rating-like value; a row made without one gets its type's default (cem.scores), never one guessed later.
    """

    workspace_id: int
    source_type: str
    source_name: str
    submission_id: str
    field_id: str
    field_type: str
    collected_at: datetime
    field_label: str = ""
    customer_id: int | None = None
    touchpoint_id: int | None = None
    value_number: float | None = None
    value_text: str | None = None
    value_bool: bool | None = None
    value_date: date | None = None
    language: str | None = None
    channel: str | None = None  # the interaction channel as a short lowercase key (cem.feedback.schemas.Channel)
    agent: str | None = None  # who handled the interaction (a ticket's assignee)
    team: str | None = None  # the team that handled it
    metadata: dict[str, Any] | None = None
    scale_min: float | None = None
    scale_max: float | None = None

    def __post_init__(self) -> None:
        if self.scale_min is None and self.scale_max is None and (scale := default_scale(self.field_type)):
            self.scale_min, self.scale_max = scale.low, scale.high

    @property
    def key(self) -> RowKey:
        return (self.workspace_id, self.source_type, self.source_name, self.submission_id, self.field_id)

    def columns(self, now: datetime) -> dict[str, Any]:
        """The row as feedback_record's column values, stamped created/updated at `now`."""
        return {
            "workspace_id": self.workspace_id,
            "source_type": self.source_type,
            "source_name": self.source_name,
            "submission_id": self.submission_id,
            "customer_id": self.customer_id,
            "touchpoint_id": self.touchpoint_id,
            "collected_at": self.collected_at,
            "field_id": self.field_id,
            "field_label": self.field_label,
            "field_type": self.field_type,
            "value_number": self.value_number,
            "value_text": self.value_text,
            "value_bool": self.value_bool,
            "value_date": self.value_date,
            "language": self.language,
            "channel": self.channel,
            "agent": self.agent,
            "team": self.team,
            "metadata": self.metadata or {},
            "scale_min": self.scale_min,
            "scale_max": self.scale_max,
            "created_at": now,
            "updated_at": now,
        }


@dataclass(slots=True)
class CustomerInsight:
    """A panel a domain adds to the customer 360 page (`customer_insights` hook): a title, label/value facts, and
    free lines (e.g. reasons). Plain strings: the page escapes them."""

    title: str
    facts: list[tuple[str, str]]
    lines: list[str] | None = None
    note: str = ""
    order: int = 100  # lower first
