"""The closed loop as a plugin: every stored submission and every enriched record is queued for rule
evaluation (cem.cases.firing says why a job, not the caller's unit of work); its tasks."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from cem.cases import rules, tasks
from cem.hooks import hookimpl
from cem.hooks.rows import FeedbackRow
from cem.jobs import registry
from cem.jobs.queue import enqueue
from cem.jobs.registry import Task


@hookimpl
def feedback_stored(session: Session, workspace_id: int, rows: Sequence[FeedbackRow]) -> None:
    if not rows or not rules.has_active_rules(session, workspace_id=workspace_id):
        return
    submissions = sorted({(r.source_type, r.source_name, r.submission_id) for r in rows})
    enqueue(session, tasks.EVALUATE, workspace_id=workspace_id, submissions=[list(k) for k in submissions])


@hookimpl
def records_enriched(session: Session, workspace_id: int, record_ids: Sequence[int]) -> None:
    if record_ids and rules.has_active_rules(session, workspace_id=workspace_id, needs_enrichment=True):
        enqueue(session, tasks.EVALUATE, workspace_id=workspace_id, record_ids=list(record_ids), phase="enriched")


@hookimpl
def job_tasks() -> list[Task]:
    return registry.declared_in(tasks)
