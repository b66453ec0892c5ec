"""Full-text search behind one interface: SQLite FTS5 (external content) or PostgreSQL tsvector.

The index objects themselves are created by migration 0002; this module builds the matching filter.
"""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, func, literal_column, text
from sqlalchemy.orm import Session

from cem.feedback.models import FeedbackRecord

_WORD = re.compile(r"\w+", re.UNICODE)


def _fts5_query(q: str) -> str:
    """User words -> an FTS5 query of quoted prefix terms, so operators in user input are inert."""
    words = _WORD.findall(q)
    return " ".join(f'"{w}"*' for w in words)


def _pg_query(q: str) -> str:
    """User words -> prefix terms joined by AND (`word:* & other:*`), with no operators from input."""
    return " & ".join(f"{w}:*" for w in _WORD.findall(q))


def text_match(session: Session, q: str) -> ColumnElement[bool] | None:
    """A WHERE clause matching records whose text contains every word of `q` (None if no words)."""
    if not _WORD.search(q):
        return None
    if session.get_bind().dialect.name == "postgresql":
        # Must match the expression index of migration 0002 exactly for PostgreSQL to use it.
        vector = func.to_tsvector(literal_column("'simple'"), func.cem_fts_text(FeedbackRecord.value_text))
        query = func.to_tsquery(literal_column("'simple'"), func.cem_fts_text(_pg_query(q)))
        return vector.op("@@")(query)
    return FeedbackRecord.id.in_(
        text("SELECT rowid FROM feedback_fts WHERE feedback_fts MATCH :fts_q").bindparams(fts_q=_fts5_query(q))
    )
