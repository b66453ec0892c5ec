from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import AfterValidator, Field, ValidationInfo, model_validator

from cem.customers.schemas import CustomerRef
from cem.schemas import ExternalId, Id, InputModel, Key, LongText, Name, ReadModel

SourceType = Literal["survey", "review", "ticket", "chat", "social", "csv", "api"]
FieldType = Literal["nps", "csat", "ces", "rating", "number", "choice", "text", "boolean", "date"]

# Inclusive numeric ranges per score type; CSAT allows 3/5/7/10-point scales, CES 2.0 is 1-7.
SCORE_RANGES: dict[str, tuple[float, float]] = {
    "nps": (0, 10),
    "csat": (1, 10),
    "ces": (1, 7),
    "rating": (0, 10),
}


MAX_CHANNEL = 64
_NOT_KEY = re.compile(r"[\W_]+")


def normal_channel(raw: str) -> str:
    """A channel as sources name it -> a short lowercase key: "ONLINE" -> online, " Walk In " -> walk-in,
    "e_mail" -> e-mail. Runs of anything but letters and digits become one "-". ValueError says why not."""
    key = _NOT_KEY.sub("-", raw.strip().lower()).strip("-")
    if not key:
        raise ValueError(f"{raw[:40]!r} is not a channel: it needs a letter or digit")
    if len(key) > MAX_CHANNEL:
        raise ValueError(f"a channel is at most {MAX_CHANNEL} characters")
    return key


# The interaction channel of a record, normalised (normal_channel) wherever it comes in.
Channel = Annotated[str, AfterValidator(normal_channel)]
# Who handled an interaction (agent or team): a free identifier, e.g. a ticket's assignee.
Handler = ExternalId


# A filter's row id: the database's ids are signed 64-bit, so anything larger names nothing and is refused up front.

TYPED = "typed_value"  # the validation-context key under which FeedbackIn leaves its TypedValue


class FeedbackIn(InputModel):
    """One feedback record. (source_type, source_name, submission_id, field_id) is its identity."""

    source_type: SourceType
    source_name: Name
    submission_id: ExternalId
    customer: CustomerRef | None = None
    customer_id: Id | None = None
    touchpoint: Key | None = None
    collected_at: datetime | None = None
    field_id: ExternalId
    field_label: str = Field(default="", max_length=1000)
    field_type: FieldType
    value: float | int | bool | str | list[str] | None = None
    language: str | None = Field(default=None, max_length=16)
    channel: Channel | None = Field(default=None, description="interaction channel, e.g. phone; stored lowercased")
    agent: Handler | None = Field(default=None, description="who handled the interaction (e.g. ticket assignee)")
    team: Handler | None = Field(default=None, description="the team that handled the interaction")
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _value_matches_type(self, info: ValidationInfo) -> FeedbackIn:
        typed = typed_value(self.field_type, self.value)
        # A caller validating with context={} gets the split value back, instead of splitting it a second time
        # (bulk NDJSON import: once per row counts).
        if isinstance(info.context, dict):
            info.context[TYPED] = typed
        return self


class TypedValue(NamedTuple):
    """A value split into feedback_record's typed columns (a plain tuple: built once or twice per ingested row)."""

    number: float | None = None
    text: str | None = None
    boolean: bool | None = None
    day: date | None = None


def typed_value(field_type: str, value: Any) -> TypedValue:
    """Split a raw value into the typed columns, or raise ValueError with a readable reason."""
    if value is None or value == "":
        return TypedValue()
    if field_type in SCORE_RANGES or field_type == "number":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"a {field_type} value must be a number")
        try:
            number = float(value)
        except OverflowError:  # an int of hundreds of digits: no float holds it
            raise ValueError("the number is too large") from None
        except ValueError:
            raise ValueError(f"{str(value)[:40]!r} is not a number") from None
        return TypedValue(number=checked_number(field_type, number))
    if field_type == "boolean":
        return TypedValue(boolean=_to_bool(value))
    if field_type == "date":
        try:
            return TypedValue(day=date.fromisoformat(str(value)[:10]))
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO date (YYYY-MM-DD)") from None
    if field_type == "choice" and isinstance(value, list):
        return TypedValue(text="; ".join(str(v) for v in value))
    if not isinstance(value, str | int | float):
        raise ValueError(f"a {field_type} value must be text")
    text = str(value)
    if len(text) > 100_000:
        raise ValueError("text longer than 100,000 characters")
    if "\x00" in text:  # PostgreSQL cannot store it and SQLite's text functions stop at it
        raise ValueError("text must not contain NUL (\\u0000) characters")
    return TypedValue(text=text)


def checked_number(field_type: str, number: float) -> float:
    """The one score validator: a finite number, within the score type's range (whole for NPS); ValueError says
    why not. Every way into the store (API, webhooks, surveys, imports) checks numbers here."""
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError("the value must be a finite number")
    if field_type in SCORE_RANGES:
        low, high = SCORE_RANGES[field_type]
        if not low <= number <= high:
            raise ValueError(f"a {field_type} value must be between {low:g} and {high:g}")
        if field_type == "nps" and number != int(number):
            raise ValueError("an nps value must be a whole number from 0 to 10")
    return number


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "y"):
        return True
    if text in ("false", "0", "no", "n"):
        return False
    raise ValueError(f"{value!r} is not a boolean (true/false)")


class FeedbackRead(ReadModel):
    id: int
    source_type: str
    source_name: str
    submission_id: str
    customer_id: int | None
    touchpoint_id: int | None
    collected_at: datetime
    field_id: str
    field_label: str
    field_type: str
    value_number: float | None
    value_text: str | None
    value_bool: bool | None
    value_date: date | None
    language: str | None
    channel: str | None
    agent: str | None
    team: str | None
    metadata: dict[str, Any] = Field(validation_alias="meta")
    sentiment_label: str | None
    sentiment_score: float | None
    emotions: list[str] | None
    topics: list[str] | None


class IngestResult(ReadModel):
    accepted: int
    created: int
    updated: int


class FeedbackFilter(InputModel):
    """Explorer filters; every field optional and combined with AND."""

    source_type: SourceType | None = None
    source_name: str | None = None
    field_type: FieldType | None = None
    field_id: str | None = None
    touchpoint_id: Id | None = None
    stage_id: Id | None = None
    customer_id: Id | None = None
    channel: Channel | None = None
    agent: str | None = Field(default=None, max_length=200)
    team: str | None = Field(default=None, max_length=200)
    date_from: datetime | None = None
    date_to: datetime | None = None
    score_min: float | None = None
    score_max: float | None = None
    attribute: str | None = Field(default=None, description="customer attribute name")
    attribute_value: str | None = None
    q: LongText | None = Field(default=None, description="full-text query over feedback text")
