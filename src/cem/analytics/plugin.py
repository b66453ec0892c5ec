"""Analytics as a plugin: its background tasks (snapshot refreshes)."""

from __future__ import annotations

from cem.analytics import tasks
from cem.hooks import hookimpl
from cem.jobs import registry
from cem.jobs.registry import Task


@hookimpl
def job_tasks() -> list[Task]:
    return registry.declared_in(tasks)
