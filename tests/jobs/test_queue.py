"""Enqueueing: transactional visibility, argument validation, dedupe keys."""

from __future__ import annotations

import math
from datetime import datetime

import pytest
from sqlalchemy import func, insert, select

from cem.db.base import utcnow
from cem.db.session import Database
from cem.errors import NotFound
from cem.jobs.models import Job
from cem.jobs.queue import enqueue, enqueue_many
from cem.jobs.registry import JobArgsError
from cem.jobs.worker import Worker
from tests.jobs.conftest import count_effects, load_job

pytestmark = pytest.mark.usefixtures("effect_table")


def job_count(db: Database) -> int:
    with db.unit_of_work(readonly=True) as session:
        return int(session.scalar(select(func.count()).select_from(Job)) or 0)


def test_rolled_back_enqueue_leaves_no_job(db: Database) -> None:
    with pytest.raises(RuntimeError), db.unit_of_work() as session:
        enqueue(session, "test.record", label="rolled-back")
        raise RuntimeError("the caller's change fails")
    assert job_count(db) == 0
    assert Worker(db).run_until_idle() == 0
    assert count_effects(db) == 0


def test_committed_job_runs_once_with_its_result(db: Database) -> None:
    with db.unit_of_work() as session:
        job_id = enqueue(session, "test.record", label="hello").id
    assert Worker(db).run_until_idle() == 1
    job = load_job(db, job_id)
    assert (job.status, job.attempts, job.result, job.locked_until) == (
        "done",
        1,
        {"label": "hello", "attempt": 1},
        None,
    )
    assert count_effects(db, job_id=job_id, label="hello") == 1
    assert Worker(db).run_until_idle() == 0


def test_commit_wakes_the_in_process_worker(db: Database) -> None:
    woken: list[bool] = []
    db.after_commit_hooks.append(lambda: woken.append(True))
    try:
        with db.unit_of_work() as session:
            enqueue(session, "test.noop")
        with db.unit_of_work():
            pass  # a unit without jobs does not wake anyone
    finally:
        db.after_commit_hooks.pop()
    assert woken == [True]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"label": datetime(2026, 1, 1)}, "label is a datetime"),
        ({"label": ("a", "b")}, "use a list"),
        ({"label": {1: "x"}}, "non-string key 1"),
        ({"label": ["ok", math.nan]}, "label[1] is nan"),
        ({"label": {"nested": {1, 2}}}, "label['nested'] is a set"),
    ],
)
def test_non_json_arguments_are_rejected(db: Database, args: dict[str, object], message: str) -> None:
    with db.unit_of_work() as session, pytest.raises(JobArgsError, match="never objects") as caught:
        enqueue(session, "test.record", **args)
    assert message in caught.value.detail
    assert job_count(db) == 0


def test_orm_objects_are_rejected(db: Database) -> None:
    with db.unit_of_work() as session:
        other = enqueue(session, "test.noop")
        with pytest.raises(JobArgsError, match=r"label is a Job \(pass its id"):
            enqueue(session, "test.record", label=other)
    assert job_count(db) == 1


def test_arguments_must_fit_the_task_signature(db: Database) -> None:
    with db.unit_of_work() as session:
        with pytest.raises(JobArgsError, match="missing a required argument: 'label'"):
            enqueue(session, "test.record")
        with pytest.raises(JobArgsError, match="unexpected keyword argument 'colour'"):
            enqueue(session, "test.record", label="x", colour="red")
        with pytest.raises(NotFound, match=r"No background task is registered as .test\.nope."):
            enqueue(session, "test.nope")
        with pytest.raises(JobArgsError, match="max_attempts"):
            enqueue(session, "test.noop", max_attempts=0)
    assert job_count(db) == 0


def test_dedupe_key_returns_the_existing_job_and_keeps_the_transaction_usable(db: Database) -> None:
    with db.unit_of_work() as session:
        first = enqueue(session, "test.record", label="a", dedupe_key="send:42").id
    with db.unit_of_work() as session:
        again = enqueue(session, "test.record", label="a", dedupe_key="send:42")
        same_tx = enqueue(session, "test.record", label="a", dedupe_key="send:42")
        other = enqueue(session, "test.record", label="b")  # the caller's transaction still works
    assert again.id == first == same_tx.id
    assert again.status == "queued"
    assert job_count(db) == 2
    assert load_job(db, other.id).args == {"label": "b"}
    with db.unit_of_work() as session, pytest.raises(JobArgsError, match="dedupe key"):
        enqueue(session, "test.noop", dedupe_key="x" * 201)


def test_changed_signature_and_removed_task_go_dead_without_retries(db: Database) -> None:
    now = utcnow()
    rows = [
        {"name": "test.record", "args": {"title": "old argument name"}, "run_at": now, "status": "queued"},
        {"name": "test.removed_task", "args": {}, "run_at": now, "status": "queued"},
    ]
    with db.unit_of_work() as session:  # rows as an older release would have written them
        session.execute(insert(Job), rows)
    assert Worker(db).run_until_idle() == 2
    with db.unit_of_work(readonly=True) as session:
        jobs = {j.name: j for j in session.scalars(select(Job))}
    stale, removed = jobs["test.record"], jobs["test.removed_task"]
    assert (stale.status, stale.attempts) == ("dead", 1)
    assert "do not match task test.record(label, sleep=0.0)" in (stale.last_error or "")
    assert "missing a required argument: 'label'" in (stale.last_error or "")
    assert (removed.status, removed.attempts) == ("dead", 1)
    assert "No background task is registered as 'test.removed_task'" in (removed.last_error or "")


def test_enqueue_many_inserts_in_bulk(db: Database) -> None:
    with db.unit_of_work() as session:
        assert enqueue_many(session, "test.record", [{"label": f"n{i}"} for i in range(30)]) == 30
        with pytest.raises(JobArgsError):
            enqueue_many(session, "test.record", [{"label": "ok"}, {"label": b"bytes"}])
    assert Worker(db, batch_size=7).run_until_idle() == 30
    assert count_effects(db) == 30
