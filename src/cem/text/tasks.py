"""Background tasks of text analytics. Importing this module must stay cheap: models load on first use only."""

from __future__ import annotations

from typing import Any

from cem.errors import BadRequest
from cem.jobs.registry import TaskContext, task
from cem.text import enrich

# Embedding ~50 texts/s on two cores: an import batch of a few thousand texts needs minutes, not the default lease.
LEASE_SECONDS = 1800


def _workspace(ctx: TaskContext) -> int:
    if ctx.workspace_id is None:
        raise BadRequest("Text enrichment jobs belong to a workspace.")
    return ctx.workspace_id


@task("text.enrich_submissions", lease_seconds=LEASE_SECONDS)
def enrich_submissions(ctx: TaskContext, submission_ids: list[str]) -> dict[str, Any]:
    """Enrich the text records of the submissions one ingest or import batch stored (the ingest hook's job)."""
    workspace_id = _workspace(ctx)
    record_ids = enrich.record_ids_for_submissions(ctx.session, workspace_id, submission_ids)
    # End the job's own transaction before the slow part: on SQLite it would hold the single write lock.
    ctx.session.rollback()
    return _run(ctx, workspace_id, record_ids, force=False)


@task("text.enrich_records", lease_seconds=LEASE_SECONDS)
def enrich_records(ctx: TaskContext, record_ids: list[int], force: bool = False) -> dict[str, Any]:
    """Enrich the given records (backfill batches, or after a workspace model changed with force=True)."""
    workspace_id = _workspace(ctx)
    ctx.session.rollback()
    return _run(ctx, workspace_id, record_ids, force=force)


def _run(ctx: TaskContext, workspace_id: int, record_ids: list[int], *, force: bool) -> dict[str, Any]:
    total = len(record_ids)
    done = 0

    def progress(k: int) -> None:
        nonlocal done
        done += k
        ctx.progress(done, total, "embedding texts")

    result = enrich.enrich_records(
        ctx.db, workspace_id=workspace_id, record_ids=record_ids, force=force, progress=progress
    )
    return result.to_json()


@task("text.rescore", lease_seconds=LEASE_SECONDS)
def rescore(ctx: TaskContext) -> dict[str, Any]:
    """Re-score sentiment of every enriched record from stored embeddings (after the workspace model changed)."""
    from cem.text import service

    workspace_id = _workspace(ctx)
    ctx.session.rollback()
    after: int | None = 0
    batches = 0
    while after is not None:
        with ctx.db.unit_of_work() as session:
            after = service.rescore_batch(session, workspace_id=workspace_id, after_id=after)
        batches += 1
    return {"batches": batches}
