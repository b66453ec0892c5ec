"""Outbound webhooks over JSON: subscriptions (the secret shown once), the delivery log, send again, test."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request, Response

from cem.api.body import StrictJsonRoute
from cem.api.deps import DbSession, WebhookManager, get_settings
from cem.schemas import Id, Page
from cem.webhooks import service
from cem.webhooks.events import EventType
from cem.webhooks.schemas import (
    AttemptRead,
    DeliveryDetail,
    DeliveryRead,
    DeliveryStatus,
    SubscriptionCreate,
    SubscriptionRead,
    SubscriptionUpdate,
    SubscriptionWithSecret,
)

router = APIRouter(tags=["webhooks"], route_class=StrictJsonRoute)


def _issued(issued: service.IssuedSubscription) -> SubscriptionWithSecret:
    read = SubscriptionRead.model_validate(issued.subscription)
    return SubscriptionWithSecret(**read.model_dump(), secret=issued.secret)


def delivery_detail(session: DbSession, delivery_id: int, workspace_id: int) -> DeliveryDetail:
    delivery = service.get_delivery(session, workspace_id=workspace_id, delivery_id=delivery_id)
    read = DeliveryRead.model_validate(delivery)
    attempts = [AttemptRead.model_validate(a) for a in service.attempts_of(session, delivery.id)]
    return DeliveryDetail(**read.model_dump(), payload=orjson.loads(delivery.body), attempt_log=attempts)


@router.get("/webhooks/deliveries", response_model=Page[DeliveryRead], summary="The delivery log, newest first")
def list_deliveries(
    session: DbSession,
    actor: WebhookManager,
    subscription_id: Annotated[Id | None, Query()] = None,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    event_type: Annotated[EventType | None, Query()] = None,
    cursor: Annotated[Id | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_DELIVERIES_PAGE)] = 50,
) -> Page[DeliveryRead]:
    """Filter by subscription, status (pending, succeeded, failed, cancelled) and event type."""
    rows = service.list_deliveries(
        session,
        workspace_id=actor.workspace_id,
        subscription_id=subscription_id,
        status=status,
        event_type=event_type,
        before_id=cursor,
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(
        items=[DeliveryRead.model_validate(r) for r in rows], next_cursor=str(rows[-1].id) if more and rows else None
    )


@router.get("/webhooks/deliveries/{delivery_id}", response_model=DeliveryDetail, summary="A delivery and its attempts")
def get_delivery(session: DbSession, actor: WebhookManager, delivery_id: Id) -> DeliveryDetail:
    """The signed payload, and every attempt with its status code, error, time taken and the answer's first bytes."""
    return delivery_detail(session, delivery_id, actor.workspace_id)


@router.post(
    "/webhooks/deliveries/{delivery_id}/redeliver",
    response_model=DeliveryRead,
    status_code=202,
    summary="Send a delivery again (same webhook-id and body)",
)
def redeliver(session: DbSession, actor: WebhookManager, delivery_id: Id) -> DeliveryRead:
    """One more attempt now; receivers that already processed the webhook-id ignore it."""
    return DeliveryRead.model_validate(service.redeliver(session, actor=actor, delivery_id=delivery_id))


@router.get("/webhooks", response_model=list[SubscriptionRead], summary="List webhook subscriptions")
def list_subscriptions(session: DbSession, actor: WebhookManager) -> list[SubscriptionRead]:
    """Every subscription of the workspace (never a secret), with why it was disabled when it was."""
    rows = service.list_subscriptions(session, workspace_id=actor.workspace_id)
    return [SubscriptionRead.model_validate(s) for s in rows]


@router.post(
    "/webhooks",
    response_model=SubscriptionWithSecret,
    status_code=201,
    summary="Subscribe a URL to event types (the signing secret is shown once)",
)
def create_subscription(
    request: Request, session: DbSession, actor: WebhookManager, subscription_in: SubscriptionCreate
) -> SubscriptionWithSecret:
    """Deliveries are signed as Standard Webhooks says; verify them with the returned `whsec_` secret."""
    settings = get_settings(request)
    return _issued(
        service.create_subscription(session, actor=actor, subscription_in=subscription_in, settings=settings)
    )


@router.get("/webhooks/{subscription_id}", response_model=SubscriptionRead, summary="Get a webhook subscription")
def get_subscription(session: DbSession, actor: WebhookManager, subscription_id: Id) -> SubscriptionRead:
    found = service.get_subscription(session, workspace_id=actor.workspace_id, subscription_id=subscription_id)
    return SubscriptionRead.model_validate(found)


@router.patch("/webhooks/{subscription_id}", response_model=SubscriptionRead, summary="Change a webhook subscription")
def update_subscription(
    request: Request, session: DbSession, actor: WebhookManager, subscription_id: Id, update: SubscriptionUpdate
) -> SubscriptionRead:
    """URL, event types, description, enabled; enabling a disabled subscription clears its disabled reason."""
    found = service.update_subscription(
        session, actor=actor, subscription_id=subscription_id, update=update, settings=get_settings(request)
    )
    return SubscriptionRead.model_validate(found)


@router.delete("/webhooks/{subscription_id}", status_code=204, summary="Delete a webhook subscription and its log")
def delete_subscription(session: DbSession, actor: WebhookManager, subscription_id: Id) -> Response:
    service.delete_subscription(session, actor=actor, subscription_id=subscription_id)
    return Response(status_code=204)


@router.post(
    "/webhooks/{subscription_id}/rotate-secret",
    response_model=SubscriptionWithSecret,
    summary="Replace the signing secret (shown once)",
)
def rotate_secret(
    request: Request, session: DbSession, actor: WebhookManager, subscription_id: Id
) -> SubscriptionWithSecret:
    settings = get_settings(request)
    return _issued(service.rotate_secret(session, actor=actor, subscription_id=subscription_id, settings=settings))


@router.post(
    "/webhooks/{subscription_id}/test",
    response_model=DeliveryRead,
    status_code=202,
    summary="Send a webhook.test event to the subscription",
)
def send_test(session: DbSession, actor: WebhookManager, subscription_id: Id) -> DeliveryRead:
    return DeliveryRead.model_validate(service.send_test(session, actor=actor, subscription_id=subscription_id))
