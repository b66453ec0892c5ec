"""Fixtures for the job tests: the effect table, a controllable clock, and worker subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cem.config import Settings
from cem.db.base import utcnow
from cem.db.session import Database
from cem.jobs.models import Job
from tests.jobs.tasks import effects, metadata

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def _effect_schema(db: Database) -> Iterator[None]:
    # Created once: dropping and re-creating it per test changes the schema under pooled connections.
    metadata.create_all(db.engine)
    yield
    metadata.drop_all(db.engine)


@pytest.fixture
def effect_table(db: Database, _effect_schema: None) -> Iterator[None]:
    yield
    with db.engine.begin() as conn:
        conn.execute(effects.delete())


class Clock:
    """A clock the test moves by hand, for backoff and lease expiry."""

    def __init__(self) -> None:
        # A minute ahead, so jobs enqueued during the test (at the real now) are already due.
        self.now = utcnow() + timedelta(seconds=60)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gate_dir(tmp_path: Path) -> Path:
    path = tmp_path / "gates"
    path.mkdir()
    return path


def worker_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "CEM_DATABASE_URL": settings.resolved_database_url,
        "CEM_DATA_DIR": str(settings.data_dir),
        "CEM_ENV": "test",
        "CEM_WORKER_POLL_SECONDS": "0.05",
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture
def spawn_worker(settings: Settings) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start `cem worker` (with the test tasks) in a real process; waits until it polls. Killed at teardown."""
    procs: list[subprocess.Popen[str]] = []

    def spawn(*args: str, wait: bool = True) -> subprocess.Popen[str]:
        cmd = [sys.executable, "-m", "tests.jobs.proc", "worker", *args]
        proc = subprocess.Popen(cmd, cwd=REPO, env=worker_env(settings), stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        if wait:
            wait_ready(proc)
        return proc

    yield spawn
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def wait_ready(proc: subprocess.Popen[str]) -> None:
    """Block until a spawned worker printed "Worker running" (it polls from then on)."""
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "Worker running" in line, f"worker did not start: {line!r}"


def count_effects(db: Database, **where: object) -> int:
    with db.unit_of_work(readonly=True) as session:
        stmt = select(func.count()).select_from(effects)
        for column, value in where.items():
            stmt = stmt.where(effects.c[column] == value)
        return int(session.scalar(stmt) or 0)


def load_job(db: Database, job_id: int) -> Job:
    with db.unit_of_work(readonly=True) as session:
        return session.get_one(Job, job_id)


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
