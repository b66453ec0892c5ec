"""The hook specifications: what a domain may react to, and what it may contribute.

A domain implements a hook with a function of the same name marked `@cem.hooks.hookimpl`, in a plugin module
(e.g. cem/distribution/plugin.py); the composition roots register the plugins (cem.plugins). Hooks are called
inside the caller's unit of work: an implementation writes through the `session` it gets, and its writes commit or
roll back together with what triggered it. An implementation may take any subset of the arguments, by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import numpy.typing as npt
    from sqlalchemy.orm import Session

    from cem.hooks.rows import CustomerInsight, FeedbackRow
    from cem.jobs.registry import Task

PROJECT = "cem"
hookspec = pluggy.HookspecMarker(PROJECT)


@hookspec
def events_ingested(session: Session, workspace_id: int, rows: Sequence[dict[str, Any]]) -> None:
    """Interaction events were just upserted (cem.customers.service.ingest_events).

    Each row is the stored event: customer_id, touchpoint_id, external_id (the idempotency key), type,
    occurred_at, properties, value. A re-sent event arrives again with the same external_id.
    """


@hookspec
def domain_event(session: Session, workspace_id: int, event_type: str, data: dict[str, Any]) -> None:
    """Something happened that subscribers may want: feedback.created, response.completed, alert.fired,
    case.created, case.updated, case.closed, sla.breached.

    `data` is the event's JSON-serialisable body (ids, not objects). Called inside the caller's unit of work, so
    an outbound delivery (cem.webhooks) is enqueued atomically with the change that caused it: the outbox pattern.
    """


@hookspec
def feedback_stored(session: Session, workspace_id: int, rows: Sequence[FeedbackRow]) -> None:
    """Feedback records were just written to the store (cem.feedback.writer.FeedbackWriter.flush).

    Rows of one workspace, created or updated; a row's identity is `FeedbackRow.key`.
    """


@hookspec
def records_enriched(session: Session, workspace_id: int, record_ids: Sequence[int], vectors: npt.NDArray[Any]) -> None:
    """Text records just got their language, sentiment and emotions written (cem.text.enrich.enrich_records).

    vectors[i] is the embedding of record_ids[i]. The call runs in a savepoint of the enrichment's unit of work:
    an implementation that fails loses its own writes, never the enrichment.
    """


@hookspec
def job_tasks() -> Sequence[Task]:  # type: ignore[empty-body]
    """The background tasks a domain runs (cem.jobs.registry.Task, as the `@task` decorator declares them)."""


@hookspec
def customer_insights(session: Session, workspace_id: int, customer_id: int) -> Sequence[CustomerInsight]:  # type: ignore[empty-body]
    """Panels for the customer 360 page (cem.customers.web): what a domain knows of the customer (lifetime value,
    churn risk, ...). Read-only; an implementation with nothing to say returns an empty list."""
