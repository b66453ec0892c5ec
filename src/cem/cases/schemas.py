"""Request and response bodies of the closed loop: alert rules, teams, cases."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import EmailStr, Field, field_validator

from cem.cases.conditions import Group
from cem.schemas import Id, InputModel, Name, ReadModel

Priority = Literal["low", "normal", "high", "urgent"]
Status = Literal["new", "open", "waiting_on_customer", "resolved", "closed"]
Tag = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[\w .:/-]+$")]
NoteText = Annotated[str, Field(min_length=1, max_length=20_000)]


# -- alert rules ----------------------------------------------------------------------------------------------


class OpenCaseAction(InputModel):
    priority: Priority = "normal"
    team_id: Id | None = None
    owner_id: Id | None = None


class RuleActions(InputModel):
    """What a firing does: open a case (de-duplicated per customer within the window), email people, and
    always emit `alert.fired` (delivered to webhook subscribers)."""

    open_case: OpenCaseAction | None = None
    email: list[EmailStr] = Field(default_factory=list, max_length=20)


class AlertRuleIn(InputModel):
    name: Name
    description: Annotated[str, Field(max_length=2000)] = ""
    active: bool = True
    condition: Group
    actions: RuleActions = Field(default_factory=RuleActions)
    dedupe_window_hours: Annotated[int, Field(ge=1, le=24 * 365)] = 168


class AlertRuleRead(ReadModel):
    id: int
    name: str
    description: str
    active: bool
    condition: dict[str, Any]
    actions: dict[str, Any]
    needs_enrichment: bool
    dedupe_window_hours: int
    created_by: str
    created_at: datetime
    updated_at: datetime


class RuleSaved(AlertRuleRead):
    warnings: list[str] = Field(default_factory=list)


class PreviewIn(InputModel):
    condition: Group
    days: Annotated[int, Field(ge=1, le=90)] = 30
    limit: Annotated[int, Field(ge=1, le=100)] = 20


class PreviewHit(ReadModel):
    source_type: str
    source_name: str
    submission_id: str
    customer_id: int | None
    collected_at: datetime
    reason: list[dict[str, Any]]


class PreviewRead(ReadModel):
    days: int
    submissions: int  # submissions looked at
    matched: int
    share: float
    truncated: bool  # more submissions than the preview reads; counts cover the newest ones
    first: list[PreviewHit]
    warnings: list[str]


class FiringRead(ReadModel):
    id: int
    rule_id: int
    source_type: str
    source_name: str
    submission_id: str
    record_id: int | None
    customer_id: int | None
    case_id: int | None
    reason: list[dict[str, Any]]
    outcome: str
    fired_at: datetime


# -- teams ----------------------------------------------------------------------------------------------------


class TeamIn(InputModel):
    name: Name
    lead_user_id: Id | None = None
    member_ids: list[Id] = Field(default_factory=list, max_length=500)


class TeamUpdate(InputModel):
    name: Name | None = None
    lead_user_id: Id | None = None
    member_ids: Annotated[list[Id], Field(max_length=500)] | None = None


class TeamRead(ReadModel):
    id: int
    name: str
    lead_user_id: int | None
    member_ids: list[int]


# -- cases ----------------------------------------------------------------------------------------------------


class CaseIn(InputModel):
    """A case opened by hand (rules open theirs themselves)."""

    title: Annotated[str, Field(min_length=1, max_length=300)]
    customer_id: Id | None = None
    priority: Priority = "normal"
    team_id: Id | None = None
    owner_id: Id | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=30)


class CaseUpdate(InputModel):
    title: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    status: Status | None = None
    priority: Priority | None = None
    tags: Annotated[list[Tag], Field(max_length=30)] | None = None

    @field_validator("status")
    @classmethod
    def _closing_has_its_route(cls, value: str | None) -> str | None:
        if value == "closed":
            raise ValueError("Close a case with POST /cases/{case_id}/close, which records the outcome.")
        return value


class AssignIn(InputModel):
    owner_id: Id | None = None
    team_id: Id | None = None


class BulkAssignIn(AssignIn):
    case_ids: list[Id] = Field(min_length=1, max_length=500)


class NoteIn(InputModel):
    body: NoteText


class ReplyIn(InputModel):
    subject: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    body: NoteText


class CloseIn(InputModel):
    contacted: bool
    root_cause: Annotated[str, Field(min_length=1, max_length=100)]
    recovered: bool


class ActivityRead(ReadModel):
    id: int
    at: datetime
    kind: str
    actor_label: str
    body: str | None
    data: dict[str, Any]


class SlaRead(ReadModel):
    policy_id: int | None
    state: Literal["none", "running", "paused", "breached", "met"]
    first_response_due_at: datetime | None
    update_due_at: datetime | None
    resolution_due_at: datetime | None
    escalated: bool


class CaseRead(ReadModel):
    id: int
    title: str
    customer_id: int | None
    rule_id: int | None
    source_type: str | None
    source_name: str | None
    submission_id: str | None
    record_id: int | None
    owner_id: int | None
    team_id: int | None
    status: str
    priority: str
    tags: list[str]
    outcome: dict[str, Any] | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    sla: SlaRead


class CaseDetail(CaseRead):
    activity: list[ActivityRead]


class BulkAssignRead(ReadModel):
    updated: list[int]


class CasesPage(ReadModel):
    items: list[CaseRead]
    next_cursor: str | None = None


# -- SLA policies and business-hours calendars ---------------------------------------------------------------

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ClockTime = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
Minutes = Annotated[int, Field(ge=1, le=525_600)]


class CalendarIn(InputModel):
    """Work periods per weekday in local time (several a day for lunch breaks or split shifts), and holidays."""

    name: Name
    timezone: Annotated[str, Field(min_length=1, max_length=64)]
    hours: dict[Weekday, Annotated[list[tuple[ClockTime, ClockTime]], Field(max_length=6)]]
    holidays: list[date] = Field(default_factory=list, max_length=500)


class CalendarRead(ReadModel):
    id: int
    name: str
    timezone: str
    hours: dict[str, list[list[str]]]
    holidays: list[str]


class AttributeMatch(InputModel):
    key: Annotated[str, Field(min_length=1, max_length=100)]
    value: str | float | bool


class SlaConditions(InputModel):
    """Which cases the policy applies to; an empty list matches any."""

    priorities: list[Priority] = Field(default_factory=list)
    team_ids: list[Id] = Field(default_factory=list, max_length=100)
    customer_attribute: AttributeMatch | None = None


class SlaPolicyIn(InputModel):
    name: Name
    position: Annotated[int, Field(ge=0, le=10_000)] = 0
    active: bool = True
    conditions: SlaConditions = Field(default_factory=SlaConditions)
    calendar_id: Id
    first_response_minutes: Minutes
    update_minutes: Minutes | None = None
    resolution_minutes: Minutes
    warning_minutes: Annotated[int, Field(ge=0, le=1440)] = 15


class SlaPolicyRead(ReadModel):
    id: int
    name: str
    position: int
    active: bool
    conditions: dict[str, Any]
    calendar_id: int
    first_response_minutes: int
    update_minutes: int | None
    resolution_minutes: int
    warning_minutes: int
