"""Task registry: `@task("domain.verb")` registers a function the worker can run by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from cem.errors import NotFound

if TYPE_CHECKING:
    from cem.db.session import Database


@dataclass
class TaskContext:
    """What a running task gets besides its arguments."""

    session: Session
    job_id: int
    attempt: int
    progress: Callable[[int, int, str], None]
    # Long tasks (imports, backfills) commit in batches through their own units of work.
    db: Database

    def once(self, key: str) -> bool:
        """Claim a side-effect key in this job's transaction; False if it already happened.

        A DB side effect done after `once()` commits atomically with the claim, so a retry after a crash
        either sees both or neither.
        """
        from cem.jobs.models import JobEffect

        if self.session.get(JobEffect, key) is not None:
            return False
        self.session.add(JobEffect(key=key, job_id=self.job_id))
        self.session.flush()
        return True


TaskFn = Callable[..., dict[str, Any] | None]


@dataclass(frozen=True)
class Task:
    name: str
    fn: TaskFn
    # Seconds a claim stays valid; a worker that dies mid-job loses its claim after this.
    lease_seconds: int = 300


_TASKS: dict[str, Task] = {}


def task(name: str, *, lease_seconds: int = 300) -> Callable[[TaskFn], TaskFn]:
    """Register `fn(ctx, **args)` under `name`."""

    def register(fn: TaskFn) -> TaskFn:
        _TASKS[name] = Task(name=name, fn=fn, lease_seconds=lease_seconds)
        return fn

    return register


def get_task(name: str) -> Task:
    load_builtin_tasks()
    try:
        return _TASKS[name]
    except KeyError:
        raise NotFound(f"No background task is registered as {name!r}.") from None


def registered_names() -> list[str]:
    load_builtin_tasks()
    return sorted(_TASKS)


def load_builtin_tasks() -> None:
    """Import every module that declares tasks (idempotent)."""
    import cem.jobs.builtin_tasks  # noqa: F401
