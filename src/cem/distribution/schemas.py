"""Request and response models of the distribution API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from cem.distribution import reminder_schedule
from cem.distribution.models import Distribution
from cem.schemas import Id, InputModel, Int64, Key, Name, ReadModel

AttributeOp = Literal[
    "equals", "not_equals", "contains", "greater_than", "less_than", "gte", "lte", "in", "is_set", "is_not_set"
]
Scalar = str | Int64 | float | bool
HHMM = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
Origin = Annotated[str, Field(pattern=r"^https?://[A-Za-z0-9.\-]+(:\d{1,5})?$|^\*$", max_length=300)]


class AttributeCondition(InputModel):
    """A customer attribute (customer.attributes[key]) compared with a value."""

    kind: Literal["attribute"]
    key: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_\-]+$")]
    op: AttributeOp
    value: Scalar | list[Scalar] | None = None

    @model_validator(mode="after")
    def _value_fits_op(self) -> AttributeCondition:
        if self.op in ("is_set", "is_not_set"):
            return self
        if self.value is None:
            raise ValueError(f"operator {self.op!r} needs a value")
        if self.op == "in" and not isinstance(self.value, list):
            raise ValueError("operator 'in' needs a list of values")
        if self.op != "in" and isinstance(self.value, list):
            raise ValueError(f"operator {self.op!r} takes one value, not a list")
        if self.op in ("greater_than", "less_than", "gte", "lte") and (
            isinstance(self.value, bool) or not isinstance(self.value, int | float)
        ):
            raise ValueError(f"operator {self.op!r} needs a number")
        return self


class FieldCondition(InputModel):
    """A built-in customer field."""

    kind: Literal["field"]
    field: Literal["email", "name", "external_id"]
    op: Literal["is_set", "is_not_set", "equals", "contains"]
    value: str | None = None

    @model_validator(mode="after")
    def _value_fits_op(self) -> FieldCondition:
        if self.op in ("equals", "contains") and not self.value:
            raise ValueError(f"operator {self.op!r} needs a value")
        return self


class SegmentCondition(InputModel):
    """Membership of another saved audience (a segment)."""

    kind: Literal["segment"]
    audience_id: Id
    negate: bool = False


class StageCondition(InputModel):
    """The customer's current journey stage: the stage of their latest event at a touchpoint."""

    kind: Literal["journey_stage"]
    journey: Key
    stage: Key
    negate: bool = False


class FeedbackCondition(InputModel):
    """Has (or, with negate, has not) given matching feedback within the last `within_days` days."""

    kind: Literal["feedback"]
    field_type: Literal["nps", "csat", "ces", "rating", "number", "choice", "text", "boolean", "date"] | None = None
    op: Literal["equals", "greater_than", "less_than", "gte", "lte"] | None = None
    value: float | None = None
    within_days: int | None = Field(default=None, ge=1, le=3650)
    negate: bool = False

    @model_validator(mode="after")
    def _value_fits_op(self) -> FeedbackCondition:
        if (self.op is None) != (self.value is None):
            raise ValueError("a feedback value comparison needs both 'op' and 'value'")
        return self


Condition = Annotated[
    AttributeCondition | FieldCondition | SegmentCondition | StageCondition | FeedbackCondition,
    Field(discriminator="kind"),
]


class AudienceFilter(InputModel):
    match: Literal["all", "any"] = "all"
    conditions: list[Condition] = Field(default_factory=list, max_length=50)


class AudienceIn(InputModel):
    name: Name
    description: Annotated[str, Field(max_length=2000)] = ""
    filters: AudienceFilter = Field(default_factory=AudienceFilter)


class AudienceUpdate(InputModel):
    name: Name | None = None
    description: Annotated[str, Field(max_length=2000)] | None = None
    filters: AudienceFilter | None = None


class AudienceRead(ReadModel):
    id: int
    name: str
    description: str
    filters: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class PreviewPerson(ReadModel):
    customer_id: int
    external_id: str | None
    email: str | None
    name: str | None
    reason: str | None = None
    detail: str = ""


class AudiencePreview(ReadModel):
    total_customers: int
    matched: int
    included: int
    excluded: int
    excluded_by_reason: dict[str, int]
    included_sample: list[PreviewPerson]
    excluded_sample: list[PreviewPerson]
    survey_id: int | None = None
    channel: str


class PreviewIn(InputModel):
    filters: AudienceFilter | None = None  # unsaved filters; default: the saved audience's
    survey_id: Id | None = None  # apply this survey's contact rules too
    channel: Literal["email", "widget"] = "email"
    sample: int = Field(default=20, ge=0, le=500)


