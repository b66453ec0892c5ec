"""Several `cem worker` processes on one queue: no job runs twice; a SIGKILLed job's effect happens once."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cem.db.session import Database
from cem.jobs.models import Job
from cem.jobs.queue import enqueue, enqueue_many
from tests.jobs.conftest import count_effects, load_job, wait_ready, wait_until
from tests.jobs.tasks import effects

pytestmark = [pytest.mark.usefixtures("effect_table"), pytest.mark.slow]

Spawn = Callable[..., subprocess.Popen[str]]
JOBS = 240


def done_count(db: Database) -> int:
    with db.unit_of_work(readonly=True) as session:
        return int(session.scalar(select(func.count()).select_from(Job).where(Job.status == "done")) or 0)


def test_three_worker_processes_never_run_a_job_twice(db: Database, spawn_worker: Spawn) -> None:
    procs = [spawn_worker("--batch-size", "5", wait=False) for _ in range(3)]
    for proc in procs:
        wait_ready(proc)
    with db.unit_of_work() as session:
        enqueue_many(session, "test.record", [{"label": f"job-{i}", "sleep": 0.004} for i in range(JOBS)])
    wait_until(lambda: done_count(db) == JOBS, timeout=60, what=f"{JOBS} jobs done")
    with db.unit_of_work(readonly=True) as session:
        per_job = session.execute(select(effects.c.job_id, func.count()).group_by(effects.c.job_id)).all()
        pids = set(session.scalars(select(effects.c.pid).distinct()))
        attempts = set(session.scalars(select(Job.attempts).distinct()))
    assert len(per_job) == JOBS
    assert {n for _, n in per_job} == {1}  # every job's effect exactly once
    assert attempts == {1}
    assert pids <= {p.pid for p in procs}
    assert len(pids) >= 2, "the jobs should have been shared between processes"


def test_sigkilled_worker_job_is_retried_and_its_effect_happens_once(
    db: Database, spawn_worker: Spawn, gate_dir: Path
) -> None:
    with db.unit_of_work() as session:
        job_id = enqueue(session, "test.blocking", gate_dir=str(gate_dir)).id  # lease 1 s
    victim = spawn_worker()
    wait_until(lambda: (gate_dir / "started-1").exists(), what="the first attempt to start")
    # The first attempt wrote its effect inside the job's transaction and now blocks: kill it there.
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    assert count_effects(db) == 0  # never committed
    assert load_job(db, job_id).status == "running"

    (gate_dir / "release").touch()
    rescuer = spawn_worker()
    wait_until(lambda: load_job(db, job_id).status == "done", what="the retried job to finish")
    job = load_job(db, job_id)
    assert job.attempts == 2
    assert job.locked_by is not None and f":{rescuer.pid}:" in job.locked_by
    assert count_effects(db, job_id=job_id) == 1
    assert count_effects(db, pid=rescuer.pid) == 1
