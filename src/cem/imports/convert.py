"""Row conversion: one CSV row (or NDJSON line) -> a pending item, or a RowProblem naming column and reason.

Converters are built once per file from the mapping and the header (column names -> indexes), so the
per-row work is plain indexing and parsing. Database lookups (customers, touchpoints) happen per batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError, validate_email

from cem import scores
from cem.customers.bulk import BulkRef
from cem.feedback.row_keys import row_key_id
from cem.feedback.schemas import (
    TYPED,
    FeedbackIn,
    TypedValue,
    checked_number,
    normal_channel,
    typed_value,
)
from cem.hooks.rows import FeedbackRow
from cem.imports.schemas import CustomerMap, CustomersMapping, FeedbackMapping

MAX_ID = 200
MAX_TEXT = 100_000
NUMERIC = scores.SCALED_TYPES


class RowProblem(Exception):
    """Why one row cannot be stored."""

    def __init__(self, column: str, reason: str, value: str = "") -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason
        self.value = value[:200]


@dataclass(slots=True)
class Pending:
    """A converted row waiting for its batch's customer and touchpoint lookups."""

    line: int
    key: str  # duplicate-detection identity within the file
    key_label: str
    records: list[FeedbackRow]
    ref: BulkRef | None = None
    customer_id: int | None = None
    touchpoint: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Cache:
    """Small memo for values that repeat across rows (dates, emails); bounded so memory stays flat."""

    def __init__(self, limit: int = 50_000) -> None:
        self.data: dict[str, Any] = {}
        self.limit = limit

    def get(self, key: str, make: Any) -> Any:
        try:
            return self.data[key]
        except KeyError:
            if len(self.data) >= self.limit:
                self.data.clear()
            value = self.data[key] = make(key)
            return value


# Date layouts of real exports (city 311 requests, helpdesk tickets, tweets, European spreadsheets), tried in this
# order to suggest a `collected_at_format` when a value is not ISO 8601; day-first and month-first both appear.
COMMON_DATE_FORMATS = (
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d",
    "%d-%m-%Y",
    "%a %b %d %H:%M:%S %z %Y",
    "%d %b %Y",
    "%b %d, %Y",
)


def suggest_date_formats(raw: str) -> list[str]:
    """The common layouts (at most two, e.g. month-first and day-first) that read `raw`."""
    found: list[str] = []
    for fmt in COMMON_DATE_FORMATS:
        try:
            datetime.strptime(raw, fmt)
        except ValueError:
            continue
        found.append(fmt)
        if len(found) == 2:
            break
    return found


def parse_datetime(raw: str, fmt: str | None, *, option: str = "collected_at_format") -> datetime:
    """ISO 8601 (or `fmt`) -> aware datetime; naive values are taken as UTC. A value that does not parse names the
    format that would read it, so a file of US dates says what to set as `option` in the mapping."""
    try:
        value = datetime.strptime(raw, fmt) if fmt else datetime.fromisoformat(raw)
    except ValueError:
        expected = f"the format {fmt}" if fmt else "ISO 8601 (e.g. 2024-05-01 or 2024-05-01T10:30:00Z)"
        suggestion = " or ".join(f'"{f}"' for f in suggest_date_formats(raw) if f != fmt)
        hint = f'; it reads with "{option}": {suggestion} in the mapping' if suggestion else ""
        raise ValueError(f"not a date/time in {expected}{hint}") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def normal_email(raw: str) -> str:
    """Validated, lower-cased email (as the API stores it)."""
    try:
        return validate_email(raw)[1].lower()
    except ValueError:
        raise ValueError("not a valid email address") from None


def typed_columns(
    field_type: str, raw: str, scale: scores.Scale | None = None
) -> tuple[float | None, str | None, bool | None, Any]:
    """(number, text, bool, date) for a non-empty cell, with the API's rules (numbers within `scale`, None: the
    type's default); ValueError says why."""
    if field_type in NUMERIC:
        try:
            number = float(raw)
        except ValueError:
            raise ValueError(f"{raw!r} is not a number") from None
        return checked_number(field_type, number, scale), None, None, None
    if field_type in ("text", "choice"):
        if len(raw) > MAX_TEXT:
            raise ValueError("text longer than 100,000 characters")
        return None, raw, None, None
    value = typed_value(field_type, raw)
    return value.number, value.text, value.boolean, value.day


class Columns:
    """Header lookups shared by the converters."""

    def __init__(self, header: list[str]) -> None:
        self.index = {name: i for i, name in enumerate(header)}

    def opt(self, column: str | None) -> int | None:
        return None if column is None else self.index[column]


