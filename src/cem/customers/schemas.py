from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import EmailStr, Field, model_validator

from cem.schemas import ExternalId, Id, InputModel, Key, Name, ReadModel


class CustomerRef(InputModel):
    """Identifies a customer by external id and/or email; unknown customers are created."""

    external_id: ExternalId | None = None
    email: EmailStr | None = None
    name: Name | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _needs_identity(self) -> CustomerRef:
        if not self.external_id and not self.email:
            raise ValueError("a customer needs an external_id or an email")
        return self


class CustomerIn(CustomerRef):
    pass


class CustomerUpdate(InputModel):
    email: EmailStr | None = None
    name: Name | None = None
    attributes: dict[str, Any] | None = None


class CustomerRead(ReadModel):
    id: int
    external_id: str | None
    email: str | None
    name: str | None
    attributes: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class EventIn(InputModel):
    """An interaction event. `external_id` makes re-sends idempotent; without it a content hash is used."""

    customer: CustomerRef | None = None
    customer_id: Id | None = None
    touchpoint: Key | None = None
    type: Key
    occurred_at: datetime
    properties: dict[str, Any] = Field(default_factory=dict)
    value: float | None = None
    external_id: ExternalId | None = None

    @model_validator(mode="after")
    def _needs_customer(self) -> EventIn:
        if self.customer is None and self.customer_id is None:
            raise ValueError("an event needs a customer or a customer_id")
        return self


class EventRead(ReadModel):
    id: int
    customer_id: int
    touchpoint_id: int | None
    external_id: str | None
    type: str
    occurred_at: datetime
    properties: dict[str, Any]
    value: float | None
