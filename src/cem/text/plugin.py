"""Text analytics as a plugin: stored text feedback is queued for enrichment; the enrichment tasks."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from cem.hooks import hookimpl
from cem.hooks.rows import FeedbackRow
from cem.jobs import registry
from cem.jobs.queue import enqueue
from cem.jobs.registry import Task
from cem.text import tasks

ENRICH_SUBMISSIONS = "text.enrich_submissions"  # the task cem.text.tasks declares


@hookimpl
def feedback_stored(session: Session, workspace_id: int, rows: Sequence[FeedbackRow]) -> None:
    """One enrichment job naming every submission with text, by source: submission ids are unique only within a
    source, so a review import never re-enriches the tickets whose ids it shares (the job finds the records itself)."""
    submissions = sorted({(r.source_type, r.source_name, r.submission_id) for r in rows if r.value_text})
    if submissions:
        enqueue(session, ENRICH_SUBMISSIONS, workspace_id=workspace_id, submissions=[list(k) for k in submissions])


@hookimpl
def job_tasks() -> list[Task]:
    return registry.declared_in(tasks)
