"""Dialect-aware bulk upsert (INSERT ... ON CONFLICT DO UPDATE) for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def upsert_rows(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    conflict: Sequence[str],
    update: Sequence[str],
    keep_if_null: Sequence[str] = (),
) -> None:
    """Insert rows; on a conflict on `conflict` columns overwrite the `update` columns.

    Columns in `keep_if_null` keep their stored value when the new row leaves them empty, so a re-send
    that omits e.g. the customer does not unlink the record.
    """
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table)
    set_ = {c: func.coalesce(stmt.excluded[c], table.c[c]) if c in keep_if_null else stmt.excluded[c] for c in update}
    stmt = stmt.on_conflict_do_update(index_elements=list(conflict), set_=set_)
    session.execute(stmt, list(rows))
