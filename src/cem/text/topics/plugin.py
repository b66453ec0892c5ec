"""Topics as a plugin: newly enriched records get their topics from the workspace's existing ones; topic tasks.

scikit-learn and scipy load only inside clustering and labelling (cem.text.topics.discovery), so importing the
topics modules here costs start-up nothing heavy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy.typing as npt
from sqlalchemy.orm import Session

from cem.hooks import hookimpl
from cem.jobs import registry
from cem.jobs.registry import Task
from cem.text.topics import service, tasks


@hookimpl
def records_enriched(session: Session, workspace_id: int, record_ids: Sequence[int], vectors: npt.NDArray[Any]) -> None:
    service.assign_topics(session, workspace_id, record_ids, vectors)


@hookimpl
def job_tasks() -> list[Task]:
    return registry.declared_in(tasks)
