"""Full-text search over feedback text: SQLite FTS5 external-content table, PostgreSQL GIN tsvector index.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_UP = [
    """CREATE VIRTUAL TABLE feedback_fts USING fts5(
           value_text, content='feedback_record', content_rowid='id', tokenize='unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER feedback_fts_ai AFTER INSERT ON feedback_record WHEN new.value_text IS NOT NULL BEGIN
           INSERT INTO feedback_fts(rowid, value_text) VALUES (new.id, new.value_text);
       END""",
    """CREATE TRIGGER feedback_fts_ad AFTER DELETE ON feedback_record WHEN old.value_text IS NOT NULL BEGIN
           INSERT INTO feedback_fts(feedback_fts, rowid, value_text) VALUES ('delete', old.id, old.value_text);
       END""",
    """CREATE TRIGGER feedback_fts_au AFTER UPDATE OF value_text ON feedback_record BEGIN
           INSERT INTO feedback_fts(feedback_fts, rowid, value_text)
               SELECT 'delete', old.id, old.value_text WHERE old.value_text IS NOT NULL;
           INSERT INTO feedback_fts(rowid, value_text)
               SELECT new.id, new.value_text WHERE new.value_text IS NOT NULL;
       END""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS feedback_fts_au",
    "DROP TRIGGER IF EXISTS feedback_fts_ad",
    "DROP TRIGGER IF EXISTS feedback_fts_ai",
    "DROP TABLE IF EXISTS feedback_fts",
]
# unaccent makes "rapida" find "rápida" as FTS5's remove_diacritics does; the wrapper is IMMUTABLE so
# it can back an expression index (unaccent itself is only STABLE).
PG_UP = [
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    """CREATE OR REPLACE FUNCTION cem_fts_text(value text) RETURNS text
           LANGUAGE sql IMMUTABLE PARALLEL SAFE
           AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, coalesce(value, '')) $$""",
    """CREATE INDEX ix_feedback_record_fts ON feedback_record
           USING gin (to_tsvector('simple', cem_fts_text(value_text)))""",
]
PG_DOWN = ["DROP INDEX IF EXISTS ix_feedback_record_fts", "DROP FUNCTION IF EXISTS cem_fts_text(text)"]


def _run(statements: list[str]) -> None:
    for sql in statements:
        op.execute(sql)


def upgrade() -> None:
    _run(PG_UP if op.get_bind().dialect.name == "postgresql" else SQLITE_UP)


def downgrade() -> None:
    _run(PG_DOWN if op.get_bind().dialect.name == "postgresql" else SQLITE_DOWN)
