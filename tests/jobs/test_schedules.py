"""Cron schedules: declared in code, synced at worker start, fired exactly once per due time."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from cem.db.base import utcnow
from cem.db.session import Database
from cem.jobs.models import Job, JobSchedule
from cem.jobs.queue import enqueue
from cem.jobs.registry import JobArgsError
from cem.jobs.schedule import register_schedule, schedules, unregister_schedule
from cem.jobs.worker import Worker
from tests.jobs.conftest import Clock, count_effects

pytestmark = pytest.mark.usefixtures("effect_table")


@pytest.fixture
def minutely() -> Iterator[str]:
    register_schedule("test.minutely", cron="* * * * *", job_name="test.record", label="tick")
    yield "test.minutely"
    unregister_schedule("test.minutely")


@pytest.fixture
def minutely_alone(minutely: str) -> Iterator[str]:
    """test.minutely as the only declared schedule: built-in ones (the SLA sweep runs every minute too) would fire in
    the same windows and blur what these tests count."""
    others = [s for s in schedules() if s.name != minutely]
    for schedule in others:
        unregister_schedule(schedule.name)
    yield minutely
    for schedule in others:
        register_schedule(schedule.name, cron=schedule.cron, job_name=schedule.job_name, **schedule.args)


def schedule_row(db: Database, name: str) -> JobSchedule | None:
    with db.unit_of_work(readonly=True) as session:
        return session.get(JobSchedule, name)


def scheduled_jobs(db: Database) -> list[Job]:
    with db.unit_of_work(readonly=True) as session:
        return list(session.scalars(select(Job).where(Job.dedupe_key.like("schedule:%")).order_by(Job.id)))


def test_sync_writes_declared_schedules_including_builtin_ones(db: Database, minutely: str, clock: Clock) -> None:
    Worker(db, clock=clock).sync_schedules()
    row = schedule_row(db, minutely)
    assert row is not None
    assert (row.cron, row.job_name, row.args, row.last_run_at) == ("* * * * *", "test.record", {"label": "tick"}, None)
    assert clock.now < row.next_run_at <= clock.now + timedelta(minutes=1)
    assert row.next_run_at.second == 0
    purge = schedule_row(db, "jobs.purge_finished")
    assert purge is not None and purge.cron == "0 3 * * *" and purge.next_run_at.hour == 3


def test_sync_applies_a_changed_cron_and_drops_undeclared_schedules(db: Database, clock: Clock) -> None:
    register_schedule("test.changing", cron="0 5 * * *", job_name="test.noop")
    worker = Worker(db, clock=clock)
    worker.sync_schedules()
    assert schedule_row(db, "test.changing").next_run_at.hour == 5  # type: ignore[union-attr]
    register_schedule("test.changing", cron="30 6 * * *", job_name="test.noop")
    worker.sync_schedules()
    row = schedule_row(db, "test.changing")
    assert row is not None and (row.cron, row.next_run_at.hour, row.next_run_at.minute) == ("30 6 * * *", 6, 30)
    unregister_schedule("test.changing")
    worker.sync_schedules()
    assert schedule_row(db, "test.changing") is None


def test_invalid_schedules_are_rejected() -> None:
    with pytest.raises(JobArgsError, match="invalid cron expression 'every day'"):
        register_schedule("test.bad", cron="every day", job_name="test.noop")
    with pytest.raises(JobArgsError, match="never objects"):
        register_schedule("test.bad", cron="* * * * *", job_name="test.record", label=object())


def test_due_schedule_fires_once_with_several_workers_racing(db: Database, minutely_alone: str, clock: Clock) -> None:
    minutely = minutely_alone
    workers = [Worker(db, clock=clock) for _ in range(4)]
    workers[0].sync_schedules()
    for round_ in range(1, 4):
        clock.now = schedule_row(db, minutely).next_run_at + timedelta(seconds=1)  # type: ignore[union-attr]
        barrier = threading.Barrier(len(workers))
        fired: list[int] = []

        def fire(worker: Worker, barrier: threading.Barrier = barrier, fired: list[int] = fired) -> None:
            barrier.wait()
            fired.append(worker.fire_due_schedules())

        threads = [threading.Thread(target=fire, args=(w,)) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert sorted(fired) == [0, 0, 0, 1]
        assert len(scheduled_jobs(db)) == round_
    row = schedule_row(db, minutely)
    assert row is not None and row.last_run_at == clock.now and row.next_run_at > clock.now
    assert workers[1].run_until_idle() == 3
    assert count_effects(db, label="tick") == 3


def test_missed_runs_fire_once_not_once_per_missed_minute(db: Database, minutely_alone: str, clock: Clock) -> None:
    worker = Worker(db, clock=clock)
    worker.sync_schedules()
    clock.advance(3600)  # the worker was down for an hour
    assert worker.fire_due_schedules() == 1
    assert worker.fire_due_schedules() == 0
    assert len(scheduled_jobs(db)) == 1


def test_purge_finished_keeps_recent_and_dead_jobs(db: Database) -> None:
    old = utcnow() - timedelta(days=40)
    with db.unit_of_work() as session:
        for status, finished in (("done", old), ("done", utcnow()), ("dead", old)):
            job = enqueue(session, "test.noop")
            job.status, job.finished_at = status, finished
        purge = enqueue(session, "jobs.purge_finished").id
    Worker(db).run_until_idle()
    with db.unit_of_work(readonly=True) as session:
        left = sorted((j.status, j.id == purge) for j in session.scalars(select(Job)))
        result = session.get_one(Job, purge).result
    assert result == {"deleted": 1}
    assert left == [("dead", False), ("done", False), ("done", True)]
