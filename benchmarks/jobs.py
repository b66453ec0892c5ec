"""Job queue benchmark: throughput of `cem worker` processes on SQLite and PostgreSQL, and SIGKILL exactly-once.

1. N no-op jobs and N small-write jobs (each inserts one row in its own transaction), drained by 1 and by 2
   worker processes: jobs/s from the enqueue commit to the last job's finished_at (target >= 500/s on SQLite);
   the write runs also check that every job's row exists exactly once.
2. A worker is SIGKILLed mid-job (after its write, before its commit); a second worker retries the job once the
   lease ran out; the write must exist exactly once.

PostgreSQL: `--pg-url postgresql+psycopg://...` (a database `cem_bench_jobs` is created on that server), or by
default a throwaway server started with scripts/pg.sh on port $CEM_PG_PORT (54333); `--no-pg` skips it.

Usage: .venv/bin/python benchmarks/jobs.py [--jobs 2000] [--pg-url URL | --no-pg]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, delete, func, insert, select, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:  # runnable as a plain script from a checkout
    sys.path.insert(0, str(REPO / "src"))

from cem.config import Settings  # noqa: E402
from cem.db import migrate  # noqa: E402
from cem.db.base import utcnow  # noqa: E402
from cem.db.session import Database  # noqa: E402
from cem.jobs.models import Job  # noqa: E402
from cem.jobs.queue import enqueue, enqueue_many  # noqa: E402
from cem.jobs.registry import TaskContext, task  # noqa: E402

metadata = MetaData()
bench_effect = Table(
    "bench_effect",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Integer, nullable=False),
    Column("label", String(50), nullable=False),
)


@task("bench.noop")
def noop(ctx: TaskContext) -> None:
    """Does nothing: measures the queue's own cost per job."""


@task("bench.write")
def write(ctx: TaskContext, n: int) -> None:
    """One small insert inside the job's transaction."""
    ctx.session.execute(insert(bench_effect).values(job_id=ctx.job_id, label=f"w{n}"))


@task("bench.killable", lease_seconds=1)
def killable(ctx: TaskContext, gate_dir: str) -> None:
    """Writes, says so, then blocks until released; the benchmark kills the first attempt here."""
    ctx.session.execute(insert(bench_effect).values(job_id=ctx.job_id, label="killable"))
    gates = Path(gate_dir)
    (gates / f"started-{ctx.attempt}").touch()
    while not (gates / "release").exists():
        time.sleep(0.01)


# -- worker processes ---------------------------------------------------------------------------------
def worker_env(db_url: str, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CEM_DATABASE_URL": db_url,
        "CEM_DATA_DIR": str(data_dir),
        "CEM_ENV": "dev",
        "CEM_WORKER_POLL_SECONDS": "0.02",
        "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "src")]),
        "PYTHONUNBUFFERED": "1",
    }


def start_workers(count: int, env: dict[str, str]) -> list[subprocess.Popen[str]]:
    """Start `cem worker` processes (with the bench tasks) and wait until each polls the queue."""
    cmd = [sys.executable, "-m", "benchmarks.jobs", "--as-worker", "worker", "--batch-size", "50"]
    procs = [subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True) for _ in range(count)]
    for proc in procs:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "Worker running" not in line:
            raise RuntimeError(f"worker did not start: {line!r}")
    return procs


