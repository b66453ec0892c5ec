"""Webhook subscriptions and the delivery log over JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints

from cem.schemas import InputModel, ReadModel
from cem.webhooks.addresses import url_problem
from cem.webhooks.events import EVENT_TYPES, EventType

DeliveryStatus = Literal["pending", "succeeded", "failed", "cancelled"]


def _http_url(value: str) -> str:
    if problem := url_problem(value):
        raise ValueError(f"the URL {problem}")
    return value


EndpointUrl = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), AfterValidator(_http_url)
]
EventTypes = Annotated[list[EventType], Field(min_length=1, max_length=len(EVENT_TYPES))]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


def _unique(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("list each event type once")
    return values


UniqueEventTypes = Annotated[EventTypes, AfterValidator(_unique)]


class SubscriptionCreate(InputModel):
    url: EndpointUrl = Field(description="an http(s) URL; private and loopback addresses are refused by default")
    event_types: UniqueEventTypes
    description: Description = ""
    enabled: bool = True


class SubscriptionUpdate(InputModel):
    """Every field optional. Enabling a subscription that was disabled automatically clears the reason."""

    url: EndpointUrl | None = None
    event_types: UniqueEventTypes | None = None
    description: Description | None = None
    enabled: bool | None = None


class SubscriptionRead(ReadModel):
    id: int
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str
    disabled_at: datetime | None
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime


class SubscriptionWithSecret(SubscriptionRead):
    """Returned on create and rotate: the only time the signing secret is shown."""

    secret: str = Field(description="whsec_...: verify deliveries with a Standard Webhooks library; shown once")


class AttemptRead(ReadModel):
    number: int
    at: datetime
    status_code: int | None
    error: str
    response_ms: int
    response_excerpt: str


class DeliveryRead(ReadModel):
    id: int
    subscription_id: int
    message_id: str = Field(description="the webhook-id header: the same on every attempt")
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str
    response_ms: int | None
    delivered_at: datetime | None
    created_at: datetime


class DeliveryDetail(DeliveryRead):
    payload: dict[str, Any]
    attempt_log: list[AttemptRead]
