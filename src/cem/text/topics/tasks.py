"""Background task: `text.topics.discover` (re-)discovers a workspace's topics with progress."""

from __future__ import annotations

from typing import Any

from cem.auth.principal import system_principal
from cem.jobs.registry import PRIORITY_INTERACTIVE, TaskContext, task
from cem.text.topics import runs
from cem.text.topics.discovery import DEFAULT_MIN_TOPIC_SIZE


# Started by a person from the topics page (or `cem text discover`), who waits for its result.
@task("text.topics.discover", lease_seconds=3600, priority=PRIORITY_INTERACTIVE)
def discover_topics(
    ctx: TaskContext,
    seed: int = 0,
    min_topic_size: int = DEFAULT_MIN_TOPIC_SIZE,
    n_topics: int | None = None,
    actor_label: str = "job",
) -> dict[str, Any]:
    """Discover topics on the stored texts and re-assign them; the final write is one transaction (old or new)."""
    # End the job's own transaction first: on SQLite it would hold the single write lock the work below needs.
    ctx.session.rollback()
    workspace_id = ctx.workspace_id
    if workspace_id is None:
        raise ValueError("text.topics.discover runs for one workspace: enqueue it with workspace_id.")

    def progress(stage: str, done: float) -> None:
        ctx.progress(int(done * 100), 100, stage)

    report = runs.discover_in_db(
        ctx.db,
        workspace_id,
        seed=seed,
        min_topic_size=min_topic_size,
        n_topics=n_topics,
        progress=progress,
        actor=system_principal(workspace_id, label=actor_label),
    )
    return report.as_dict()
