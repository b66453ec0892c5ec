"""File imports as a plugin: the import job's task."""

from __future__ import annotations

from cem.hooks import hookimpl
from cem.imports import tasks
from cem.jobs import registry
from cem.jobs.registry import Task


@hookimpl
def job_tasks() -> list[Task]:
    return registry.declared_in(tasks)
