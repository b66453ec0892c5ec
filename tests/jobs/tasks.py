"""Tasks used by the job tests, importable by worker subprocesses (`python -m tests.jobs.proc`).

Side effects go to `job_test_effect`, a table the tests create with SQLAlchemy Core (not part of cem's schema).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, insert

from cem.jobs.registry import PRIORITY_BULK, PRIORITY_INTERACTIVE, TaskContext, task

metadata = MetaData()
effects = Table(
    "job_test_effect",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Integer, nullable=False),
    Column("label", String(100), nullable=False),
    Column("pid", Integer, nullable=False),
)


def record_effect(ctx: TaskContext, label: str) -> None:
    ctx.session.execute(insert(effects).values(job_id=ctx.job_id, label=label, pid=os.getpid()))


def wait_for(path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        time.sleep(0.01)


@task("test.noop")
def noop(ctx: TaskContext) -> None:
    return None


@task("test.record")
def record(ctx: TaskContext, label: str, sleep: float = 0.0) -> dict[str, Any]:
    if sleep:  # "work" before the write, so SQLite's write lock is not held while sleeping
        time.sleep(sleep)
    record_effect(ctx, label)
    return {"label": label, "attempt": ctx.attempt}


@task("test.fail_until")
def fail_until(ctx: TaskContext, gate: str) -> None:
    """Fails (after writing an effect that must roll back) until the gate file exists."""
    record_effect(ctx, "fail_until")
    if not Path(gate).exists():
        raise RuntimeError(f"gate {Path(gate).name} is closed")


@task("test.once")
def once_effect(ctx: TaskContext, key: str, fail_first: bool = False) -> dict[str, bool]:
    """Does its side effect only if `key` was never used; optionally crashes after it on attempt 1."""
    did = ctx.once(key)
    if did:
        record_effect(ctx, key)
    if fail_first and ctx.attempt == 1:
        raise RuntimeError("crash after the side effect")
    return {"did": did}


@task("test.blocking", lease_seconds=1)
def blocking(ctx: TaskContext, gate_dir: str) -> None:
    """Writes its effect, says it started, then blocks until released (a worker can be killed meanwhile)."""
    record_effect(ctx, "blocking")
    gates = Path(gate_dir)
    (gates / f"started-{ctx.attempt}").touch()
    wait_for(gates / "release")


@task("test.long", lease_seconds=1)
def long_running(ctx: TaskContext, gate_dir: str) -> dict[str, int]:
    """Reports progress, then runs past its lease until released (the heartbeat must keep the lease)."""
    gates = Path(gate_dir)
    ctx.progress(3, 10, "three of ten")
    (gates / f"started-{ctx.attempt}").touch()
    wait_for(gates / "release")
    ctx.progress(10, 10, "all ten")
    return {"attempt": ctx.attempt}


@task("test.bad_result")
def bad_result(ctx: TaskContext) -> Any:
    return {"when": time}  # a module object is not JSON


@task("test.bulk", priority=PRIORITY_BULK)
def bulk(ctx: TaskContext, label: str, gate: str = "") -> dict[str, Any]:
    """Bulk work (like an enrichment backfill): with a gate, runs until the gate file exists."""
    if gate:
        wait_for(Path(gate), timeout=60)
    record_effect(ctx, label)
    return {"label": label}


@task("test.interactive", priority=PRIORITY_INTERACTIVE)
def interactive(ctx: TaskContext, label: str) -> dict[str, Any]:
    """Work a person waits for (like an import)."""
    record_effect(ctx, label)
    return {"label": label}
