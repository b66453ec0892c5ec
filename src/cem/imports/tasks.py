"""Background task of imports: `imports.run` imports a stored upload into its run."""

from __future__ import annotations

from typing import Any

from cem.imports import runner
from cem.jobs.registry import PRIORITY_INTERACTIVE, TaskContext, task


# A person is watching the import page: interactive, ahead of any enrichment backlog.
@task("imports.run", lease_seconds=3600, priority=PRIORITY_INTERACTIVE)
def run_import(
    ctx: TaskContext, run_id: int, encoding: str | None = None, delimiter: str | None = None
) -> dict[str, Any]:
    """Import the run's file in batches, each committed in its own unit of work."""
    # The worker's own transaction holds SQLite's write lock (BEGIN IMMEDIATE) from its first read;
    # nothing was written in it yet, so end it, or every batch below would wait on that lock.
    ctx.session.rollback()
    return runner.run_stored(ctx.db, run_id=run_id, encoding=encoding, delimiter=delimiter, progress=ctx.progress)
