"""Dialect-aware bulk upsert (INSERT ... ON CONFLICT DO UPDATE) for SQLite and PostgreSQL."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable


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
    stmt = _upsert_statement(dialect, table, tuple(conflict), tuple(update), tuple(keep_if_null))
    session.execute(stmt, list(rows))


def insert_ignoring_conflicts(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING: a row another transaction just created is left as it is."""
    if rows:
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        session.execute(insert(table).on_conflict_do_nothing(), list(rows))


@functools.lru_cache(maxsize=64)
def _upsert_statement(
    dialect: str, table: Table, conflict: tuple[str, ...], update: tuple[str, ...], keep_if_null: tuple[str, ...]
) -> Executable:
    """Built once per shape: constructing the statement costs more than executing it for one row."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table)
    set_ = {c: func.coalesce(stmt.excluded[c], table.c[c]) if c in keep_if_null else stmt.excluded[c] for c in update}
    return stmt.on_conflict_do_update(index_elements=list(conflict), set_=set_)
