from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import EmailStr, Field

from cem.schemas import InputModel, Name, ReadModel


class TokenIn(InputModel):
    name: Name
    role: str = "analyst"
    scopes: list[str] = Field(default_factory=list)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class TokenRead(ReadModel):
    id: int
    name: str
    prefix: str
    role: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenIssued(TokenRead):
    token: str = Field(description="The secret; shown once, store it now.")


class MemberIn(InputModel):
    email: EmailStr
    name: str = Field(default="", max_length=200)
    password: str = Field(default="", max_length=200)
    role: str


class MemberRead(ReadModel):
    id: int
    email: str
    name: str
    role: str


class AuditRead(ReadModel):
    id: int
    actor_type: str
    actor_label: str
    action: str
    entity_type: str
    entity_id: str
    details: dict[str, Any]
    at: datetime


class JobRead(ReadModel):
    id: int
    name: str
    status: str
    priority: int = Field(description="lower runs first: 0 interactive (imports, sends), 50 normal, 100 bulk")
    attempts: int
    max_attempts: int
    run_at: datetime
    last_error: str | None
    progress_current: int
    progress_total: int
    progress_message: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
