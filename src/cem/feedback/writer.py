"""The one writer into the feedback store: every source's records reach feedback_record through a FeedbackWriter.

One writer per unit of work. Sources add typed rows (cem.hooks.rows.FeedbackRow), withdraw records whose answers
were taken back, and flush: one upsert statement for everything pending (a later row of the same identity wins),
then the `feedback_stored` hook (cem.hooks) per workspace in the same session, which is how text enrichment and
later domains learn of new feedback. Nothing commits here; the caller's unit of work does.

File imports encode their batches outside the transaction (`prepare`, in the import's reader thread) and add them
with `add_prepared`, so the write itself stays one statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cem import hooks
from cem.customers import service as customer_service
from cem.db.base import utcnow
from cem.feedback import bulk
from cem.feedback.models import FeedbackRecord
from cem.feedback.schemas import FeedbackIn, typed_value
from cem.hooks.rows import FeedbackRow, RowKey
from cem.journeys import service as journey_service


@dataclass(frozen=True, slots=True)
class PreparedRows:
    """Rows of one import batch (no identity repeated), encoded for the database before its transaction."""

    encoded: bulk.EncodedRows
    rows: Sequence[FeedbackRow]


def prepare(dialect: str, rows: Sequence[FeedbackRow], now: datetime) -> PreparedRows:
    """Encode rows for `FeedbackWriter.add_prepared` (cheap to call outside any transaction)."""
    return PreparedRows(bulk.encode_records(dialect, rows, now), rows)


def rows_for(session: Session, *, workspace_id: int, records: Sequence[FeedbackIn], now: datetime) -> list[FeedbackRow]:
    """Turn validated inputs into rows, resolving customers and touchpoints in bulk (unknown ones are an error)."""
    customer_ids = customer_service.customer_ids_for(session, workspace_id=workspace_id, items=records)
    touchpoints = journey_service.touchpoint_ids_by_key(
        session, workspace_id=workspace_id, keys={r.touchpoint for r in records if r.touchpoint}
    )
    rows = []
    for index, (rec, cid) in enumerate(zip(records, customer_ids, strict=True)):
        scale = rec.declared_scale()
        value = typed_value(rec.field_type, rec.value, scale)
        rows.append(
            FeedbackRow(
                workspace_id=workspace_id,
                source_type=rec.source_type,
                source_name=rec.source_name,
                submission_id=rec.submission_id,
                customer_id=cid,
                touchpoint_id=customer_service.touchpoint_id(touchpoints, rec.touchpoint, index),
                collected_at=rec.collected_at or now,
                field_id=rec.field_id,
                field_label=rec.field_label,
                field_type=rec.field_type,
                value_number=value.number,
                value_text=value.text,
                value_bool=value.boolean,
                value_date=value.day,
                language=rec.language,
                channel=rec.channel,
                agent=rec.agent,
                team=rec.team,
                metadata=rec.metadata,
                scale_min=scale.low if scale else None,
                scale_max=scale.high if scale else None,
            )
        )
    return rows


def created_flags(rows: Sequence[FeedbackRow], new: set[RowKey]) -> list[bool]:
    """Whether each row created its record: the first row of a new identity did, later ones updated it."""
    seen: set[RowKey] = set()
    flags = []
    for row in rows:
        key = row.key
        flags.append(key in new and key not in seen)
        seen.add(key)
    return flags


class FeedbackWriter:
    """Adds, withdraws and flushes feedback rows in one unit of work (see the module docstring).

    `now` stamps created_at/updated_at (and collected_at of inputs without one); None: the time of each flush.
    """

    def __init__(self, session: Session, *, now: datetime | None = None) -> None:
        self.session = session
        self.now = now
        self._pending: dict[RowKey, FeedbackRow] = {}
        self._prepared: list[PreparedRows] = []

    def add_records(self, workspace_id: int, records: Sequence[FeedbackIn]) -> list[FeedbackRow]:
        """Resolve validated inputs to rows (`rows_for`) and add them; returns the rows in input order."""
        rows = rows_for(self.session, workspace_id=workspace_id, records=records, now=self.now or utcnow())
        self.add(rows)
        return rows

    def add(self, rows: Iterable[FeedbackRow]) -> None:
        """Queue rows for the next flush; a row of an identity already pending replaces it."""
        for row in rows:
            key = row.key
            self._pending.pop(key, None)  # re-inserted: the statement writes rows in the order they were added
            self._pending[key] = row

    def add_prepared(self, prepared: PreparedRows) -> None:
        """Queue an import batch encoded beforehand (`prepare`)."""
        self._prepared.append(prepared)

    def withdraw(
        self, *, workspace_id: int, source_type: str, source_name: str, submission_id: str, field_ids: Sequence[str]
    ) -> None:
        """Delete the records of these fields of one submission (answers taken back); rows added before are
        written first, so the delete sees them."""
        self.flush()
        self.session.execute(
            delete(FeedbackRecord).where(
                FeedbackRecord.workspace_id == workspace_id,
                FeedbackRecord.source_type == source_type,
                FeedbackRecord.source_name == source_name,
                FeedbackRecord.submission_id == submission_id,
                FeedbackRecord.field_id.in_(field_ids),
            )
        )

    def flush(self, *, count_created: bool = False) -> set[RowKey]:
        """Write everything pending, then call `feedback_stored` per workspace.

        With `count_created`, returns the identities that had no record before (one query more); else an empty set.
        """
        rows = list(self._pending.values())
        prepared, self._pending, self._prepared = self._prepared, {}, []
        if not rows and not prepared:
            return set()
        new = self._new_keys(rows) if count_created else set()
        if rows:
            bulk.upsert_records(self.session, rows=rows, now=self.now or utcnow())
        for batch in prepared:
            bulk.write_encoded(self.session, batch.encoded)
            rows.extend(batch.rows)
        by_workspace: dict[int, list[FeedbackRow]] = {}
        for row in rows:
            by_workspace.setdefault(row.workspace_id, []).append(row)
        for workspace_id, own in by_workspace.items():
            hooks.feedback_stored(self.session, workspace_id=workspace_id, rows=own)
        return new

    def _new_keys(self, rows: Sequence[FeedbackRow]) -> set[RowKey]:
        keys = {row.key for row in rows}
        fr = FeedbackRecord
        found: set[RowKey] = set()
        for workspace_id in {key[0] for key in keys}:
            submissions = {key[3] for key in keys if key[0] == workspace_id}
            stmt = select(fr.workspace_id, fr.source_type, fr.source_name, fr.submission_id, fr.field_id).where(
                fr.workspace_id == workspace_id, fr.submission_id.in_(submissions)
            )
            found.update((int(w), s, n, sub, f) for w, s, n, sub, f in self.session.execute(stmt))
        return keys - found
