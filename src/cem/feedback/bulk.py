"""Fast bulk upsert of prepared feedback rows for file imports (same rows as `service.record_rows` makes).

Why a second path: at import volumes SQLAlchemy's per-row bind processing (JSON, UTC datetimes) costs
more than SQLite itself. On SQLite the rows are serialised once here, in the exact formats the ORM
types write, and handed to the driver's executemany. Other databases use the portable `upsert_rows`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session

from cem.db.upsert import upsert_rows
from cem.feedback.models import FeedbackRecord

COLUMNS = (
    "workspace_id",
    "source_type",
    "source_name",
    "submission_id",
    "customer_id",
    "touchpoint_id",
    "collected_at",
    "field_id",
    "field_label",
    "field_type",
    "value_number",
    "value_text",
    "value_bool",
    "value_date",
    "language",
    "metadata",
    "created_at",
    "updated_at",
)
# Columns a re-send overwrites (identity and created_at never change).
UPDATABLE = (
    "customer_id",
    "touchpoint_id",
    "collected_at",
    "field_label",
    "field_type",
    "value_number",
    "value_text",
    "value_bool",
    "value_date",
    "language",
    "metadata",
    "updated_at",
)
IDENTITY = ("workspace_id", "source_type", "source_name", "submission_id", "field_id")
KEEP_IF_NULL = ("customer_id", "touchpoint_id")


def _sqlite_upsert_sql() -> str:
    sets = ", ".join(
        f"{c} = coalesce(excluded.{c}, feedback_record.{c})" if c in KEEP_IF_NULL else f"{c} = excluded.{c}"
        for c in UPDATABLE
    )
    return (
        f"INSERT INTO feedback_record ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
        f"ON CONFLICT ({', '.join(IDENTITY)}) DO UPDATE SET {sets}"
    )


SQLITE_UPSERT = _sqlite_upsert_sql()
_EMPTY_JSON = "{}"
SQLITE_CACHE_KIB = 64 * 1024


def _sqlite_datetime(value: datetime) -> str:
    """UTCDateTime's stored form on SQLite: naive UTC, SQLAlchemy's DATETIME string format."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def _sqlite_params(row: dict[str, Any], stamp: str, times: dict[datetime, str]) -> tuple[Any, ...]:
    day: date | None = row["value_date"]
    flag: bool | None = row["value_bool"]
    meta = row["metadata"]
    at = row["collected_at"]
    at_text = times.get(at)
    if at_text is None:
        at_text = times[at] = _sqlite_datetime(at)
    return (
        row["workspace_id"],
        row["source_type"],
        row["source_name"],
        row["submission_id"],
        row["customer_id"],
        row["touchpoint_id"],
        at_text,
        row["field_id"],
        row["field_label"],
        row["field_type"],
        row["value_number"],
        row["value_text"],
        None if flag is None else int(flag),
        None if day is None else day.isoformat(),
        row["language"],
        json.dumps(meta) if meta else _EMPTY_JSON,
        stamp,
        stamp,
    )


def upsert_records(session: Session, *, rows: Sequence[dict[str, Any]], now: datetime) -> int:
    """Insert or update rows on their identity; the caller guarantees no identity repeats in `rows`."""
    if not rows:
        return 0
    if session.get_bind().dialect.name == "sqlite":
        stamp = _sqlite_datetime(now)
        conn = session.connection()
        # The default 2 MB page cache thrashes once the five feedback indexes outgrow it; 64 MB keeps
        # bulk inserts several times faster. It is per connection, so it only grows pooled connections.
        conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        times: dict[datetime, str] = {}  # collected_at values repeat a lot; format each once
        conn.exec_driver_sql(SQLITE_UPSERT, [_sqlite_params(r, stamp, times) for r in rows])
        return len(rows)
    upsert_rows(
        session,
        FeedbackRecord.__table__,  # type: ignore[arg-type]
        [{**r, "created_at": now, "updated_at": now} for r in rows],
        conflict=IDENTITY,
        update=UPDATABLE,
        keep_if_null=KEEP_IF_NULL,
    )
    return len(rows)
