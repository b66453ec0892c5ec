"""Durable job queue tables: jobs, side-effect idempotency keys, and cron schedules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cem.db.base import Base, BigIntPK, IdMixin, UTCDateTime, utcnow


class Job(IdMixin, Base):
    __tablename__ = "job"
    # The claim query's index: WHERE status = ... ORDER BY priority, run_at, id walks it in order (no sort).
    __table_args__ = (Index("ix_job_claim", "status", "priority", "run_at", "id"),)

    workspace_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"), nullable=True, index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    args: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # queued -> running -> done | (queued again with backoff) -> dead
    status: Mapped[str] = mapped_column(String(16), default="queued")
    # Lower runs first; set from the task's registered priority at enqueue time (see registry.PRIORITY_*).
    priority: Mapped[int] = mapped_column(SmallInteger, default=50, server_default="50")
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=5)
    run_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), nullable=True, unique=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    progress_current: Mapped[int] = mapped_column(default=0)
    progress_total: Mapped[int] = mapped_column(default=0)
    progress_message: Mapped[str] = mapped_column(String(500), default="")
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class JobEffect(Base):
    """A side effect that happened. Inserted in the same transaction as the effect's own writes,
    or checked before an external effect, so a retried job never repeats it."""

    __tablename__ = "job_effect"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    job_id: Mapped[int | None] = mapped_column(BigIntPK, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class JobSchedule(Base):
    """Cron-style recurring job; `next_run_at` is claimed atomically so only one scheduler fires it."""

    __tablename__ = "job_schedule"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    cron: Mapped[str] = mapped_column(String(100))
    job_name: Mapped[str] = mapped_column(String(100))
    args: Mapped[dict[str, Any]] = mapped_column(default=dict)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
