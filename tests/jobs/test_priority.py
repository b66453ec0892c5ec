"""Priorities and reserved capacity: what a person waits for never queues behind bulk work."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import MetaData, create_engine, insert, select, text

from cem.db import migrate
from cem.db.session import Database
from cem.jobs.queue import enqueue, enqueue_many
from cem.jobs.registry import (
    PRIORITY_BULK,
    PRIORITY_INTERACTIVE,
    PRIORITY_NORMAL,
    JobArgsError,
    get_task,
)
from cem.jobs.worker import Worker, worker_pool
from tests.jobs.conftest import count_effects, load_job, wait_until
from tests.jobs.tasks import effects

pytestmark = pytest.mark.usefixtures("effect_table")


def add(db: Database, name: str, **kwargs: object) -> int:
    with db.unit_of_work() as session:
        return enqueue(session, name, **kwargs).id  # type: ignore[arg-type]


def effect_labels(db: Database) -> list[str]:
    with db.unit_of_work(readonly=True) as session:
        return list(session.scalars(select(effects.c.label).order_by(effects.c.id)))


def test_tasks_declare_their_priority() -> None:
    for name in ("imports.run", "text.topics.discover", "surveys.distribution.send", "surveys.invitation.deliver"):
        assert get_task(name).priority == PRIORITY_INTERACTIVE, name
    for name in ("text.enrich_submissions", "text.enrich_records", "text.rescore", "jobs.purge_finished"):
        assert get_task(name).priority == PRIORITY_BULK, name
    assert get_task("test.record").priority == PRIORITY_NORMAL  # the default


def test_priority_is_stored_with_the_job_and_can_be_overridden(db: Database) -> None:
    bulk_id = add(db, "text.enrich_records", workspace_id=None, record_ids=[1, 2])
    import_id = add(db, "imports.run", run_id=1)
    raised_id = add(db, "test.record", label="x", priority=PRIORITY_INTERACTIVE)
    with db.unit_of_work() as session:
        enqueue_many(session, "test.bulk", [{"label": "m1"}, {"label": "m2"}])
    assert load_job(db, bulk_id).priority == PRIORITY_BULK
    assert load_job(db, import_id).priority == PRIORITY_INTERACTIVE
    assert load_job(db, raised_id).priority == PRIORITY_INTERACTIVE
    with db.unit_of_work(readonly=True) as session:
        stored = session.execute(text("SELECT priority FROM job WHERE name = 'test.bulk'")).scalars().all()
    assert stored == [PRIORITY_BULK, PRIORITY_BULK]
    with pytest.raises(JobArgsError, match="priority"), db.unit_of_work() as session:
        enqueue(session, "test.record", label="x", priority=1000)


def test_worker_takes_the_interactive_job_before_enrichment_queued_ahead(db: Database) -> None:
    """The demo's situation: an enrichment backlog is queued first, then a person starts an import."""
    with db.unit_of_work() as session:
        enqueue_many(session, "test.bulk", [{"label": f"enrich-{i}"} for i in range(30)])
        enqueue_many(session, "text.enrich_records", [{"record_ids": [i]} for i in range(5)], workspace_id=None)
    time.sleep(0.01)  # strictly later run_at than the backlog: only the priority can put it first
    urgent = add(db, "test.interactive", label="import")
    worker = Worker(db, batch_size=1)
    assert [job.id for job in worker.claim_batch(1)] == [urgent]
    worker.heartbeat.stop()

    # And run end to end: the first job a busy single-slot worker finishes is the interactive one.
    second = add(db, "test.interactive", label="export")
    assert Worker(db, batch_size=5).run_until_idle(max_jobs=1) == 1
    assert load_job(db, second).status == "done"
    assert effect_labels(db) == ["export"]


def test_reserved_slot_starts_interactive_work_while_the_general_slot_runs_a_long_bulk_job(
    db: Database, gate_dir: Path
) -> None:
    gate = gate_dir / "bulk-may-finish"
    long_bulk = add(db, "test.bulk", label="backfill", gate=str(gate))
    add(db, "test.bulk", label="backfill-2")
    general, reserved = worker_pool(db, general=1, interactive=1, poll_seconds=0.05)
    assert reserved.max_priority == PRIORITY_INTERACTIVE and general.max_priority is None
    # The reserved slot never takes bulk work, however idle it is.
    assert reserved.claim_batch() == []
    assert not reserved.has_due_jobs()
    threads = [w.start_thread() for w in (general, reserved)]
    try:
        wait_until(lambda: load_job(db, long_bulk).status == "running", what="the bulk job to start")
        queued_at = time.monotonic()
        urgent = add(db, "test.interactive", label="import")
        reserved.wake.set()
        wait_until(lambda: load_job(db, urgent).status == "done", timeout=10, what="the interactive job")
        waited = time.monotonic() - queued_at
        assert load_job(db, long_bulk).status == "running", "the bulk job must still hold the general slot"
        assert waited < 5, f"the interactive job waited {waited:.1f} s"
        assert count_effects(db, label="import") == 1 and count_effects(db, label="backfill") == 0
    finally:
        gate.touch()
        wait_until(lambda: count_effects(db, label="backfill-2") == 1, what="the backlog to drain")
        for w in (general, reserved):
            w.stop()
        for thread in threads:
            thread.join(timeout=10)
    assert effect_labels(db) == ["import", "backfill", "backfill-2"]


def test_the_claim_query_uses_the_claim_index(db: Database) -> None:
    worker = Worker(db)
    stmt = worker.claim_statement(worker.clock(), 20)
    compiled = stmt.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
    with db.unit_of_work(readonly=True) as session:
        if db.dialect == "postgresql":
            # A test table is tiny, so force the planner off sequential scans to see which index it can use.
            session.execute(text("SET LOCAL enable_seqscan = off"))
            plan = "\n".join(session.execute(text(f"EXPLAIN {compiled}")).scalars())
            assert "ix_job_claim" in plan, plan
            assert "Sort" not in plan.split("ix_job_claim")[0].split("LockRows")[-1], plan
        else:
            rows = session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
            plan = "\n".join(str(r[-1]) for r in rows)
            assert "ix_job_claim" in plan, plan
            assert "TEMP B-TREE" not in plan, f"the claim sorts instead of walking the index: {plan}"


def test_the_migration_gives_queued_jobs_their_tasks_priority(tmp_path: Path) -> None:
    """A backlog queued before the upgrade must not keep holding up imports after it."""
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate.upgrade(engine, "0012_survey_reminders")
    job = MetaData()
    job.reflect(engine, only=["job"])
    table = job.tables["job"]
    assert "priority" not in table.c
    now = datetime(2026, 3, 1, tzinfo=UTC)
    names = ["text.enrich_submissions", "imports.run", "analytics.refresh_snapshot"]
    with engine.begin() as conn:
        for name in names:
            conn.execute(
                insert(table).values(
                    name=name,
                    args={},
                    status="queued",
                    attempts=0,
                    max_attempts=5,
                    run_at=now,
                    progress_current=0,
                    progress_total=0,
                    progress_message="",
                    result={},
                    created_at=now,
                )
            )
    migrate.upgrade(engine)
    with engine.connect() as conn:
        stored = dict(conn.execute(text("SELECT name, priority FROM job")).all())
    engine.dispose()
    assert stored == {
        "text.enrich_submissions": PRIORITY_BULK,
        "imports.run": PRIORITY_INTERACTIVE,
        "analytics.refresh_snapshot": PRIORITY_NORMAL,
    }
