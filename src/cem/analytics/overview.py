"""The workspace overview on the home page: how much is stored, and where the feedback comes from.

A read across the customer, feedback and journey stores, so it lives with the other cross-domain reads here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from cem.customers.models import Customer, Event
from cem.feedback.models import FeedbackRecord
from cem.journeys.models import Journey

TOP_SOURCES = 12


def counts(session: Session, workspace_id: int) -> dict[str, int]:
    """Rows per store in the workspace."""

    def count(column: InstrumentedAttribute[int]) -> int:
        return int(session.scalar(select(func.count()).where(column == workspace_id)) or 0)

    return {
        "customers": count(Customer.workspace_id),
        "feedback": count(FeedbackRecord.workspace_id),
        "events": count(Event.workspace_id),
        "journeys": count(Journey.workspace_id),
    }


def submissions_by_source(session: Session, workspace_id: int) -> dict[str, Any]:
    """Distinct submissions per source, largest first, as the chart spec charts.js draws (kind "ranking")."""
    rows = [
        (f"{t} · {n}", c)
        for t, n, c in session.execute(
            select(
                FeedbackRecord.source_type,
                FeedbackRecord.source_name,
                func.count(func.distinct(FeedbackRecord.submission_id)),
            )
            .where(FeedbackRecord.workspace_id == workspace_id)
            .group_by(FeedbackRecord.source_type, FeedbackRecord.source_name)
            .order_by(func.count().desc())
            .limit(TOP_SOURCES)
        )
    ]
    return {"kind": "ranking", "x": [label for label, _ in rows], "values": [c for _, c in rows]}
