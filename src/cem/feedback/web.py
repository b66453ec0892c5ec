"""The feedback explorer: filters, full-text search, keyset pages, total count and a CSV export link."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from cem.api.deps import get_db
from cem.auth.permissions import Permission
from cem.customers import service as customer_service
from cem.errors import CEMError
from cem.feedback import service
from cem.feedback.fulltext import SpanFinder
from cem.feedback.models import SOURCE_TYPES
from cem.feedback.schemas import FeedbackFilter
from cem.journeys import service as journey_service
from cem.text.redaction import hidden_spans, text_view
from cem.web.deps import PageReader, render
from cem.web.forms import validation_message

router = APIRouter()

PAGE_SIZE = 50
MAX_PARAM = 500
FILTER_FIELDS = (
    "source_type",
    "source_name",
    "touchpoint_id",
    "stage_id",
    "channel",
    "agent",
    "team",
    "date_from",
    "date_to",
    "score_min",
    "score_max",
    "attribute",
    "attribute_value",
    "q",
)
INTS = ("touchpoint_id", "stage_id")
FLOATS = ("score_min", "score_max")
DATES = ("date_from", "date_to")


@dataclass
class ParsedFilters:
    raw: dict[str, str]  # what the user typed, to refill the form and build links
    flt: FeedbackFilter | None  # None when some input is invalid
    errors: list[str] = field(default_factory=list)


def _convert(name: str, text: str) -> Any:
    """One query value -> its typed form; ValueError carries the readable reason."""
    if name in INTS:
        return int(text)
    if name in FLOATS:
        return float(text)
    if name in DATES:
        day = date.fromisoformat(text)
        # date_to is inclusive for people ("until 31 March"), the service bound is exclusive.
        return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1 if name == "date_to" else 0)
    return text


def parse_filters(params: Mapping[str, str]) -> ParsedFilters:
    """Explorer query parameters -> a FeedbackFilter, or readable errors (blank fields are ignored)."""
    raw = {name: (params.get(name) or "").strip() for name in FILTER_FIELDS}
    raw = {k: v for k, v in raw.items() if v}
    values: dict[str, Any] = {}
    errors: list[str] = []
    for name, text in raw.items():
        if len(text) > MAX_PARAM:
            errors.append(f"{name}: longer than {MAX_PARAM} characters")
            continue
        try:
            values[name] = _convert(name, text)
        except ValueError:
            kind = "a whole number" if name in INTS else "a number" if name in FLOATS else "a date (YYYY-MM-DD)"
            errors.append(f"{name}: {text!r} is not {kind}")
    if errors:
        return ParsedFilters(raw=raw, flt=None, errors=errors)
    try:
        return ParsedFilters(raw=raw, flt=FeedbackFilter(**values))
    except ValidationError as exc:
        return ParsedFilters(raw=raw, flt=None, errors=[validation_message(exc)])


def export_query(flt: FeedbackFilter) -> str:
    """The API's query string for the same filter (dates already converted)."""
    values = flt.model_dump(exclude_none=True)
    return urlencode({k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()})


@router.get("/feedback")
def explorer(request: Request, principal: PageReader) -> Response:
    """Filter and search every feedback record, newest first, with the total for the filter."""
    parsed = parse_filters(request.query_params)
    cursor = request.query_params.get("cursor") or None
    with get_db(request).unit_of_work(readonly=True) as session:
        options = _filter_options(session, principal.workspace_id)
        # `q` matches only text this principal sees: masked personal data is not searchable for it either.
        results = _results(session, principal.workspace_id, parsed, cursor, hidden_spans(session, principal))
        shown_text = text_view(session, principal)  # masks personal data for roles without pii:read
    errors = parsed.errors + results.pop("errors")
    next_cursor = results.pop("next_cursor")
    context = {
        **options,
        **results,
        "raw": parsed.raw,
        "errors": errors,
        "cursor": cursor,
        "next_url": "/feedback?" + urlencode({**parsed.raw, "cursor": next_cursor}) if next_cursor else None,
        "first_url": "/feedback?" + urlencode(parsed.raw),
        "export_url": _export_url(parsed.flt) if principal.can(Permission.export) and parsed.flt else None,
        "display_value": service.display_value,
        "shown_text": shown_text,
    }
    response = render(request, "feedback/explorer.html", principal, **context)
    response.status_code = 400 if errors else 200
    return response


def _filter_options(session: Session, ws: int) -> dict[str, Any]:
    """Choices for the filter selects."""
    return {
        "source_types": SOURCE_TYPES,
        "source_names": service.source_names(session, workspace_id=ws),
        "touchpoints": sorted(journey_service.touchpoint_labels(session, workspace_id=ws).items(), key=_label),
        "stages": journey_service.list_stages(session, workspace_id=ws),
    }


def _results(
    session: Session, ws: int, parsed: ParsedFilters, cursor: str | None, hidden: SpanFinder | None
) -> dict[str, Any]:
    """One page of records, the total, customer names for links; nothing when the filters are invalid."""
    out: dict[str, Any] = {"records": [], "total": 0, "names": {}, "next_cursor": None, "errors": []}
    if parsed.flt is None:
        return out
    try:
        rows, out["next_cursor"] = service.search(
            session, workspace_id=ws, flt=parsed.flt, cursor=cursor, limit=PAGE_SIZE, hidden=hidden
        )
    except CEMError as exc:  # a tampered cursor
        out["errors"].append(exc.detail)
        return out
    out["records"] = rows
    out["total"] = service.count(session, workspace_id=ws, flt=parsed.flt, hidden=hidden)
    ids = {r.customer_id for r in rows if r.customer_id}
    out["names"] = customer_service.customer_names(session, workspace_id=ws, ids=ids)
    return out


def _label(item: tuple[int, str]) -> str:
    return item[1]


def _export_url(flt: FeedbackFilter) -> str:
    return "/api/v1/feedback/export.csv?" + export_query(flt)
