"""Background tasks of text analytics. Importing this module must stay cheap: models load on first use only."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from cem.errors import BadRequest
from cem.jobs.queue import enqueue
from cem.jobs.registry import PRIORITY_BULK, TaskContext, task
from cem.text import enrich

# Embedding ~50 texts/s on two cores: an import batch of a few thousand texts needs minutes, not the default lease.
LEASE_SECONDS = 1800
# Enrichment yields: a job enriches chunks of records until YIELD_SECONDS have passed, then hands the rest to a new
# job (committed with its own "done" mark). The worker then claims again by priority, so an import queued behind a
# demo-sized backlog starts within seconds even on a single worker slot, and nothing is enriched twice. Chunks are
# sized from the measured rate to take about CHUNK_SECONDS, so a busy machine gets smaller chunks, not longer waits.
FIRST_CHUNK_RECORDS = 16
MAX_CHUNK_RECORDS = 256
CHUNK_SECONDS = 1.0
YIELD_SECONDS = 2.0


def _workspace(ctx: TaskContext) -> int:
    if ctx.workspace_id is None:
        raise BadRequest("Text enrichment jobs belong to a workspace.")
    return ctx.workspace_id


@task("text.enrich_submissions", lease_seconds=LEASE_SECONDS, priority=PRIORITY_BULK)
def enrich_submissions(
    ctx: TaskContext, submissions: list[list[str]] | None = None, submission_ids: list[str] | None = None
) -> dict[str, Any]:
    """Enrich the text records of the submissions one ingest or import batch stored (the ingest hook's job).

    `submissions` are [source_type, source_name, submission_id]; `submission_ids` alone is the shape of jobs queued
    before sources were named (any source), still accepted so a queue carried over an upgrade drains."""
    workspace_id = _workspace(ctx)
    keys = [(str(t), str(n), str(i)) for t, n, i in submissions or []]
    record_ids = enrich.record_ids_for_submissions(ctx.session, workspace_id, keys, any_source=submission_ids or [])
    # End the job's own transaction before the slow part: on SQLite it would hold the single write lock.
    ctx.session.rollback()
    return _run(ctx, workspace_id, record_ids, force=False)


@task("text.enrich_records", lease_seconds=LEASE_SECONDS, priority=PRIORITY_BULK)
def enrich_records(ctx: TaskContext, record_ids: list[int], force: bool = False) -> dict[str, Any]:
    """Enrich the given records (backfill batches, or after a workspace model changed with force=True)."""
    workspace_id = _workspace(ctx)
    ctx.session.rollback()
    return _run(ctx, workspace_id, record_ids, force=force)


def _run(ctx: TaskContext, workspace_id: int, record_ids: Sequence[int], *, force: bool) -> dict[str, Any]:
    total = len(record_ids)
    done = 0

    def progress(k: int) -> None:
        nonlocal done
        done += k
        ctx.progress(done, total, "embedding texts")

    started = time.monotonic()
    summary = enrich.EnrichResult()
    start, size = 0, FIRST_CHUNK_RECORDS
    while start < total:
        if start and time.monotonic() - started > YIELD_SECONDS:
            rest = list(record_ids[start:])
            job = enqueue(ctx.session, "text.enrich_records", workspace_id=workspace_id, record_ids=rest, force=force)
            return {**summary.to_json(), "continued_in_job": job.id, "left": len(rest)}
        chunk_began = time.monotonic()
        chunk = record_ids[start : start + size]
        summary.add(
            enrich.enrich_records(ctx.db, workspace_id=workspace_id, record_ids=chunk, force=force, progress=progress)
        )
        start += len(chunk)
        size = _next_chunk_size(len(chunk), time.monotonic() - chunk_began)
    return summary.to_json()


def _next_chunk_size(done: int, seconds: float) -> int:
    """Records that take about CHUNK_SECONDS at the rate just measured (at least one engine batch)."""
    rate = done / max(seconds, 1e-3)
    return max(FIRST_CHUNK_RECORDS, min(MAX_CHUNK_RECORDS, int(rate * CHUNK_SECONDS)))


@task("text.rescore", lease_seconds=LEASE_SECONDS, priority=PRIORITY_BULK)
def rescore(ctx: TaskContext, after_id: int = 0) -> dict[str, Any]:
    """Re-score sentiment of every enriched record from stored embeddings (after the workspace model changed).

    Yields like enrichment: after YIELD_SECONDS the walk goes on in a new job from the last record done.
    """
    from cem.text import service

    workspace_id = _workspace(ctx)
    ctx.session.rollback()
    started = time.monotonic()
    after: int | None = after_id
    batches = 0
    while after is not None:
        if batches and time.monotonic() - started > YIELD_SECONDS:
            job = enqueue(ctx.session, "text.rescore", workspace_id=workspace_id, after_id=after)
            return {"batches": batches, "continued_in_job": job.id}
        with ctx.db.unit_of_work() as session:
            after = service.rescore_batch(session, workspace_id=workspace_id, after_id=after)
        batches += 1
    return {"batches": batches}
