"""What conditions see: stored records grouped into submissions, with touchpoint, stage and customer attributes
read in the same query (one query per batch, whatever the number of rules)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from cem.cases.conditions import RecordFacts, SubmissionFacts
from cem.customers.models import Customer
from cem.feedback.models import FeedbackRecord
from cem.journeys.models import JourneyStage, Touchpoint

SubmissionKey = tuple[str, str, str]  # (source_type, source_name, submission_id)
PREVIEW_MAX_RECORDS = 100_000


def _query() -> Select[*tuple[Any, ...]]:
    fr = FeedbackRecord
    stmt: Select[*tuple[Any, ...]] = (
        select(
            fr.id,
            fr.source_type,
            fr.source_name,
            fr.submission_id,
            fr.customer_id,
            fr.field_id,
            fr.field_type,
            fr.value_number,
            fr.value_text,
            fr.sentiment_label,
            fr.sentiment_score,
            fr.topics,
            fr.collected_at,
            Touchpoint.key,
            JourneyStage.key,
            Customer.attributes,
        )
        .outerjoin(Touchpoint, Touchpoint.id == fr.touchpoint_id)
        .outerjoin(JourneyStage, JourneyStage.id == Touchpoint.stage_id)
        .outerjoin(Customer, Customer.id == fr.customer_id)
    )
    return stmt


def _group(rows: Iterable[Any]) -> dict[SubmissionKey, tuple[SubmissionFacts, datetime]]:
    grouped: dict[SubmissionKey, list[Any]] = {}
    for row in rows:
        grouped.setdefault((row[1], row[2], row[3]), []).append(row)
    result: dict[SubmissionKey, tuple[SubmissionFacts, datetime]] = {}
    for key, own in grouped.items():
        own.sort(key=lambda r: r[0])
        first = own[0]
        facts = SubmissionFacts(
            source_type=key[0],
            source_name=key[1],
            submission_id=key[2],
            customer_id=next((r[4] for r in own if r[4] is not None), None),
            touchpoint=next((r[13] for r in own if r[13] is not None), None),
            journey_stage=next((r[14] for r in own if r[14] is not None), None),
            customer_attributes=next((dict(r[15]) for r in own if r[15]), {}),
            records=[
                RecordFacts(
                    record_id=r[0],
                    field_id=r[5],
                    field_type=r[6],
                    value_number=r[7],
                    value_text=r[8],
                    sentiment_label=r[9],
                    sentiment_score=r[10],
                    topics=tuple(r[11] or ()),
                )
                for r in own
            ],
        )
        result[key] = (facts, max(r[12] for r in own) if own else first[12])
    return result


def submissions(session: Session, *, workspace_id: int, keys: Sequence[SubmissionKey]) -> list[SubmissionFacts]:
    """The named submissions as stored now (unknown ones are skipped: withdrawn since)."""
    wanted = set(keys)
    found: dict[SubmissionKey, tuple[SubmissionFacts, datetime]] = {}
    ids = sorted({k[2] for k in wanted})
    for start in range(0, len(ids), 500):
        stmt = _query().where(
            FeedbackRecord.workspace_id == workspace_id, FeedbackRecord.submission_id.in_(ids[start : start + 500])
        )
        rows = [r for r in session.execute(stmt) if (r[1], r[2], r[3]) in wanted]
        found.update(_group(rows))
    return [found[k][0] for k in keys if k in found]


def submissions_of_records(session: Session, *, workspace_id: int, record_ids: Sequence[int]) -> list[SubmissionKey]:
    fr = FeedbackRecord
    keys: set[SubmissionKey] = set()
    for start in range(0, len(record_ids), 500):
        stmt = select(fr.source_type, fr.source_name, fr.submission_id).where(
            fr.workspace_id == workspace_id, fr.id.in_(record_ids[start : start + 500])
        )
        keys.update((a, b, c) for a, b, c in session.execute(stmt))
    return sorted(keys)


def recent(
    session: Session, *, workspace_id: int, since: datetime
) -> tuple[list[tuple[SubmissionFacts, datetime]], bool]:
    """Submissions collected since `since`, newest first (at most PREVIEW_MAX_RECORDS records; True if cut)."""
    stmt = (
        _query()
        .where(FeedbackRecord.workspace_id == workspace_id, FeedbackRecord.collected_at >= since)
        .order_by(FeedbackRecord.collected_at.desc(), FeedbackRecord.id.desc())
        .limit(PREVIEW_MAX_RECORDS + 1)
    )
    rows = list(session.execute(stmt))
    truncated = len(rows) > PREVIEW_MAX_RECORDS
    grouped = _group(rows[:PREVIEW_MAX_RECORDS])
    return sorted(grouped.values(), key=lambda item: item[1], reverse=True), truncated
