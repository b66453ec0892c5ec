"""API shapes of survey responses as the CX team sends and reads them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from cem.customers.schemas import CustomerRef
from cem.schemas import ExternalId, InputModel, ReadModel


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