class ContactSettingsIn(InputModel):
    global_cooldown_days: float = Field(default=0, ge=0, le=3650)
    max_per_period: int | None = Field(default=None, ge=1, le=1000)
    period_days: int = Field(default=30, ge=1, le=3650)
    quiet_start: HHMM | None = None
    quiet_end: HHMM | None = None
    timezone: Annotated[str, Field(min_length=1, max_length=64)] = "UTC"
    allowed_origins: list[Origin] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _quiet_pair(self) -> ContactSettingsIn:
        if (self.quiet_start is None) != (self.quiet_end is None):
            raise ValueError("quiet hours need both quiet_start and quiet_end")
        return self


class ContactSettingsRead(ReadModel):
    global_cooldown_days: float
    max_per_period: int | None
    period_days: int
    quiet_start: str | None
    quiet_end: str | None
    timezone: str
    allowed_origins: list[str]


class SurveyChannelSettingsIn(InputModel):
    recontact_days: float | None = Field(default=None, ge=0, le=3650)
    respects_cooldown: bool = True
    email_subject: Annotated[str, Field(max_length=300)] = ""
    widget_enabled: bool = False
    widget_url_pattern: Annotated[str, Field(min_length=1, max_length=500)] = "*"
    widget_delay_seconds: int = Field(default=0, ge=0, le=3600)
    widget_event: Key | None = None
    widget_display_percent: float = Field(default=100, ge=0, le=100)
    allowed_origins: list[Origin] = Field(default_factory=list, max_length=50)


class SurveyChannelSettingsRead(ReadModel):
    survey_id: int
    recontact_days: float | None
    respects_cooldown: bool
    email_subject: str
    widget_enabled: bool
    widget_url_pattern: str
    widget_delay_seconds: int
    widget_event: str | None
    widget_display_percent: float
    allowed_origins: list[str]


class TriggerIn(InputModel):
    event_type: Key
    delay_minutes: int = Field(default=0, ge=0, le=60 * 24 * 90)
    active: bool = True


class TriggerRead(ReadModel):
    id: int
    survey_id: int
    event_type: str
    delay_minutes: int
    active: bool


class ReminderIn(InputModel):
    """One reminder to the people who have not completed the survey (rules: `reminder_schedule.validate`)."""

    after_days: float = Field(description="Days after the invitations were sent: more than 0, at most 90.")
    subject: str = Field(default="", description='Subject of the reminder; default "Reminder: <subject>".')


class DistributionIn(InputModel):
    audience_id: Id
    name: Annotated[str, Field(max_length=200)] = ""
    subject: Annotated[str, Field(max_length=300)] = ""
    reminders: list[ReminderIn] | None = Field(
        default=None,
        description="Up to 3 reminders, in increasing order of days, each sent once to non-responders.",
    )
    # The single reminder of earlier versions: the same as `reminders: [{"after_days": n}]`.
    reminder_after_days: float | None = Field(default=None, gt=0, le=90)

    @field_validator("subject")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if "\n" in value or "\r" in value:
            raise ValueError("the subject must be one line")
        return value.strip()


class ReminderRead(ReadModel):
    number: int
    after_days: float
    subject: str
    due_at: datetime | None  # once the invitations are sent
    sent: int
    failed: int  # refused by the SMTP server
    skipped: int  # left out by a contact rule (see the skip log)
    deferred: int  # postponed to the end of quiet hours


class DistributionRead(ReadModel):
    id: int
    survey_id: int
    audience_id: int | None
    channel: str
    name: str
    subject: str
    status: str
    reminders: list[ReminderRead]
    reminder_after_days: float | None  # the first reminder's days (as before several reminders existed)
    job_id: int | None
    created_at: datetime
    sent_at: datetime | None

    @model_validator(mode="before")
    @classmethod
    def _from_row(cls, value: Any) -> Any:
        """A distribution row: its reminder schedule (either stored shape) with each reminder's counters."""
        if not isinstance(value, Distribution):
            return value
        steps = reminder_schedule.schedule(value)
        return {
            **{name: getattr(value, name) for name in cls.model_fields if name != "reminders"},
            "reminder_after_days": steps[0].after_days if steps else None,
            "reminders": [
                {
                    "number": s.number,
                    "after_days": s.after_days,
                    "subject": s.subject,
                    "due_at": s.due_at(value.sent_at),
                    **reminder_schedule.counts(value, s.number),
                }
                for s in steps
            ],
        }


class ChannelFunnel(ReadModel):
    channel: str
    invited: int
    delivered: int
    opened: int
    started: int
    completed: int
    response_rate: float | None  # started / invited
    completion_rate: float | None  # completed / started


class QuestionDropoff(ReadModel):
    question_id: str
    label: str
    answered: int
    share_of_started: float | None


class DistributionReport(ReadModel):
    survey_id: int
    total: ChannelFunnel
    channels: list[ChannelFunnel]
    dropoff: list[QuestionDropoff]
    skips_by_reason: dict[str, int]
    distributions: list[DistributionRead]
