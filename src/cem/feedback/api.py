"""Feedback records: ingest (one, bulk JSON, NDJSON), explorer search, CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse

from cem.api.body import StrictJsonRoute, read_items, validate_items
from cem.api.deps import DbSession, Exporter, Reader, Writer, get_settings
from cem.api.files import CSV, file_responses
from cem.feedback import service
from cem.feedback.group_commit import GroupCommit
from cem.feedback.schemas import FeedbackFilter, FeedbackIn, FeedbackRead, IngestResult
from cem.schemas import Id, Page
from cem.text.redaction import export_masker, hidden_spans, mask_reads

router = APIRouter(tags=["feedback"], route_class=StrictJsonRoute)

Filters = Annotated[FeedbackFilter, Depends()]


@router.post("/feedback", response_model=IngestResult, summary="Store one feedback record")
def create_feedback(request: Request, actor: Writer, record: FeedbackIn) -> IngestResult:
    """Idempotent on (source_type, source_name, submission_id, field_id): a re-send updates."""
    # The hottest write path: concurrent requests share transactions (group commit), and the answer is sent
    # only after the record's transaction has committed.
    group_commit: GroupCommit = request.app.state.feedback_group_commit
    return group_commit.submit(actor, record)


@router.post("/feedback/bulk", response_model=IngestResult, summary="Store many records (JSON array or NDJSON)")
async def bulk_feedback(request: Request, actor: Writer) -> IngestResult:
    """All-or-nothing: one invalid record rejects the batch, listing every error with its index."""
    items = validate_items(FeedbackIn, await read_items(request, max_items=get_settings(request).max_bulk_records))
    with request.app.state.db.unit_of_work() as session:
        return service.ingest_feedback(session, actor=actor, records=items)


@router.get("/feedback", response_model=Page[FeedbackRead], summary="Search and filter feedback")
def search_feedback(
    session: DbSession,
    actor: Reader,
    filters: Filters,
    cursor: str | None = None,
    limit: int = Query(default=50, ge=1, le=500),
) -> Page[FeedbackRead]:
    hidden = hidden_spans(session, actor)  # `q` matches only text the caller sees (masked personal data is not)
    rows, nxt = service.search(
        session, workspace_id=actor.workspace_id, flt=filters, cursor=cursor, limit=limit, hidden=hidden
    )
    items = mask_reads(session, actor, [FeedbackRead.model_validate(r) for r in rows])
    return Page(items=items, next_cursor=nxt)


@router.get(
    "/feedback/export.csv",
    summary="Export the filtered feedback as CSV",
    response_class=Response,
    responses=file_responses(CSV),
)
def export_feedback(request: Request, actor: Exporter, filters: Filters) -> StreamingResponse:
    db = request.app.state.db

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(service.EXPORT_COLUMNS)
        with db.unit_of_work(readonly=True) as session:
            mask = export_masker(session, actor, service.EXPORT_COLUMNS)  # personal data in text, unless pii:read
            hidden = hidden_spans(session, actor)  # ... which `q` must not match either
            for row in service.export_rows(session, workspace_id=actor.workspace_id, flt=filters, hidden=hidden):
                writer.writerow(mask(row))
                if buffer.tell() > 64_000:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue()

    headers = {"content-disposition": 'attachment; filename="feedback.csv"'}
    return StreamingResponse(generate(), media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/feedback/{record_id}", response_model=FeedbackRead, summary="Get one feedback record")
def get_feedback(session: DbSession, actor: Reader, record_id: Id) -> FeedbackRead:
    record = FeedbackRead.model_validate(
        service.get_record(session, workspace_id=actor.workspace_id, record_id=record_id)
    )
    return mask_reads(session, actor, [record])[0]
