"""Task registry: `@task("domain.verb")` registers a function the worker can run by name.

A domain's tasks module is imported by its plugin (e.g. cem/text/plugin.py), which contributes the tasks through
the `job_tasks` hook; the composition roots register the plugins (cem.plugins), so every process that runs or
enqueues jobs knows the same tasks.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cem.errors import CEMError, NotFound
from cem.jobs.models import JobEffect

if TYPE_CHECKING:
    from cem.db.session import Database

MAX_EFFECT_KEY = 300

# Job priorities: lower runs first (workers claim ORDER BY priority, run_at). A person is waiting for an
# interactive job (an import, a discovery run, a send they started); bulk jobs are backfills that may take hours
# and must never hold one up. Workers with reserved capacity (`Worker(max_priority=PRIORITY_NORMAL)`) never take
# bulk jobs, so a long bulk job cannot occupy every slot.
PRIORITY_INTERACTIVE = 0
PRIORITY_NORMAL = 50
PRIORITY_BULK = 100


class JobArgsError(CEMError, TypeError, status_code=400, code="invalid_job_args"):
    """Job arguments that are not JSON values or do not fit the task's signature (a programming error)."""


@dataclass
class TaskContext:
    """What a running task gets besides its arguments.

    `session` is the job's own transaction: its writes commit together with the job's "done" mark, so a
    retried job never sees half of them. Long tasks (imports, backfills) instead commit in batches through
    `db.unit_of_work()`; on SQLite they must not write through `session` before that, since `session`
    would then hold the single write lock the batches need.
    """

    session: Session
    job_id: int
    attempt: int
    progress: Callable[[int, int, str], None]
    db: Database
    workspace_id: int | None = None

    def once(self, key: str) -> bool:
        """Claim a side-effect key in this job's transaction; False if it already happened.

        A DB side effect done after `once()` commits atomically with the claim, so a retry after a crash
        either sees both or neither. INSERT ... ON CONFLICT DO NOTHING (not SELECT-then-INSERT) makes a
        concurrent duplicate wait for the first transaction's outcome instead of failing with an error.
        """
        if not key or len(key) > MAX_EFFECT_KEY:
            raise JobArgsError(f"An idempotency key must be 1-{MAX_EFFECT_KEY} characters, got {len(key)}.")
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(JobEffect).values(key=key, job_id=self.job_id).on_conflict_do_nothing()
        # RETURNING, not rowcount: psycopg reports -1 for ON CONFLICT DO NOTHING.
        return self.session.execute(stmt.returning(JobEffect.key)).scalar_one_or_none() is not None


TaskFn = Callable[..., dict[str, Any] | None]


@dataclass(frozen=True)
class Task:
    name: str
    fn: TaskFn
    # Seconds a claim stays valid without a heartbeat; a worker that dies mid-job loses its claim after this.
    lease_seconds: int = 300
    # Stored on each job at enqueue time (see PRIORITY_*): what the claim query orders by.
    priority: int = PRIORITY_NORMAL
    signature: inspect.Signature = field(compare=False, default=inspect.Signature())

    def args_problem(self, args: dict[str, Any]) -> str | None:
        """Why `args` cannot be passed to this task, or None when they fit its signature."""
        try:
            self.signature.bind(None, **args)
        except TypeError as exc:
            return f"Arguments {sorted(args)} do not match task {self.usage()}: {exc}."
        return None

    def usage(self) -> str:
        """`name(arg, opt=default)`: the task's parameters after the context, without annotations."""
        params = list(self.signature.parameters.values())[1:]
        shown = [p.replace(annotation=inspect.Parameter.empty) for p in params]
        return f"{self.name}({', '.join(str(p) for p in shown)})"


_TASKS: dict[str, Task] = {}
# Task contributions not asked for yet (cem.plugins.install): a plugin whose tasks module is slow to import
# (topics load scikit-learn) then costs nothing to a command that never runs or lists its tasks.
_LATER: list[Callable[[], Iterable[Task]]] = []


def task(name: str, *, lease_seconds: int = 300, priority: int = PRIORITY_NORMAL) -> Callable[[TaskFn], TaskFn]:
    """Register `fn(ctx, **args)` under `name`; its jobs run at `priority` (PRIORITY_INTERACTIVE ... PRIORITY_BULK)."""
    if lease_seconds < 1:
        raise ValueError("lease_seconds must be at least 1")
    check_priority(priority)

    def declare(fn: TaskFn) -> TaskFn:
        signature = inspect.signature(fn)
        register(Task(name=name, fn=fn, lease_seconds=lease_seconds, priority=priority, signature=signature))
        return fn

    return declare


def register(*tasks: Task) -> None:
    """Make tasks runnable by name (a name declared again is replaced)."""
    for found in tasks:
        _TASKS[found.name] = found


def register_later(source: Callable[[], Iterable[Task]]) -> None:
    """Register the tasks `source` returns when a task name is not found, or the full list is wanted."""
    _LATER.append(source)


def register_pending() -> None:
    """Ask every source given to `register_later` for its tasks now (once)."""
    while _LATER:
        register(*_LATER.pop(0)())


def declared_in(module: ModuleType) -> list[Task]:
    """The tasks whose functions `module` defines (what a plugin contributes through the `job_tasks` hook)."""
    return [t for t in _TASKS.values() if t.fn.__module__ == module.__name__]


def check_priority(priority: int) -> None:
    """Priorities are small integers (a SMALLINT column), lower first."""
    if not PRIORITY_INTERACTIVE <= priority <= PRIORITY_BULK:
        raise JobArgsError(f"A job priority must be {PRIORITY_INTERACTIVE}-{PRIORITY_BULK}, got {priority}.")


def find_task(name: str) -> Task | None:
    """The registered task, or None (the worker dead-letters jobs of a task that no longer exists)."""
    if name not in _TASKS:
        register_pending()
    return _TASKS.get(name)


def get_task(name: str) -> Task:
    """The registered task; NotFound for an unknown name."""
    found = find_task(name)
    if found is None:
        raise NotFound(f"No background task is registered as {name!r}.")
    return found


def registered_names() -> list[str]:
    """Names of every registered task, sorted."""
    register_pending()
    return sorted(_TASKS)


def json_problem(value: Any, path: str) -> str | None:
    """Why `value` is not a plain JSON value (str, int, float, bool, None, list, dict), or None if it is."""
    if value is None or isinstance(value, str | bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{path} is {value!r}, which JSON cannot store"
    if isinstance(value, list):
        return next((p for i, v in enumerate(value) if (p := json_problem(v, f"{path}[{i}]"))), None)
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{path} has a non-string key {key!r}"
            if problem := json_problem(item, f"{path}[{key!r}]"):
                return problem
        return None
    hint = "use a list" if isinstance(value, tuple | set) else "pass its id or a JSON value instead"
    return f"{path} is a {type(value).__name__} ({hint})"


def check_json_args(name: str, args: dict[str, Any]) -> None:
    """Reject arguments that would not survive a round trip through the jobs table."""
    for key, value in args.items():
        if problem := json_problem(value, key):
            raise JobArgsError(
                f"Job {name!r} argument {problem}: jobs take ids and JSON values "
                "(str, int, float, bool, None, list, dict), never objects."
            )
