"""Webhook pages: subscriptions (add, edit with event checkboxes, disabled reason), the delivery log, send again."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from cem.api.deps import get_db, get_settings
from cem.auth.principal import Principal
from cem.errors import CEMError
from cem.schemas import Id
from cem.web.deps import PageWebhooks, render
from cem.web.forms import see_other, validation_message
from cem.webhooks import service
from cem.webhooks.events import EVENT_TYPES
from cem.webhooks.schemas import SubscriptionCreate, SubscriptionUpdate

router = APIRouter()

Url = Annotated[str, Form(max_length=4000)]
Description = Annotated[str, Form(max_length=2000)]
EventChoices = Annotated[list[str], Form(max_length=50)]
STATUSES = ("pending", "succeeded", "failed", "cancelled")


def _index(request: Request, principal: Principal, *, status: int = 200, **context: Any) -> Response:
    with get_db(request).unit_of_work(readonly=True) as session:
        subscriptions = service.list_subscriptions(session, workspace_id=principal.workspace_id)
        deliveries = service.list_deliveries(session, workspace_id=principal.workspace_id, limit=50)
    form = context.pop("form", None) or {"url": "", "description": "", "event_types": []}
    response = render(
        request,
        "webhooks/index.html",
        principal,
        subscriptions=subscriptions,
        deliveries=deliveries,
        event_types=EVENT_TYPES,
        form=form,
        errors=context.pop("errors", []),
        **context,
    )
    response.status_code = status
    return response


def _detail(
    request: Request, principal: Principal, subscription_id: int, *, status: int = 200, **context: Any
) -> Response:
    wanted = request.query_params.get("status")
    with get_db(request).unit_of_work(readonly=True) as session:
        subscription = service.get_subscription(
            session, workspace_id=principal.workspace_id, subscription_id=subscription_id
        )
        deliveries = service.list_deliveries(
            session,
            workspace_id=principal.workspace_id,
            subscription_id=subscription_id,
            status=wanted if wanted in STATUSES else None,
            limit=100,
        )
    response = render(
        request,
        "webhooks/detail.html",
        principal,
        subscription=subscription,
        deliveries=deliveries,
        event_types=EVENT_TYPES,
        statuses=STATUSES,
        wanted=wanted,
        errors=context.pop("errors", []),
        **context,
    )
    response.status_code = status
    return response


@router.get("/webhooks")
def webhooks_page(request: Request, principal: PageWebhooks) -> Response:
    """Every subscription, the add form and the latest deliveries."""
    return _index(request, principal)


@router.post("/webhooks")
def create_subscription(
    request: Request,
    principal: PageWebhooks,
    url: Url,
    description: Description = "",
    event_types: EventChoices = [],  # noqa: B006  (FastAPI copies form defaults)
) -> Response:
    """Create a subscription and show its secret once; a bad form comes back as typed with every problem."""
    form = {"url": url, "description": description, "event_types": event_types}
    try:
        subscription_in = SubscriptionCreate(url=url, description=description, event_types=event_types)
        with get_db(request).unit_of_work() as session:
            issued = service.create_subscription(
                session, actor=principal, subscription_in=subscription_in, settings=get_settings(request)
            )
    except ValidationError as exc:
        return _index(request, principal, status=422, form=form, errors=[validation_message(exc)])
    except CEMError as exc:
        return _index(request, principal, status=exc.status_code, form=form, errors=[exc.detail])
    subscription_id = issued.subscription.id
    return _detail(request, principal, subscription_id, status=201, secret=issued.secret, notice="Subscription added.")


@router.get("/webhooks/deliveries/{delivery_id}")
def delivery_page(request: Request, principal: PageWebhooks, delivery_id: Id) -> Response:
    """One delivery: the signed payload and every attempt with its status code and answer."""
    with get_db(request).unit_of_work(readonly=True) as session:
        delivery = service.get_delivery(session, workspace_id=principal.workspace_id, delivery_id=delivery_id)
        attempts = service.attempts_of(session, delivery.id)
        subscription = service.get_subscription(
            session, workspace_id=principal.workspace_id, subscription_id=delivery.subscription_id
        )
    payload = orjson.dumps(orjson.loads(delivery.body), option=orjson.OPT_INDENT_2).decode()
    return render(
        request,
        "webhooks/delivery.html",
        principal,
        delivery=delivery,
        attempts=attempts,
        subscription=subscription,
        payload=payload,
        notice=request.query_params.get("sent") and "Queued to be sent again.",
    )


@router.post("/webhooks/deliveries/{delivery_id}/redeliver")
def redeliver(request: Request, principal: PageWebhooks, delivery_id: Id) -> Response:
    """ "Send again", then back to the delivery (a refusal, e.g. a disabled subscription, shows its reason)."""
    with get_db(request).unit_of_work() as session:
        service.redeliver(session, actor=principal, delivery_id=delivery_id)
    return see_other(f"/webhooks/deliveries/{delivery_id}?sent=1")


@router.get("/webhooks/{subscription_id}")
def subscription_page(request: Request, principal: PageWebhooks, subscription_id: Id) -> Response:
    """One subscription: edit form, disabled reason, secret rotation, test event and its delivery log."""
    return _detail(request, principal, subscription_id)


@router.post("/webhooks/{subscription_id}")
def update_subscription(
    request: Request,
    principal: PageWebhooks,
    subscription_id: Id,
    url: Url,
    description: Description = "",
    enabled: Annotated[bool, Form()] = False,
    event_types: EventChoices = [],  # noqa: B006
) -> Response:
    """Save the edit form; a bad one is shown again with every problem listed and nothing changed."""
    try:
        update = SubscriptionUpdate(url=url, description=description, enabled=enabled, event_types=event_types)
        with get_db(request).unit_of_work() as session:
            service.update_subscription(
                session, actor=principal, subscription_id=subscription_id, update=update, settings=get_settings(request)
            )
    except ValidationError as exc:
        return _detail(request, principal, subscription_id, status=422, errors=[validation_message(exc)])
    except CEMError as exc:
        return _detail(request, principal, subscription_id, status=exc.status_code, errors=[exc.detail])
    return see_other(f"/webhooks/{subscription_id}")


@router.post("/webhooks/{subscription_id}/rotate")
def rotate_secret(request: Request, principal: PageWebhooks, subscription_id: Id) -> Response:
    """A new secret, shown once on the returned page."""
    with get_db(request).unit_of_work() as session:
        issued = service.rotate_secret(
            session, actor=principal, subscription_id=subscription_id, settings=get_settings(request)
        )
    return _detail(request, principal, issued.subscription.id, secret=issued.secret, notice="Secret rotated.")


@router.post("/webhooks/{subscription_id}/test")
def send_test(request: Request, principal: PageWebhooks, subscription_id: Id) -> Response:
    """Queue a webhook.test event, then show the log it will appear in."""
    try:
        with get_db(request).unit_of_work() as session:
            service.send_test(session, actor=principal, subscription_id=subscription_id)
    except CEMError as exc:
        return _detail(request, principal, subscription_id, status=exc.status_code, errors=[exc.detail])
    return _detail(request, principal, subscription_id, notice="Test event queued.")


@router.post("/webhooks/{subscription_id}/delete")
def delete_subscription(request: Request, principal: PageWebhooks, subscription_id: Id) -> Response:
    with get_db(request).unit_of_work() as session:
        service.delete_subscription(session, actor=principal, subscription_id=subscription_id)
    return see_other("/webhooks")
