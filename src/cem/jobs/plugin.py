"""The job system's own plugin: its housekeeping tasks."""

from __future__ import annotations

from cem.hooks import hookimpl
from cem.jobs import registry, system_tasks
from cem.jobs.registry import Task


@hookimpl
def job_tasks() -> list[Task]:
    return registry.declared_in(system_tasks)
