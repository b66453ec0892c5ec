"""Feedback for dashboard tests, stored through the ingest service with known values and days."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import count
from typing import Any

from cem.db.session import Database
from cem.feedback import service as feedback_service
from cem.feedback.schemas import FeedbackIn
from tests.conftest import Workspace

_ids = count()


def nps_values(promoters: int, passives: int, detractors: int) -> list[float]:
    return [10.0] * promoters + [8.0] * passives + [3.0] * detractors


def records(field_type: str, values: list[float], day: date, *, source: str = "web-survey") -> list[dict[str, Any]]:
    at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    return [
        {
            "source_type": "survey",
            "source_name": source,
            "submission_id": f"d{next(_ids)}",
            "field_id": field_type,
            "field_type": field_type,
            "value": v,
            "collected_at": at,
        }
        for v in values
    ]


def store(db: Database, workspace: Workspace, items: list[dict[str, Any]]) -> None:
    with db.unit_of_work() as session:
        feedback_service.ingest_feedback(
            session, actor=workspace.principal(), records=[FeedbackIn.model_validate(i) for i in items]
        )
