"""After an erasure, no copy of the erased text may stay in the store's files or in the analytics snapshot.

Deleting rows is not enough on SQLite:
- FTS5 records a deletion as a tombstone in a new segment; the erased words stay in the older segments (and in the
  file, even after VACUUM) until those segments are merged. `optimize` merges every segment into one, dropping the
  erased entries. (FTS5's `secure-delete` option would remove them in place, but needs SQLite >= 3.44 and changes
  the index format so older SQLite builds cannot read the store; `optimize` works on every version.)
- Freed pages and cells keep their old bytes unless `secure_delete` is on: cem.db.session turns it on for every
  connection, so the pages freed by the erasure (and by any earlier update of the person's rows) are zeroed.
- The WAL keeps the pre-erasure pages until a checkpoint: `wal_checkpoint(TRUNCATE)` copies them back and empties it.
On PostgreSQL the feedback row (and so its tsvector) is gone with the DELETE; there are no files to scrub here.
The Parquet snapshot holds copies of customers and records: it is dropped, and the next reader rebuilds it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from cem.analytics.snapshot import Snapshot

log = logging.getLogger(__name__)


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def purge_text_index(session: Session) -> None:
    """In the erasing transaction: rewrite the FTS5 index so no segment holds the deleted or redacted words."""
    if _is_sqlite(session):
        session.execute(text("INSERT INTO feedback_fts(feedback_fts) VALUES ('optimize')"))


def checkpoint(session: Session) -> bool:
    """Copy the WAL into the database file and truncate it to zero bytes; whether it completed (SQLite only)."""
    engine = session.get_bind().engine
    raw = engine.raw_connection()  # outside SQLAlchemy's BEGIN: a checkpoint cannot run inside a transaction
    try:
        busy, _log_frames, _copied = raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        raw.close()
    if busy:
        # A reader kept an older snapshot open past the busy timeout; the next checkpoint overwrites the pages.
        log.warning("The WAL checkpoint after an erasure was blocked by a reader; the WAL was not truncated.")
    return not busy


def forget_after_commit(session: Session, snapshot_dir: Path | None) -> None:
    """Once the erasure commits: checkpoint the SQLite WAL and drop the Parquet snapshot."""

    def _forget(committed: Session) -> None:
        if _is_sqlite(committed):
            checkpoint(committed)
        if snapshot_dir is not None:
            Snapshot(snapshot_dir).invalidate()

    event.listen(session, "after_commit", _forget, once=True)