def stop_workers(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


# -- measurements -------------------------------------------------------------------------------------
def scalar(db: Database, stmt: Any) -> Any:
    with db.unit_of_work(readonly=True) as session:
        return session.scalar(stmt)


def reset(db: Database) -> None:
    with db.unit_of_work() as session:
        session.execute(delete(Job))
        session.execute(delete(bench_effect))


def throughput(db: Database, env: dict[str, str], kind: str, workers: int, jobs: int) -> tuple[float, str]:
    """jobs/s for `jobs` jobs of `kind` drained by `workers` processes, and an exactly-once verdict."""
    reset(db)
    procs = start_workers(workers, env)
    try:
        with db.unit_of_work() as session:
            args = [{} for _ in range(jobs)] if kind == "noop" else [{"n": i} for i in range(jobs)]
            enqueue_many(session, f"bench.{kind}", args)
        started = utcnow()
        done = select(func.count()).select_from(Job).where(Job.status == "done")
        wait_for(lambda: scalar(db, done) == jobs, timeout=120, what=f"{jobs} {kind} jobs")
    finally:
        stop_workers(procs)
    finished = scalar(db, select(func.max(Job.finished_at)))
    rate = jobs / max((finished - started).total_seconds(), 1e-6)
    if kind == "noop":
        return rate, "-"
    rows = scalar(db, select(func.count()).select_from(bench_effect))
    distinct = scalar(db, select(func.count(func.distinct(bench_effect.c.job_id))))
    return rate, "yes" if rows == distinct == jobs else f"NO ({rows} rows, {distinct} jobs)"


def sigkill_check(db: Database, env: dict[str, str]) -> str:
    """Kill a worker mid-job; another retries after the 1 s lease; the job's write must exist exactly once."""
    reset(db)
    with tempfile.TemporaryDirectory() as gates:
        with db.unit_of_work() as session:
            job_id = enqueue(session, "bench.killable", gate_dir=gates).id
        [victim] = start_workers(1, env)
        wait_for(lambda: (Path(gates) / "started-1").exists(), timeout=30, what="the first attempt")
        victim.kill()  # SIGKILL: no cleanup, the job's transaction never commits
        victim.wait()
        (Path(gates) / "release").touch()
        rescuers = start_workers(1, env)
        began = time.monotonic()
        try:
            status = select(Job.status).where(Job.id == job_id)
            wait_for(lambda: scalar(db, status) == "done", timeout=60, what="the retried job")
        finally:
            stop_workers(rescuers)
    attempts = scalar(db, select(Job.attempts).where(Job.id == job_id))
    rows = scalar(db, select(func.count()).select_from(bench_effect).where(bench_effect.c.job_id == job_id))
    verdict = "PASS" if rows == 1 and attempts == 2 else "FAIL"
    took = time.monotonic() - began
    return f"{verdict}: {rows} write(s), {attempts} attempts, done {took:.1f} s after a new worker started"


# -- backends -----------------------------------------------------------------------------------------
@contextmanager
def sqlite_backend() -> Iterator[tuple[str, Path]]:
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench-jobs.db'}", Path(tmp)


@contextmanager
def pg_backend(url: str | None) -> Iterator[tuple[str, Path]]:
    """A fresh `cem_bench_jobs` database on the given server, or on a throwaway one from scripts/pg.sh."""
    port = os.environ.get("CEM_PG_PORT", "54333")
    started = url is None
    if started:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", int(port))) == 0:
                raise SystemExit(
                    f"Port {port} is busy: pass --pg-url for that server, or set CEM_PG_PORT to a free port."
                )
        env = {**os.environ, "CEM_PG_PORT": port}
        url = subprocess.run(
            ["bash", "scripts/pg.sh", "start"], cwd=REPO, env=env, check=True, capture_output=True, text=True
        ).stdout.strip()
    assert url is not None
    target = make_url(url).set(database="cem_bench_jobs")
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text('DROP DATABASE IF EXISTS "cem_bench_jobs" WITH (FORCE)'))
        conn.execute(text('CREATE DATABASE "cem_bench_jobs"'))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            yield target.render_as_string(hide_password=False), Path(tmp)
    finally:
        with admin.connect() as conn:
            conn.execute(text('DROP DATABASE IF EXISTS "cem_bench_jobs" WITH (FORCE)'))
        admin.dispose()
        if started:
            subprocess.run(
                ["bash", "scripts/pg.sh", "stop"], cwd=REPO, env={**os.environ, "CEM_PG_PORT": port}, check=False
            )


def run_backend(name: str, url: str, data_dir: Path, jobs: int) -> list[str]:
    """Every measurement on one backend, as table rows."""
    db = Database(Settings(env="dev", data_dir=data_dir, database_url=url))
    migrate.upgrade(db.engine)
    metadata.create_all(db.engine)
    env = worker_env(url, data_dir)
    rows = []
    try:
        for kind in ("noop", "write"):
            for workers in (1, 2):
                rate, once = throughput(db, env, kind, workers, jobs)
                rows.append(f"| {name:<10} | {kind:<5} | {workers:>7} | {jobs:>6} | {rate:>8.0f} | {once:<12} |")
                print(rows[-1], flush=True)
        rows.append(f"| {name:<10} | SIGKILL exactly-once: {sigkill_check(db, env)}")
        print(rows[-1], flush=True)
    finally:
        db.dispose()
    return rows


HEADER = (
    "| store      | job   | workers |   jobs |   jobs/s | exactly once |\n"
    "|------------|-------|---------|--------|----------|--------------|"
)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark (argv defaults to none, so benchmarks/ingest.py can call `main()`)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2000, help="jobs per throughput run")
    parser.add_argument("--pg-url", default=None, help="PostgreSQL server URL (default: start one with scripts/pg.sh)")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args(argv or [])
    print(HEADER, flush=True)
    started = time.monotonic()
    with sqlite_backend() as (url, data_dir):
        run_backend("sqlite", url, data_dir, args.jobs)
    if not args.no_pg:
        with pg_backend(args.pg_url) as (url, data_dir):
            run_backend("postgresql", url, data_dir, args.jobs)
    print(f"\n(total {time.monotonic() - started:.0f} s on {os.cpu_count()} cores; target >= 500 jobs/s on SQLite)")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--as-worker"]:  # a worker process of this benchmark: `cem worker ...` with bench tasks
        from cem.cli import main as cem_main

        sys.argv = [sys.argv[0], *sys.argv[2:]]
        cem_main()
    else:
        main(sys.argv[1:])