class RefReader:
    """Reads the customer reference of a row according to a CustomerMap (or a customers mapping)."""

    def __init__(self, cols: Columns, cmap: CustomerMap | CustomersMapping, emails: Cache) -> None:
        self.id_col = getattr(cmap, "id", None)
        self.i_id = cols.opt(self.id_col)
        self.i_ext = cols.opt(cmap.external_id)
        self.i_email = cols.opt(cmap.email)
        self.i_name = cols.opt(cmap.name)
        self.attrs = [(name, col, cols.index[col]) for name, col in cmap.attributes.items()]
        self.cmap = cmap
        self.emails = emails

    def customer_id(self, cells: list[str]) -> int | None:
        if self.i_id is None or not (raw := cells[self.i_id].strip()):
            return None
        if not raw.isdigit():
            raise RowProblem(str(self.id_col), f"{raw!r} is not a customer id (a whole number)", raw)
        return int(raw)

    def ref(self, cells: list[str]) -> BulkRef | None:
        """The row's reference, or None when neither external id nor email is filled in."""
        ext = cells[self.i_ext].strip() if self.i_ext is not None else ""
        if len(ext) > MAX_ID:
            raise RowProblem(str(self.cmap.external_id), "a customer external id is at most 200 characters", ext)
        email = cells[self.i_email].strip() if self.i_email is not None else ""
        if email:
            try:
                email = self.emails.get(email, normal_email)
            except ValueError as exc:
                raise RowProblem(str(self.cmap.email), str(exc), email) from None
        if not ext and not email:
            return None
        name = cells[self.i_name].strip()[:MAX_ID] if self.i_name is not None else ""
        attrs = {n: cells[i] for n, _c, i in self.attrs if cells[i] != ""}
        return BulkRef(ext or None, email or None, name or None, attrs)


def _handler(raw: str) -> str:
    if len(raw) > MAX_ID:
        raise ValueError(f"at most {MAX_ID} characters")
    return raw


class SubmissionId:
    """A row's submission id: its `submission_id` cell, or the hash of its `row_key` cells (cem.feedback.row_keys)."""

    def __init__(self, mapping: FeedbackMapping, header: list[str], cols: Columns) -> None:
        self.column = mapping.submission_id
        self.i_sub = cols.opt(mapping.submission_id)
        if mapping.content_key:
            # Sorted by header name, so the same row in a re-export with reordered columns keeps its key.
            self.names = sorted(header)
            self.label = "row (every cell the same as"
        else:
            self.names = list(mapping.row_key or ())
            self.label = f"row key ({', '.join(self.names)}"
        self.key_indexes = [(name, cols.index[name]) for name in self.names]

    def __call__(self, cells: list[str]) -> tuple[str, str]:
        """(submission id, label for duplicate errors)."""
        if self.i_sub is not None:
            sub = cells[self.i_sub].strip()
            if not sub or len(sub) > MAX_ID:
                raise RowProblem(str(self.column), "a submission id is required (1-200 characters)", sub)
            return sub, f"submission {sub!r}"
        values = [cells[i].strip() for _name, i in self.key_indexes]
        if not any(values):
            raise RowProblem(", ".join(self.names), "every row key column is empty: nothing identifies the row")
        pairs = [[name, value] for (name, _i), value in zip(self.key_indexes, values, strict=True)]
        return row_key_id(pairs), f"{self.label} another row)"


