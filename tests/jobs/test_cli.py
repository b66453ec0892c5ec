"""`cem worker --once` and `cem jobs list|show|retry|schedules`, including their readable errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner, Result

from cem.cli import app
from cem.config import Settings, get_settings
from cem.db.session import Database
from cem.jobs.models import Job
from cem.jobs.queue import enqueue
from cem.jobs.worker import Worker
from tests.jobs.conftest import load_job, worker_env

pytestmark = pytest.mark.usefixtures("effect_table")


@pytest.fixture
def cem(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    for key, value in worker_env(settings).items():
        if key.startswith("CEM_"):
            monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def run(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(app, list(args))


def dead_job(db: Database, gate_dir: Path) -> int:
    with db.unit_of_work() as session:
        job_id = enqueue(session, "test.fail_until", gate=str(gate_dir / "open"), max_attempts=1).id
    Worker(db).run_until_idle()
    return job_id


def test_worker_once_runs_due_jobs(cem: CliRunner, db: Database) -> None:
    with db.unit_of_work() as session:
        ids = [enqueue(session, "test.record", label=f"cli-{i}").id for i in range(3)]
    result = run(cem, "worker", "--once")
    assert result.exit_code == 0, result.output
    assert "Ran 3 job(s)." in result.output
    assert {load_job(db, i).status for i in ids} == {"done"}
    bad = run(cem, "worker", "--concurrency", "0")
    assert bad.exit_code == 2
    assert "--concurrency and --batch-size must be at least 1" in bad.output


def test_list_show_and_retry_a_dead_job(cem: CliRunner, db: Database, gate_dir: Path) -> None:
    job_id = dead_job(db, gate_dir)
    with db.unit_of_work() as session:
        session.execute(update(Job).where(Job.id == job_id).values(progress_current=4, progress_total=9))
    listed = run(cem, "jobs", "list", "--status", "dead")
    assert listed.exit_code == 0, listed.output
    assert f"{job_id:>8}  dead" in listed.output
    assert "test.fail_until" in listed.output and "RuntimeError: gate open is closed" in listed.output
    assert "No queued jobs." in run(cem, "jobs", "list", "--status", "queued").output

    shown = run(cem, "jobs", "show", str(job_id))
    assert shown.exit_code == 0, shown.output
    assert "status:      dead" in shown.output
    assert "progress:    4/9" in shown.output
    assert "attempts:    1 of 1" in shown.output
    assert "last error:\nRuntimeError: gate open is closed" in shown.output

    (gate_dir / "open").touch()
    retried = run(cem, "jobs", "retry", str(job_id))
    assert retried.exit_code == 0, retried.output
    assert f"Job {job_id} (test.fail_until) is queued again." in retried.output
    assert (load_job(db, job_id).status, load_job(db, job_id).attempts) == ("queued", 0)
    assert "Ran 1 job(s)." in run(cem, "worker", "--once").output
    assert load_job(db, job_id).status == "done"


def test_readable_errors(cem: CliRunner, db: Database) -> None:
    with db.unit_of_work() as session:
        queued = enqueue(session, "test.noop").id
    cases = [
        (("jobs", "show", "999999"), "Job 999999 does not exist."),
        (("jobs", "retry", "999999"), "Job 999999 does not exist."),
        (("jobs", "retry", str(queued)), f"Job {queued} is queued; only dead jobs can be retried."),
        (
            ("jobs", "list", "--status", "zombie"),
            "Unknown job status 'zombie'; use one of queued, running, done, dead.",
        ),
    ]
    for args, message in cases:
        result = run(cem, *args)
        assert result.exit_code == 2, (args, result.output)
        assert f"Error: {message}" in result.output
        assert "Traceback" not in result.output
    assert load_job(db, queued).status == "queued"


def test_schedules_are_listed_after_a_sync(cem: CliRunner, db: Database) -> None:
    assert "No schedules yet" in run(cem, "jobs", "schedules").output
    Worker(db).sync_schedules()
    listed = run(cem, "jobs", "schedules")
    assert listed.exit_code == 0
    assert "jobs.purge_finished" in listed.output and "0 3 * * *" in listed.output and "never" in listed.output
