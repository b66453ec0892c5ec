"""Survey distribution as a plugin: ingested events schedule triggered surveys; sending and reminder tasks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from cem.distribution import tasks, triggers
from cem.hooks import hookimpl
from cem.jobs import registry
from cem.jobs.registry import Task


@hookimpl
def events_ingested(session: Session, workspace_id: int, rows: Sequence[dict[str, Any]]) -> None:
    triggers.on_events(session, workspace_id, rows)


@hookimpl
def job_tasks() -> list[Task]:
    return registry.declared_in(tasks)
