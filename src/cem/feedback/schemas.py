from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import AfterValidator, Field, StringConstraints, ValidationInfo, field_validator

from cem import scores
from cem.customers.schemas import CustomerRef
from cem.schemas import ExternalId, Id, InputModel, Key, LongText, Name, ReadModel

SourceType = Literal["survey", "review", "ticket", "chat", "social", "csv", "api"]
FieldType = Literal["nps", "csat", "ces", "rating", "number", "choice", "text", "boolean", "date"]


def _scale_bounds_checked(high: float | None, info: ValidationInfo) -> float | None:
    """scale_min/scale_max (validated at scale_max, which follows scale_min): both or neither, min < max, and
    the standard scale for NPS and CES (cem.scores.declared_scale)."""
    low = info.data.get("scale_min")
    if "field_type" in info.data and (low is not None or high is not None):
        scores.declared_scale(info.data["field_type"], low=low, high=high)
    return high


def _scale_name_checked(name: str | None, info: ValidationInfo) -> str | None:
    """A named scale (cem.scores.NAMED_SCALES), never together with scale_min/scale_max."""
    if name is not None and "field_type" in info.data:
        low, high = info.data.get("scale_min"), info.data.get("scale_max")
        scores.declared_scale(info.data["field_type"], name=name, low=low, high=high)
    return name


# The three ways to declare a rating-like field's scale, shared by the API payload and the import and webhook
# mappings; each follows `field_type` in its model, so its check knows the type and is located at its own key.
ScaleMin = Annotated[float | None, Field(default=None, description="lowest answer of the scale (with scale_max)")]
ScaleMax = Annotated[
    float | None,
    AfterValidator(_scale_bounds_checked),
    Field(default=None, validate_default=True, description="highest answer of the scale (with scale_min)"),
]
ScaleName = Annotated[
    Annotated[str, StringConstraints(max_length=40)] | None,
    AfterValidator(_scale_name_checked),
    Field(
        default=None,
        description="a named scale instead of scale_min/scale_max: " + ", ".join(scores.NAMED_SCALES),
    ),
]


def declared(
    field_type: str, *, scale: str | None, scale_min: float | None, scale_max: float | None
) -> scores.Scale | None:
    """The scale a validated declaration (ScaleName, ScaleMin, ScaleMax) names; None when it names none (then the
    type's default applies: `checked_number` checks against it and FeedbackRow writes it)."""
    if scale is None and scale_min is None and scale_max is None:
        return None
    return scores.declared_scale(field_type, name=scale, low=scale_min, high=scale_max)


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
    # The declared scale of a rating-like value (cem.scores): numbers or a name; none declared: the type's default.
    scale_min: ScaleMin = None
    scale_max: ScaleMax = None
    scale: ScaleName = None
    value: float | int | bool | str | list[str] | None = None
    language: str | None = Field(default=None, max_length=16)
    channel: Channel | None = Field(default=None, description="interaction channel, e.g. phone; stored lowercased")
    agent: Handler | None = Field(default=None, description="who handled the interaction (e.g. ticket assignee)")
    team: Handler | None = Field(default=None, description="the team that handled the interaction")
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("value")
    @classmethod
    def _value_matches_type(cls, value: Any, info: ValidationInfo) -> Any:
        data = info.data
        if not {"field_type", "scale_min", "scale_max", "scale"} <= data.keys():
            return value  # the type or the scale is invalid: reported at its own key
        scale = declared(
            data["field_type"], scale=data["scale"], scale_min=data["scale_min"], scale_max=data["scale_max"]
        )
        typed = typed_value(data["field_type"], value, scale)
        # A caller validating with context={} gets the split value back, instead of splitting it a second time
        # (bulk NDJSON import: once per row counts).
        if isinstance(info.context, dict):
            info.context[TYPED] = typed
        return value

    def declared_scale(self) -> scores.Scale | None:
        """The record's declared scale; None: none declared (its type's default applies)."""
        return declared(self.field_type, scale=self.scale, scale_min=self.scale_min, scale_max=self.scale_max)


class TypedValue(NamedTuple):
    """A value split into feedback_record's typed columns (a plain tuple: built once or twice per ingested row)."""

    number: float | None = None
    text: str | None = None
    boolean: bool | None = None
    day: date | None = None


def typed_value(field_type: str, value: Any, scale: scores.Scale | None = None) -> TypedValue:
    """Split a raw value into the typed columns, or raise ValueError with a readable reason; a number is checked
    against `scale` (None: its type's default)."""
    if value is None or value == "":
        return TypedValue()
    if field_type in scores.SCALED_TYPES:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"a {field_type} value must be a number")
        try:
            number = float(value)
        except OverflowError:  # an int of hundreds of digits: no float holds it
            raise ValueError("the number is too large") from None
        except ValueError:
            raise ValueError(f"{str(value)[:40]!r} is not a number") from None
        return TypedValue(number=checked_number(field_type, number, scale))
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


def checked_number(field_type: str, number: float, scale: scores.Scale | None = None) -> float:
    """The one score validator: a finite number, within its declared scale (None: the type's default; whole for
    NPS); ValueError says why not. Every way into the store (API, webhooks, surveys, imports) checks numbers here."""
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError("the value must be a finite number")
    if scale is not None:
        return scores.check_value(field_type, number, scale)
    try:
        return scores.check_value(field_type, number, scores.default_scale(field_type))
    except ValueError as exc:
        rule = scores.SCORE_RULES.get(field_type)
        if rule is None or rule.fixed:
            raise
        # An undeclared scale is the type's default: say how to declare another.
        raise ValueError(f"{exc} (the default {field_type} scale; declare scale_min/scale_max or a scale)") from None


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
    scale_min: float | None = None
    scale_max: float | None = None
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
