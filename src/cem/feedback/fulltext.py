"""Full-text search behind one interface: SQLite FTS5 (external content) or PostgreSQL tsvector.

The index objects themselves are created by migration 0002; this module builds the matching filter, and judges
texts that are not stored (a record's text with what the caller may not see taken out) with the same engine.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Mapping, Sequence

from sqlalchemy import ColumnElement, bindparam, func, literal_column, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import BigInteger, Text

from cem.feedback.models import FeedbackRecord

_WORD = re.compile(r"\w+", re.UNICODE)
# The tokenizer of migration 0002's feedback_fts table (tests check they agree).
SQLITE_TOKENIZE = "unicode61 remove_diacritics 2"
# Whitespace ends a token for both engines, whatever surrounds it: FTS5 splits on every non-alphanumeric character,
# and PostgreSQL's parser never reads a token (email, host, URL, hyphenated word...) across a space.
_CHUNK = re.compile(r"[^ \t\n\r\f\v]+")
# Stands in for hidden text: a token, so words on either side never become adjacent (a phrase such as "foo_bar" must
# not match across it), that no query term can match (query terms are \w runs). FTS5 indexes private-use characters
# (category Co) as token characters and \w never matches one; PostgreSQL reads "+0" as a signed integer, a lexeme
# no term made of letters, digits and "_" is a prefix of.
_HIDDEN_TOKEN = {"sqlite": "\ue000", "postgresql": "+0"}

# Where a caller may not see a record's text: (start, end) character spans, end exclusive.
SpanFinder = Callable[[str], Sequence[tuple[int, int]]]


def _fts5_query(q: str) -> str:
    """User words -> an FTS5 query of quoted prefix terms, so operators in user input are inert."""
    words = _WORD.findall(q)
    return " ".join(f'"{w}"*' for w in words)


def _pg_query(q: str) -> str:
    """User words -> prefix terms joined by AND (`word:* & other:*`), with no operators from input."""
    return " & ".join(f"{w}:*" for w in _WORD.findall(q))


def has_words(q: str | None) -> bool:
    """Whether `q` filters anything (a query without words matches every record)."""
    return bool(q) and _WORD.search(q or "") is not None


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def text_match(session: Session, q: str) -> ColumnElement[bool] | None:
    """A WHERE clause matching records whose text contains every word of `q` (None if no words)."""
    if not _WORD.search(q):
        return None
    if _is_postgresql(session):
        # Must match the expression index of migration 0002 exactly for PostgreSQL to use it.
        vector = func.to_tsvector(literal_column("'simple'"), func.cem_fts_text(FeedbackRecord.value_text))
        query = func.to_tsquery(literal_column("'simple'"), func.cem_fts_text(_pg_query(q)))
        return vector.op("@@")(query)
    return FeedbackRecord.id.in_(
        text("SELECT rowid FROM feedback_fts WHERE feedback_fts MATCH :fts_q").bindparams(fts_q=_fts5_query(q))
    )


def hide_spans(session: Session, value: str, spans: Sequence[tuple[int, int]]) -> str:
    """The text with every whitespace-delimited chunk touching a span replaced by a token no query matches.

    Whole chunks go, not just the spans: the engine tokenizes what is left exactly as it tokenized those chunks in
    the stored text, so a query matching the result also matches the stored text (the index's candidates are a
    superset), and an edge such as "0958abc" (a phone glued to a word) cannot turn into a new token "abc".
    """
    token = _HIDDEN_TOKEN["postgresql" if _is_postgresql(session) else "sqlite"]
    parts: list[str] = []
    cursor = 0
    for chunk in _CHUNK.finditer(value):
        if any(start < chunk.end() and chunk.start() < end for start, end in spans):
            parts.append(value[cursor : chunk.start()])
            parts.append(token)
            cursor = chunk.end()
    parts.append(value[cursor:])
    return "".join(parts)


def matching_ids(session: Session, q: str, texts: Mapping[int, str]) -> set[int]:
    """Which of these texts (keyed by record id; not the stored ones) match `q`, judged by the same engine and query
    as text_match(): PostgreSQL evaluates them in place, SQLite through a throwaway in-memory FTS5 table."""
    if not _WORD.search(q):
        return set(texts)
    if not texts:
        return set()
    if _is_postgresql(session):
        stmt = text(
            "SELECT v.id FROM unnest(:ids, :bodies) AS v(id, body) WHERE "
            "to_tsvector('simple', cem_fts_text(v.body)) @@ to_tsquery('simple', cem_fts_text(:query))"
        ).bindparams(
            bindparam("ids", type_=ARRAY(BigInteger())),
            bindparam("bodies", type_=ARRAY(Text())),
        )
        rows = session.execute(stmt, {"ids": list(texts), "bodies": list(texts.values()), "query": _pg_query(q)})
        return {int(row[0]) for row in rows}
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute(f"CREATE VIRTUAL TABLE t USING fts5(value_text, tokenize='{SQLITE_TOKENIZE}')")
        connection.executemany("INSERT INTO t(rowid, value_text) VALUES (?, ?)", texts.items())
        found = connection.execute("SELECT rowid FROM t WHERE t MATCH ?", (_fts5_query(q),))
        return {int(row[0]) for row in found}
    finally:
        connection.close()
