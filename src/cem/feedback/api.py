"""Feedback records: ingest (one, bulk JSON, NDJSON), explorer search, CSV export."""

from __future__ import annotations

import io
import itertools
import logging
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse

from cem.api.body import StrictJsonRoute, read_items, validate_items
from cem.api.deps import DbSession, Exporter, Reader, Writer, get_settings
from cem.api.files import CSV, file_responses
from cem.auth.principal import Principal
from cem.db.session import Database
from cem.exports_safety import csv_writer
from cem.feedback import service
from cem.feedback.group_commit import GroupCommit
from cem.feedback.schemas import FeedbackFilter, FeedbackIn, FeedbackRead, IngestResult
from cem.schemas import Id, Page
from cem.text.redaction import export_masker, hidden_spans, mask_reads

router = APIRouter(tags=["feedback"], route_class=StrictJsonRoute)
log = logging.getLogger("cem.api")

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
    """Streamed in constant memory. Every parameter is checked, and the first rows read, before the status
    line is sent, so a bad filter is an error response, never an HTTP 200 with a cut-off file; a failure after
    that ends the file with an error line and aborts the connection (see `_fail_visibly`)."""
    chunks = _export_chunks(request.app.state.db, actor, filters)
    first = next(chunks)  # runs the filtered query now, while an error can still become a proper response
    headers = {"content-disposition": 'attachment; filename="feedback.csv"'}
    return StreamingResponse(
        _fail_visibly(itertools.chain([first], chunks)), media_type="text/csv; charset=utf-8", headers=headers
    )


EXPORT_CHUNK_CHARS = 64_000


def _export_chunks(db: Database, actor: Principal, filters: FeedbackFilter) -> Iterator[str]:
    """The CSV in chunks of about EXPORT_CHUNK_CHARS; the first holds the header and the first rows."""
    buffer = io.StringIO()
    writer = csv_writer(buffer)
    writer.writerow(service.EXPORT_COLUMNS)
    with db.unit_of_work(readonly=True) as session:
        mask = export_masker(session, actor, service.EXPORT_COLUMNS)  # personal data in text, unless pii:read
        hidden = hidden_spans(session, actor)  # ... which `q` must not match either
        for row in service.export_rows(session, workspace_id=actor.workspace_id, flt=filters, hidden=hidden):
            writer.writerow(mask(row))
            if buffer.tell() > EXPORT_CHUNK_CHARS:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


EXPORT_FAILED_LINE = "# EXPORT FAILED: this file is incomplete ({reason}); download it again.\r\n"


def _fail_visibly(chunks: Iterator[str]) -> Iterator[str]:
    """A failure once the 200 and some rows are sent must not look like a complete file.

    The status line cannot be taken back, so: a last line saying the file is incomplete (for whoever opens it),
    then the exception goes on to the server, which drops the connection without the final empty chunk of the
    chunked body. That is what HTTP clients notice: curl exits 18, browsers mark the download failed, requests
    and httpx raise an incomplete-read error.
    """
    try:
        yield from chunks
    except Exception as exc:
        log.exception("feedback export failed after the response had started")
        yield EXPORT_FAILED_LINE.format(reason=type(exc).__name__)
        raise


@router.get("/feedback/{record_id}", response_model=FeedbackRead, summary="Get one feedback record")
def get_feedback(session: DbSession, actor: Reader, record_id: Id) -> FeedbackRead:
    record = FeedbackRead.model_validate(
        service.get_record(session, workspace_id=actor.workspace_id, record_id=record_id)
    )
    return mask_reads(session, actor, [record])[0]
