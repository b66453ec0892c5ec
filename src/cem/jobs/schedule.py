"""Cron-style schedules: declared in code, synced into `job_schedule` rows when a worker starts.

Cron expressions are evaluated in UTC. A schedule that was due while no worker ran fires once when a worker
comes back (no catch-up storm), then follows its cron again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from croniter import croniter
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cem.errors import CEMError
from cem.jobs.models import JobSchedule
from cem.jobs.queue import enqueue
from cem.jobs.registry import JobArgsError, check_json_args, register_pending

log = logging.getLogger("cem.worker")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Schedule:
    name: str
    cron: str
    job_name: str
    args: dict[str, Any] = field(default_factory=dict)


_SCHEDULES: dict[str, Schedule] = {}


def register_schedule(name: str, *, cron: str, job_name: str | None = None, **args: Any) -> Schedule:
    """Declare that `job_name` (default: `name`) runs with `args` whenever `cron` (UTC) matches."""
    if not croniter.is_valid(cron):
        raise JobArgsError(f"Schedule {name!r} has an invalid cron expression {cron!r}.")
    check_json_args(name, args)
    schedule = Schedule(name=name, cron=cron, job_name=job_name or name, args=args)
    _SCHEDULES[name] = schedule
    return schedule


def unregister_schedule(name: str) -> None:
    """Forget a declared schedule (its row goes at the next sync)."""
    _SCHEDULES.pop(name, None)


def periodic(job_name: str, *, cron: str, name: str | None = None, **args: Any) -> Callable[[F], F]:
    """Decorator form of `register_schedule`, placed above `@task(job_name)`."""

    def register(fn: F) -> F:
        register_schedule(name or job_name, cron=cron, job_name=job_name, **args)
        return fn

    return register


def schedules() -> list[Schedule]:
    """Every declared schedule (of the tasks the registered plugins contribute), sorted by name."""
    register_pending()
    return sorted(_SCHEDULES.values(), key=lambda s: s.name)


def next_after(cron: str, moment: datetime) -> datetime:
    """The first time after `moment` that `cron` matches (UTC)."""
    result: datetime = croniter(cron, moment).get_next(datetime)
    return result


def sync_schedules(session: Session, *, now: datetime) -> None:
    """Make `job_schedule` match the declared schedules; safe when several workers start at once."""
    declared = schedules()
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for s in declared:
        row = {"name": s.name, "cron": s.cron, "job_name": s.job_name, "args": s.args}
        session.execute(insert(JobSchedule).values(**row, next_run_at=next_after(s.cron, now)).on_conflict_do_nothing())
        # A changed cron restarts from now; a changed job or args applies at the next firing.
        session.execute(
            update(JobSchedule)
            .where(JobSchedule.name == s.name, JobSchedule.cron != s.cron)
            .values(cron=s.cron, next_run_at=next_after(s.cron, now))
        )
        session.execute(update(JobSchedule).where(JobSchedule.name == s.name).values(job_name=s.job_name, args=s.args))
    session.execute(delete(JobSchedule).where(JobSchedule.name.not_in([s.name for s in declared])))


def due_schedule_names(session: Session, *, now: datetime) -> list[str]:
    """Names of schedules whose time has come (a cheap read before taking the write lock)."""
    return list(session.scalars(select(JobSchedule.name).where(JobSchedule.next_run_at <= now)))


def fire_due_schedules(session: Session, *, now: datetime) -> int:
    """Enqueue every due schedule once: a compare-and-set on next_run_at lets only one worker fire it."""
    fired = 0
    for sched in session.scalars(select(JobSchedule).where(JobSchedule.next_run_at <= now)).all():
        claimed = session.execute(
            update(JobSchedule)
            .where(JobSchedule.name == sched.name, JobSchedule.next_run_at == sched.next_run_at)
            .values(next_run_at=next_after(sched.cron, now), last_run_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount == 1:  # type: ignore[attr-defined]
            # The dedupe key is a second guard: one job per schedule and due time, whatever happens.
            key = f"schedule:{sched.name}:{sched.next_run_at.isoformat()}"
            try:
                enqueue(session, sched.job_name, dedupe_key=key, **sched.args)
            except CEMError as exc:  # a broken schedule must not block the others; it fires again next time
                log.error("schedule %s cannot enqueue %s: %s", sched.name, sched.job_name, exc.detail)
                continue
            fired += 1
    return fired
