"""API shapes of surveys and versions (responses: cem.responses.schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from cem.schemas import InputModel, Name, ReadModel


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