class FeedbackCsv:
    """CSV row -> Pending holding one record per non-empty mapped field."""

    def __init__(self, mapping: FeedbackMapping, header: list[str], *, workspace_id: int, now: datetime) -> None:
        cols = Columns(header)
        self.m = mapping
        self.now = now
        self.submission = SubmissionId(mapping, header, cols)
        self.fields = [
            (cols.index[f.column], f.column, f.record_field_id, f.field_type, f.label) for f in mapping.fields
        ]
        self.scales = {f.record_field_id: f.declared_scale() for f in mapping.fields}
        self.customer = RefReader(cols, mapping.customer, Cache()) if mapping.customer else None
        self.i_tp = cols.opt(mapping.touchpoint)
        self.i_at = cols.opt(mapping.collected_at)
        self.i_lang = cols.opt(mapping.language)
        channels = Cache(1000)
        # Context from a column (index, column, parser) or, without one, the mapping's constant.
        self.context: list[tuple[str, int | None, str, Any, Any]] = [
            (name, cols.opt(column), str(column), constant, parse)
            for name, column, constant, parse in (
                ("channel", mapping.channel, mapping.channel_value, lambda raw: channels.get(raw, normal_channel)),
                ("agent", mapping.agent, mapping.agent_value, _handler),
                ("team", mapping.team, mapping.team_value, _handler),
            )
        ]
        self.meta = [(c, cols.index[c]) for c in mapping.metadata]
        self.dates = Cache()
        self.base = {
            "workspace_id": workspace_id,
            "source_type": mapping.source_type,
            "source_name": mapping.source_name,
            "customer_id": None,
            "touchpoint_id": None,
        }
        self.width = len(header)

    def __call__(self, line: int, cells: list[str]) -> Pending:
        if len(cells) != self.width:
            raise RowProblem("", f"expected {self.width} cells, found {len(cells)}")
        sub, label = self.submission(cells)
        row: dict[str, Any] = {**self.base, "submission_id": sub, "collected_at": self._collected_at(cells)}
        row["language"] = self._language(cells)
        for name, index, column, constant, parse in self.context:
            row[name] = constant if index is None else _parsed_cell(cells[index], column, parse)
        row["metadata"] = {c: cells[i] for c, i in self.meta if cells[i] != ""}
        records = self._records(cells, row)
        pending = Pending(line, sub, label, records)
        if self.customer is not None:
            pending.customer_id = self.customer.customer_id(cells)
            pending.ref = None if pending.customer_id is not None else self.customer.ref(cells)
        pending.touchpoint = self.m.touchpoint_constant
        if self.i_tp is not None:
            pending.touchpoint = cells[self.i_tp].strip() or None
        return pending

    def _records(self, cells: list[str], row: dict[str, Any]) -> list[FeedbackRow]:
        records = []
        for i, column, field_id, field_type, label in self.fields:
            raw = cells[i]
            if field_type not in ("text", "choice"):
                raw = raw.strip()
            if raw == "" or (field_type in ("text", "choice") and not raw.strip()):
                continue
            scale = self.scales[field_id]
            try:
                number, text, flag, day = typed_columns(field_type, raw, scale)
            except ValueError as exc:
                raise RowProblem(column, str(exc), raw) from None
            records.append(
                FeedbackRow(
                    **row,
                    field_id=field_id,
                    field_label=label,
                    field_type=field_type,
                    value_number=number,
                    value_text=text,
                    value_bool=flag,
                    value_date=day,
                    scale_min=scale.low if scale else None,
                    scale_max=scale.high if scale else None,
                )
            )
        if not records:
            names = ", ".join(f[1] for f in self.fields)
            raise RowProblem(names, "no value in any mapped field")
        return records

    def _collected_at(self, cells: list[str]) -> datetime:
        if self.i_at is None:
            return self.m.collected_at_value or self.now
        raw = cells[self.i_at].strip()
        if not raw:
            return self.now
        try:
            result: datetime = self.dates.get(raw, lambda r: parse_datetime(r, self.m.collected_at_format))
        except ValueError as exc:
            raise RowProblem(str(self.m.collected_at), str(exc), raw) from None
        return result

    def _language(self, cells: list[str]) -> str | None:
        if self.i_lang is None:
            return self.m.language_value
        raw = cells[self.i_lang].strip()
        if len(raw) > 16:
            raise RowProblem(str(self.m.language), "a language code is at most 16 characters", raw)
        return raw or self.m.language_value


def _parsed_cell(raw: str, column: str, parse: Any) -> Any:
    """A context cell parsed (None when blank); a value that does not parse is the row's problem."""
    value = raw.strip()
    if not value:
        return None
    try:
        return parse(value)
    except ValueError as exc:
        raise RowProblem(column, str(exc), value) from None


class FeedbackNdjson:
    """NDJSON line (one FeedbackIn object) -> Pending with one record."""

    def __init__(self, *, workspace_id: int, now: datetime) -> None:
        self.workspace_id = workspace_id
        self.now = now

    def __call__(self, line: int, raw: bytes) -> Pending:
        context: dict[str, TypedValue] = {}
        try:
            rec = FeedbackIn.model_validate_json(raw, context=context)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            reason = "malformed JSON" if err["type"] == "json_invalid" else err["msg"]
            raise RowProblem(where, reason, raw.decode(errors="replace").strip()) from None
        number, text, flag, day = context[TYPED]  # split once, by the validation
        scale = rec.declared_scale()
        record = FeedbackRow(
            workspace_id=self.workspace_id,
            source_type=rec.source_type,
            source_name=rec.source_name,
            submission_id=rec.submission_id,
            collected_at=rec.collected_at or self.now,
            field_id=rec.field_id,
            field_label=rec.field_label,
            field_type=rec.field_type,
            value_number=number,
            value_text=text,
            value_bool=flag,
            value_date=day,
            language=rec.language,
            channel=rec.channel,
            agent=rec.agent,
            team=rec.team,
            metadata=rec.metadata,
            scale_min=scale.low if scale else None,
            scale_max=scale.high if scale else None,
        )
        key = "\x1f".join((rec.source_type, rec.source_name, rec.submission_id, rec.field_id))
        label = f"record ({rec.submission_id!r}, {rec.field_id!r})"
        pending = Pending(line, key, label, [record], customer_id=rec.customer_id, touchpoint=rec.touchpoint)
        if rec.customer is not None:
            c = rec.customer
            email = str(c.email).lower() if c.email else None
            pending.ref = BulkRef(c.external_id, email, c.name, dict(c.attributes))
        return pending
