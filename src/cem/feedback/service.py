"""The unified feedback store: idempotent ingest (through cem.feedback.writer), explorer search with keyset pages,
CSV export rows."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from cem.auth import audit
from cem.auth.principal import Principal
from cem.customers.models import Customer
from cem.db.base import utcnow
from cem.errors import NotFound
from cem.feedback.fulltext import SpanFinder, has_words, hide_spans, matching_ids, text_match
from cem.feedback.models import FeedbackRecord
from cem.feedback.schemas import FeedbackFilter, FeedbackIn, IngestResult
from cem.feedback.writer import FeedbackWriter, created_flags
from cem.journeys.models import Touchpoint
from cem.pagination import decode_cursor, encode_cursor


def ingest_feedback(session: Session, *, actor: Principal, records: Sequence[FeedbackIn]) -> IngestResult:
    """Store feedback records idempotently; the whole batch is one transaction (all or nothing).

    Later duplicates inside one batch win and count once.
    """
    writer = FeedbackWriter(session, now=utcnow())
    rows = writer.add_records(actor.workspace_id, records)
    created = sum(created_flags(rows, writer.flush(count_created=True)))
    result = IngestResult(accepted=len(rows), created=created, updated=len({r.key for r in rows}) - created)
    audit.record(session, actor, "feedback.ingest", entity_type="feedback_record", details=result.model_dump())
    return result


def ingest_each(session: Session, *, items: Sequence[tuple[Principal, FeedbackIn]]) -> list[IngestResult]:
    """Store single-record requests of one workspace in one transaction, with a result (and audit entry) each.

    The group-commit path (feedback/group_commit.py). A key sent twice in the batch is created by the first
    request and updated by the second, as if they had arrived one after the other.
    """
    writer = FeedbackWriter(session, now=utcnow())
    rows = writer.add_records(items[0][0].workspace_id, [record for _, record in items])
    stored = created_flags(rows, writer.flush(count_created=True))
    results = []
    for (actor, _), created in zip(items, stored, strict=True):
        result = IngestResult(accepted=1, created=int(created), updated=int(not created))
        audit.record(session, actor, "feedback.ingest", entity_type="feedback_record", details=result.model_dump())
        results.append(result)
    return results


def get_record(session: Session, *, workspace_id: int, record_id: int) -> FeedbackRecord:
    record = session.get(FeedbackRecord, record_id)
    if record is None or record.workspace_id != workspace_id:
        raise NotFound(f"Feedback record {record_id} does not exist.")
    return record


def _filtered(session: Session, workspace_id: int, flt: FeedbackFilter) -> Select[FeedbackRecord]:
    fr = FeedbackRecord
    stmt = select(fr).where(fr.workspace_id == workspace_id)
    simple = {
        "source_type": fr.source_type,
        "source_name": fr.source_name,
        "field_type": fr.field_type,
        "field_id": fr.field_id,
        "touchpoint_id": fr.touchpoint_id,
        "customer_id": fr.customer_id,
        # the record's channel, else its source type: what analytics' `channel` dimension groups by
        "channel": func.coalesce(fr.channel, fr.source_type),
        "agent": fr.agent,
        "team": fr.team,
    }
    for name, column in simple.items():
        value = getattr(flt, name)
        if value is not None:
            stmt = stmt.where(column == value)
    if flt.stage_id is not None:
        stmt = stmt.where(fr.touchpoint_id.in_(select(Touchpoint.id).where(Touchpoint.stage_id == flt.stage_id)))
    if flt.date_from is not None:
        stmt = stmt.where(fr.collected_at >= flt.date_from)
    if flt.date_to is not None:
        stmt = stmt.where(fr.collected_at < flt.date_to)
    if flt.score_min is not None:
        stmt = stmt.where(fr.value_number >= flt.score_min)
    if flt.score_max is not None:
        stmt = stmt.where(fr.value_number <= flt.score_max)
    if flt.attribute:
        attr = Customer.attributes[flt.attribute]
        match = attr.as_string() == flt.attribute_value if flt.attribute_value is not None else attr.is_not(None)
        stmt = stmt.where(fr.customer_id.in_(select(Customer.id).where(Customer.workspace_id == workspace_id, match)))
    if flt.q:
        clause = text_match(session, flt.q)
        if clause is not None:
            stmt = stmt.where(clause)
    return stmt


# Full-text search for callers who see some text masked (roles without pii:read, see cem.text.redaction): the index
# matches the stored text, so a viewer searching "jane.doe@example.com", "jane" or "0958" would learn that a record
# holds that email or phone although it shows "[EMAIL]" / "[PHONE]". Rejecting queries that look like personal data
# is not enough (a partial token such as a name or the last digits of a number does not look like any), so instead
# a candidate the index found is kept only if the query still matches its text with the hidden parts taken out,
# judged by the same engine (fulltext.matching_ids). Which records match then depends only on what the caller can
# see; records whose text hides nothing keep the index's verdict unchecked. Pages fill up by reading on in batches.
VISIBLE_BATCH = 500


def _visible(session: Session, q: str, candidates: Sequence[tuple[int, str | None]], hidden: SpanFinder) -> set[int]:
    """The ids among full-text candidates whose match does not rest on text the caller may not see."""
    keep: set[int] = set()
    check: dict[int, str] = {}
    for record_id, value in candidates:
        spans = hidden(value or "")
        if spans:
            check[record_id] = hide_spans(session, value or "", spans)
        else:
            keep.add(record_id)  # the caller sees this text whole: the index's match stands
    return keep | matching_ids(session, q, check)


def _after(stmt: Select[Any], at: datetime, last_id: int) -> Select[Any]:
    fr = FeedbackRecord
    return stmt.where(or_(fr.collected_at < at, and_(fr.collected_at == at, fr.id < last_id)))


def search(
    session: Session,
    *,
    workspace_id: int,
    flt: FeedbackFilter,
    cursor: str | None,
    limit: int,
    hidden: SpanFinder | None = None,
) -> tuple[list[FeedbackRecord], str | None]:
    """Newest first, keyset-paginated on (collected_at, id) so deep pages stay fast.

    `hidden` (cem.text.redaction.hidden_spans) is what the caller may not see: `q` then matches visible text only.
    """
    fr = FeedbackRecord
    stmt = _filtered(session, workspace_id, flt).order_by(fr.collected_at.desc(), fr.id.desc())
    after = decode_cursor(cursor)
    position = (datetime.fromisoformat(str(after[0])), int(after[1])) if after else None
    if hidden is not None and has_words(flt.q):
        rows = _visible_rows(session, stmt, str(flt.q), hidden, position, limit + 1)
    else:
        rows = list(session.scalars((_after(stmt, *position) if position else stmt).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor([last.collected_at.isoformat(), last.id])
    return rows[:limit], next_cursor


def _visible_rows(
    session: Session,
    stmt: Select[Any],
    q: str,
    hidden: SpanFinder,
    position: tuple[datetime, int] | None,
    want: int,
) -> list[FeedbackRecord]:
    """Up to `want` records of the ordered statement, from `position` on, that match `q` in visible text."""
    rows: list[FeedbackRecord] = []
    while len(rows) < want:
        batch = list(session.scalars((_after(stmt, *position) if position else stmt).limit(VISIBLE_BATCH)))
        keep = _visible(session, q, [(r.id, r.value_text) for r in batch], hidden)
        rows.extend(r for r in batch if r.id in keep)
        if len(batch) < VISIBLE_BATCH:
            break
        position = (batch[-1].collected_at, batch[-1].id)
    return rows[:want]


def _visible_ids(session: Session, workspace_id: int, flt: FeedbackFilter, hidden: SpanFinder) -> Iterator[int]:
    """Every id passing the filters whose `q` match lies in text the caller can see, walked by id in batches."""
    fr = FeedbackRecord
    stmt = _filtered(session, workspace_id, flt).with_only_columns(fr.id, fr.value_text).order_by(fr.id)
    last_id = 0
    while True:
        batch = [(int(i), t) for i, t in session.execute(stmt.where(fr.id > last_id).limit(VISIBLE_BATCH))]
        keep = _visible(session, str(flt.q), batch, hidden)
        yield from (record_id for record_id, _ in batch if record_id in keep)
        if len(batch) < VISIBLE_BATCH:
            return
        last_id = batch[-1][0]


def count(session: Session, *, workspace_id: int, flt: FeedbackFilter, hidden: SpanFinder | None = None) -> int:
    if hidden is not None and has_words(flt.q):
        return sum(1 for _ in _visible_ids(session, workspace_id, flt, hidden))
    sub = _filtered(session, workspace_id, flt).with_only_columns(FeedbackRecord.id).subquery()
    return int(session.scalar(select(func.count()).select_from(sub)) or 0)


EXPORT_COLUMNS = (
    "id",
    "source_type",
    "source_name",
    "submission_id",
    "customer_external_id",
    "customer_email",
    "touchpoint_id",
    "collected_at",
    "field_id",
    "field_label",
    "field_type",
    "value",
    "scale_min",
    "scale_max",
    "language",
    "channel",
    "agent",
    "team",
    "sentiment_label",
    "sentiment_score",
)


def export_rows(
    session: Session,
    *,
    workspace_id: int,
    flt: FeedbackFilter,
    batch: int = 2000,
    hidden: SpanFinder | None = None,
) -> Iterator[list[Any]]:
    """Every filtered record as a CSV row, streamed in keyset batches (constant memory)."""
    cursor: str | None = None
    while True:
        records, cursor = search(session, workspace_id=workspace_id, flt=flt, cursor=cursor, limit=batch, hidden=hidden)
        ids = {r.customer_id for r in records if r.customer_id}
        customers = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(ids)))} if ids else {}
        for r in records:
            c = customers.get(r.customer_id) if r.customer_id else None
            yield [
                r.id,
                r.source_type,
                r.source_name,
                r.submission_id,
                c.external_id if c else "",
                c.email if c else "",
                r.touchpoint_id or "",
                r.collected_at.isoformat(),
                r.field_id,
                r.field_label,
                r.field_type,
                export_value(r),
                export_number(r.scale_min),
                export_number(r.scale_max),
                r.language or "",
                r.channel or "",
                r.agent or "",
                r.team or "",
                r.sentiment_label or "",
                "" if r.sentiment_score is None else r.sentiment_score,
            ]
        if cursor is None:
            return


def export_value(record: FeedbackRecord) -> str | int | float:
    """The value for an export: numbers stay numbers (the export's formula guard escapes only text)."""
    if record.value_number is not None:
        return export_number(record.value_number)
    return display_value(record)


def export_number(n: float | None) -> str | int | float:
    """A number for an export: whole numbers without ".0", none as an empty cell."""
    if n is None:
        return ""
    return int(n) if n == int(n) else n


def display_value(record: FeedbackRecord) -> str:
    """The record's value as text, whichever typed column holds it."""
    if record.value_number is not None:
        n = record.value_number
        return str(int(n)) if n == int(n) else str(n)
    if record.value_bool is not None:
        return "true" if record.value_bool else "false"
    if record.value_date is not None:
        return record.value_date.isoformat()
    return record.value_text or ""


def for_customer(session: Session, *, workspace_id: int, customer_id: int, limit: int = 500) -> list[FeedbackRecord]:
    return list(
        session.scalars(
            select(FeedbackRecord)
            .where(FeedbackRecord.workspace_id == workspace_id, FeedbackRecord.customer_id == customer_id)
            .order_by(FeedbackRecord.collected_at.desc(), FeedbackRecord.id.desc())
            .limit(limit)
        )
    )


def for_submission(
    session: Session, *, workspace_id: int, source_type: str, source_name: str, submission_id: str
) -> list[FeedbackRecord]:
    """The answers of one submission in the order they were stored (question order)."""
    return list(
        session.scalars(
            select(FeedbackRecord)
            .where(
                FeedbackRecord.workspace_id == workspace_id,
                FeedbackRecord.source_type == source_type,
                FeedbackRecord.source_name == source_name,
                FeedbackRecord.submission_id == submission_id,
            )
            .order_by(FeedbackRecord.id)
        )
    )


def source_names(session: Session, *, workspace_id: int) -> list[str]:
    return list(
        session.scalars(
            select(FeedbackRecord.source_name)
            .where(FeedbackRecord.workspace_id == workspace_id)
            .distinct()
            .order_by(FeedbackRecord.source_name)
        )
    )


def filtered_ids(session: Session, *, workspace_id: int, flt: FeedbackFilter) -> Select[tuple[int]]:
    """The ids of records passing the explorer's filters."""
    return _filtered(session, workspace_id, flt).with_only_columns(FeedbackRecord.id)


def filtered_id_set(
    session: Session, *, workspace_id: int, flt: FeedbackFilter, hidden: SpanFinder | None = None
) -> set[int]:
    """The ids of records passing the explorer's filters, `q` matching visible text only when `hidden` is given
    (semantic search and similar feedback restrict their candidates to them)."""
    if hidden is not None and has_words(flt.q):
        return set(_visible_ids(session, workspace_id, flt, hidden))
    return set(session.scalars(filtered_ids(session, workspace_id=workspace_id, flt=flt)))
