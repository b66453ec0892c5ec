"""API shapes of surveys, versions and responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from cem.customers.schemas import CustomerRef
from cem.schemas import ExternalId, InputModel, Name, ReadModel


class SurveyCreate(InputModel):
    name: Name
    slug: str | None = Field(default=None, max_length=80)
    # Checked by the service so schema errors come back located under "definition".
    definition: dict[str, Any] | None = None


class SurveyUpdate(InputModel):
    name: Name | None = None
    slug: str | None = Field(default=None, max_length=80)
    definition: dict[str, Any] | None = None


class DefinitionIn(InputModel):
    definition: dict[str, Any]


class Problem(ReadModel):
    path: str
    message: str
    code: str
    severity: Literal["error", "warning"]


class ValidationReport(ReadModel):
    valid: bool
    errors: list[Problem]
    warnings: list[Problem]


class SurveyRead(ReadModel):
    id: int
    slug: str
    name: str
    status: str
    url: str
    current_version: int | None
    opens_at: datetime | None
    closes_at: datetime | None
    close_after_responses: int | None
    completed_count: int
    created_by: str
    created_at: datetime
    updated_at: datetime


class SurveyDetail(SurveyRead):
    definition: dict[str, Any]
    problems: list[Problem]
    responses: dict[str, int]


class VersionRead(ReadModel):
    number: int
    created_by: str
    created_at: datetime


class VersionDetail(VersionRead):
    definition: dict[str, Any]


class AnswerView(ReadModel):
    question_id: str
    page_id: str
    type: str
    headline: str
    value: Any
    display: str


class ResponseRead(ReadModel):
    id: int
    survey_id: int
    version: int
    customer_id: int | None
    submission_id: str
    language: str
    channel: str
    invitation_id: int | None
    status: str
    current_page_id: str | None
    ending_id: str | None
    hidden: dict[str, Any]
    variables: dict[str, Any]
    answers: dict[str, Any]
    metadata: dict[str, Any]
    started_at: datetime
    completed_at: datetime | None


class ResponseDetail(ResponseRead):
    items: list[AnswerView]


class ResponsePage(ReadModel):
    items: list[ResponseRead]
    next_cursor: str | None = None


class ResponseIn(InputModel):
    """A whole response sent at once (e.g. collected by another tool); stored completed."""

    answers: dict[str, Any]
    submission_id: ExternalId | None = None
    customer: CustomerRef | None = None
    language: str | None = Field(default=None, max_length=16)
    hidden: dict[str, str] = Field(default_factory=dict)
    started_at: datetime | None = None
    completed_at: datetime | None = None
