"""Topics as a plugin: newly enriched records get their topics from the workspace's existing ones; topic tasks.

The topics modules load scikit-learn (about a second of start-up), so they are imported when a hook first needs
them, not when the plugin is registered: a command that never enriches text or runs a topic job never pays for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy.typing as npt
from sqlalchemy.orm import Session

from cem.hooks import hookimpl
from cem.jobs import registry
from cem.jobs.registry import Task


@hookimpl
def records_enriched(session: Session, workspace_id: int, record_ids: Sequence[int], vectors: npt.NDArray[Any]) -> None:
    from cem.text.topics import service  # start-up cost, see the module docstring

    service.assign_topics(session, workspace_id, record_ids, vectors)


@hookimpl
def job_tasks() -> list[Task]:
    from cem.text.topics import tasks  # start-up cost, see the module docstring

    return registry.declared_in(tasks)
