"""The worker: retries with backoff, dead letters and their retry, idempotency keys, leases, progress."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from cem.app import create_app
from cem.auth.models import AuditLog
from cem.config import Settings
from cem.db.session import Database
from cem.jobs.models import Job
from cem.jobs.queue import enqueue
from cem.jobs.worker import Worker, backoff_seconds
from tests.conftest import Workspace
from tests.jobs.conftest import Clock, count_effects, load_job, wait_until

pytestmark = pytest.mark.usefixtures("effect_table")


def add(db: Database, name: str, **kwargs: object) -> int:
    with db.unit_of_work() as session:
        return enqueue(session, name, **kwargs).id  # type: ignore[arg-type]


def test_backoff_grows_exponentially() -> None:
    for attempt in range(1, 8):
        assert 0.75 * 2**attempt <= backoff_seconds(attempt) <= 1.25 * 2**attempt
    assert backoff_seconds(40) <= 1.25 * 3600


def test_failures_retry_with_growing_backoff_then_go_dead(db: Database, clock: Clock, gate_dir: Path) -> None:
    job_id = add(db, "test.fail_until", gate=str(gate_dir / "open"), max_attempts=4)
    worker = Worker(db, clock=clock)
    delays = []
    for attempt in (1, 2, 3):
        assert worker.run_until_idle() == 1
        job = load_job(db, job_id)
        assert (job.status, job.attempts, job.locked_by) == ("queued", attempt, None)
        assert "RuntimeError: gate open is closed" in (job.last_error or "")
        delays.append((job.run_at - clock.now).total_seconds())
        assert worker.run_until_idle() == 0  # not due before its backoff has passed
        clock.advance(delays[-1] + 0.001)
    assert delays == sorted(delays) and delays[0] >= 1.5 and delays[2] >= 6  # ~2 s, ~4 s, ~8 s
    assert worker.run_until_idle() == 1
    job = load_job(db, job_id)
    assert (job.status, job.attempts) == ("dead", 4)
    assert (job.last_error or "").startswith("RuntimeError: gate open is closed")
    assert count_effects(db) == 0  # every failed attempt's writes were rolled back
    clock.advance(10_000)
    assert worker.run_until_idle() == 0  # dead jobs stay dead


def test_dead_job_retry_through_the_api(
    db: Database, clock: Clock, gate_dir: Path, api: Callable[..., TestClient], workspace: Workspace
) -> None:
    job_id = add(db, "test.fail_until", gate=str(gate_dir / "open"), max_attempts=1, workspace_id=workspace.id)
    Worker(db, clock=clock).run_until_idle()
    assert load_job(db, job_id).status == "dead"
    dead = api("admin").get("/api/v1/jobs", params={"status": "dead"}).json()
    assert [j["id"] for j in dead] == [job_id]

    denied = api("analyst").post(f"/api/v1/jobs/{job_id}/retry")
    assert denied.status_code == 403
    assert denied.json()["error"] == "forbidden"
    assert load_job(db, job_id).status == "dead"

    missing = api("admin").post("/api/v1/jobs/999999/retry")
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")

    (gate_dir / "open").touch()
    retried = api("admin").post(f"/api/v1/jobs/{job_id}/retry")
    assert retried.status_code == 200, retried.text
    assert (retried.json()["status"], retried.json()["attempts"]) == ("queued", 0)
    again = api("admin").post(f"/api/v1/jobs/{job_id}/retry")
    assert (again.status_code, again.json()["error"]) == (409, "conflict")

    assert Worker(db, clock=clock).run_until_idle() == 1
    job = load_job(db, job_id)
    assert (job.status, job.attempts) == ("done", 1)
    assert count_effects(db, job_id=job_id) == 1
    with db.unit_of_work(readonly=True) as session:
        actions = session.scalars(
            select(AuditLog.action).where(AuditLog.entity_type == "job", AuditLog.entity_id == str(job_id))
        ).all()
    assert actions == ["job.retry"]


def test_once_key_prevents_a_repeated_side_effect(db: Database, clock: Clock) -> None:
    first = add(db, "test.once", key="email:response-7")
    second = add(db, "test.once", key="email:response-7")
    Worker(db, clock=clock).run_until_idle()
    assert load_job(db, first).result == {"did": True}
    assert load_job(db, second).result == {"did": False}
    assert count_effects(db, label="email:response-7") == 1


def test_once_key_rolls_back_with_a_failed_attempt(db: Database, clock: Clock) -> None:
    job_id = add(db, "test.once", key="webhook:9", fail_first=True)
    worker = Worker(db, clock=clock)
    worker.run_until_idle()
    assert (load_job(db, job_id).status, count_effects(db)) == ("queued", 0)
    clock.advance(60)
    worker.run_until_idle()
    job = load_job(db, job_id)
    assert (job.status, job.attempts, job.result) == ("done", 2, {"did": True})
    assert count_effects(db, label="webhook:9") == 1


def test_progress_is_visible_while_the_job_runs_and_the_lease_is_renewed(db: Database, gate_dir: Path) -> None:
    job_id = add(db, "test.long", gate_dir=str(gate_dir))  # lease 1 s, runs longer
    worker = Worker(db)
    thread = threading.Thread(target=worker.run_until_idle)
    thread.start()
    try:
        wait_until(lambda: load_job(db, job_id).progress_current == 3, what="progress")
        job = load_job(db, job_id)
        assert (job.status, job.progress_total, job.progress_message) == ("running", 10, "three of ten")
        first_lease = job.locked_until
        thief = Worker(db)
        for _ in range(12):  # 2.4 s, well past the 1 s lease: the heartbeat keeps it
            assert thief.claim_batch() == []
            threading.Event().wait(0.2)
        assert load_job(db, job_id).locked_until > first_lease  # type: ignore[operator]
    finally:
        (gate_dir / "release").touch()
        thread.join(timeout=20)
    job = load_job(db, job_id)
    assert (job.status, job.attempts, job.result) == ("done", 1, {"attempt": 1})
    assert (job.progress_current, job.progress_message) == (10, "all ten")


def test_a_job_that_lost_its_lease_rolls_back(db: Database) -> None:
    job_id = add(db, "test.record", label="stolen")
    worker = Worker(db)
    [claimed] = worker.claim_batch()
    with db.unit_of_work() as session:  # another worker took the job over after the lease ran out
        session.execute(update(Job).where(Job.id == job_id).values(locked_by="someone-else"))
    assert worker.run_job(claimed) is False
    assert count_effects(db) == 0
    job = load_job(db, job_id)
    assert (job.status, job.locked_by) == ("running", "someone-else")


def test_expired_lease_is_reclaimed_and_last_attempt_goes_dead(db: Database, clock: Clock) -> None:
    retried = add(db, "test.record", label="retried")
    lost = add(db, "test.record", label="lost", max_attempts=1)
    crashed = Worker(db, clock=clock)
    assert len(crashed.claim_batch()) == 2  # ... and then this worker "dies"
    crashed.heartbeat.stop()
    rescuer = Worker(db, clock=clock)
    assert rescuer.run_until_idle() == 0  # leases still valid
    clock.advance(301)
    assert rescuer.run_until_idle() == 1
    assert (load_job(db, retried).status, load_job(db, retried).attempts) == ("done", 2)
    dead = load_job(db, lost)
    assert (dead.status, dead.attempts) == ("dead", 1)
    assert "stopped (crash or kill)" in (dead.last_error or "")
    assert count_effects(db) == 1


def test_unstarted_jobs_of_a_slow_batch_go_back_to_the_queue(db: Database) -> None:
    ids = [add(db, "test.record", label=f"b{i}") for i in range(3)]
    worker = Worker(db, batch_size=3, batch_hold_seconds=0)
    assert worker._run_batch(worker.claim_batch()) == 1
    statuses = [(load_job(db, i).status, load_job(db, i).attempts, load_job(db, i).locked_by) for i in ids]
    assert statuses == [("done", 1, worker.worker_id), ("queued", 0, None), ("queued", 0, None)]
    assert Worker(db).run_until_idle() == 2


def test_a_non_json_result_fails_the_job(db: Database) -> None:
    job_id = add(db, "test.bad_result", max_attempts=1)
    Worker(db).run_until_idle()
    job = load_job(db, job_id)
    assert job.status == "dead"
    assert "returned a non-JSON value: result['when'] is a module" in (job.last_error or "")


def test_the_embedded_in_process_worker_runs_jobs_after_commit(settings: Settings, db: Database) -> None:
    embedded = settings.model_copy(update={"in_process_worker": True, "worker_poll_seconds": 30})
    # Another app may be serving this database meanwhile (the browser tests' live server lives for the session).
    others = list(db.after_commit_hooks)
    with TestClient(create_app(embedded, db=db)):
        job_id = add(db, "test.record", label="embedded")  # the commit wakes the worker; no 30 s poll needed
        wait_until(lambda: load_job(db, job_id).status == "done", timeout=10, what="the in-process worker")
    assert count_effects(db, label="embedded") == 1
    assert db.after_commit_hooks == others  # the stopped app took its wake-up hook away
