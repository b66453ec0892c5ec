"""Triggered surveys: ingested interaction events schedule a survey send after the trigger's delay.

`on_events` is called from cem.customers.service.ingest_events (the events_ingested hook) inside the ingest
transaction, so the scheduled job exists exactly when the event does. The job's dedupe key contains the
event's idempotency key: re-sending the same event never schedules a second survey.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cem.distribution.models import SurveyTrigger
from cem.jobs.queue import enqueue


def on_events(session: Session, workspace_id: int, rows: Sequence[dict[str, Any]]) -> None:
    types = {row["type"] for row in rows}
    triggers = list(
        session.scalars(
            select(SurveyTrigger).where(
                SurveyTrigger.workspace_id == workspace_id,
                SurveyTrigger.event_type.in_(types),
                SurveyTrigger.active.is_(True),
            )
        )
    )
    if not triggers:
        return
    for row in rows:
        for trigger in triggers:
            if trigger.event_type != row["type"]:
                continue
            enqueue(
                session,
                "surveys.trigger.send",
                workspace_id=workspace_id,
                delay=timedelta(minutes=trigger.delay_minutes),
                dedupe_key=f"survey-trigger:{trigger.id}:{row['external_id']}"[:200],
                trigger_id=trigger.id,
                customer_id=row["customer_id"],
                event_key=str(row["external_id"]),
            )
