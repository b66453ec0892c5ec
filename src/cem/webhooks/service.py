"""Managing webhook subscriptions (the secret is shown once, on create and rotate) and reading the delivery log."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from cem.auth import audit
from cem.auth.principal import Principal
from cem.config import Settings
from cem.db.base import utcnow
from cem.errors import Conflict, InvalidInput, NotFound
from cem.sources import signing
from cem.webhooks import events, outbox
from cem.webhooks.addresses import AddressRefused, resolve
from cem.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from cem.webhooks.schemas import SubscriptionCreate, SubscriptionUpdate
from cem.webhooks.sender import new_secret

MAX_DELIVERIES_PAGE = 200


@dataclass
class IssuedSubscription:
    subscription: WebhookSubscription
    secret: str  # shown once; only an encrypted copy is stored


def list_subscriptions(session: Session, *, workspace_id: int) -> list[WebhookSubscription]:
    stmt = select(WebhookSubscription).where(WebhookSubscription.workspace_id == workspace_id)
    return list(session.scalars(stmt.order_by(WebhookSubscription.id)))


def get_subscription(session: Session, *, workspace_id: int, subscription_id: int) -> WebhookSubscription:
    """One subscription of the workspace, or 404 (also for another workspace's)."""
    found = session.get(WebhookSubscription, subscription_id)
    if found is None or found.workspace_id != workspace_id:
        raise NotFound(f"Webhook subscription {subscription_id} does not exist.")
    return found


def check_endpoint(url: str, settings: Settings) -> None:
    """Refuse, with the error located at `url`, an endpoint whose host resolves to a refused address."""
    try:
        resolve(url, allow_private=settings.webhooks_allow_private)
    except AddressRefused as exc:
        raise InvalidInput(
            f"The webhook URL cannot be used: {exc}.", errors=[{"loc": ["url"], "msg": str(exc)}]
        ) from None


def _set_secret(subscription: WebhookSubscription, settings: Settings) -> str:
    secret = new_secret()
    subscription.secret_encrypted = signing.encrypt_secret(secret, secret_key=settings.secret_key)
    return secret


def create_subscription(
    session: Session, *, actor: Principal, subscription_in: SubscriptionCreate, settings: Settings
) -> IssuedSubscription:
    """A new subscription with a fresh signing secret."""
    check_endpoint(subscription_in.url, settings)
    subscription = WebhookSubscription(
        workspace_id=actor.workspace_id,
        url=subscription_in.url,
        description=subscription_in.description,
        event_types=list(subscription_in.event_types),
        enabled=subscription_in.enabled,
        disabled_reason="",
    )
    secret = _set_secret(subscription, settings)
    session.add(subscription)
    session.flush()
    events.forget_types(actor.workspace_id)
    audit.record(
        session,
        actor,
        "webhook.create",
        entity_type="webhook_subscription",
        entity_id=subscription.id,
        details={"url": subscription.url, "event_types": subscription.event_types},
    )
    return IssuedSubscription(subscription=subscription, secret=secret)


def update_subscription(
    session: Session, *, actor: Principal, subscription_id: int, update: SubscriptionUpdate, settings: Settings
) -> WebhookSubscription:
    """Change URL, events, description or the enabled flag; enabling clears an automatic disabling."""
    subscription = get_subscription(session, workspace_id=actor.workspace_id, subscription_id=subscription_id)
    if update.url is not None and update.url != subscription.url:
        check_endpoint(update.url, settings)
        subscription.url = update.url
    if update.event_types is not None:
        subscription.event_types = list(update.event_types)
    if update.description is not None:
        subscription.description = update.description
    if update.enabled is True and not subscription.enabled:
        subscription.enabled = True
        subscription.disabled_reason, subscription.disabled_at, subscription.failing_since = "", None, None
    elif update.enabled is False and subscription.enabled:
        outbox.disable(session, subscription, reason="", now=utcnow())
    subscription.updated_at = utcnow()
    session.flush()
    events.forget_types(actor.workspace_id)
    audit.record(
        session,
        actor,
        "webhook.update",
        entity_type="webhook_subscription",
        entity_id=subscription.id,
        details=update.model_dump(exclude_none=True),
    )
    return subscription


def delete_subscription(session: Session, *, actor: Principal, subscription_id: int) -> None:
    """Delete it with its delivery log; queued attempts find nothing and stop."""
    subscription = get_subscription(session, workspace_id=actor.workspace_id, subscription_id=subscription_id)
    session.delete(subscription)
    session.flush()
    events.forget_types(actor.workspace_id)
    audit.record(session, actor, "webhook.delete", entity_type="webhook_subscription", entity_id=subscription_id)


def rotate_secret(
    session: Session, *, actor: Principal, subscription_id: int, settings: Settings
) -> IssuedSubscription:
    """A new signing secret from now on (attempts still queued are signed with it too)."""
    subscription = get_subscription(session, workspace_id=actor.workspace_id, subscription_id=subscription_id)
    secret = _set_secret(subscription, settings)
    subscription.updated_at = utcnow()
    audit.record(session, actor, "webhook.rotate_secret", entity_type="webhook_subscription", entity_id=subscription.id)
    return IssuedSubscription(subscription=subscription, secret=secret)


def send_test(session: Session, *, actor: Principal, subscription_id: int) -> WebhookDelivery:
    """Queue a `webhook.test` message to one subscription, whatever events it chose."""
    subscription = get_subscription(session, workspace_id=actor.workspace_id, subscription_id=subscription_id)
    _require_enabled(subscription, "sending a test event")
    data = {"subscription_id": subscription.id, "message": "A test event sent from cem."}
    return outbox.enqueue_one(session, subscription, events.TEST_EVENT, data, now=utcnow())


def _require_enabled(subscription: WebhookSubscription, doing: str) -> None:
    if not subscription.enabled:
        raise Conflict(
            f"This subscription is disabled; enable it before {doing}.",
            errors=[{"loc": ["subscription_id"], "msg": subscription.disabled_reason or "disabled by hand"}],
        )


def list_deliveries(
    session: Session,
    *,
    workspace_id: int,
    subscription_id: int | None = None,
    status: str | None = None,
    event_type: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[WebhookDelivery]:
    """Newest first; `before_id` pages on."""
    stmt = select(WebhookDelivery).where(WebhookDelivery.workspace_id == workspace_id)
    if subscription_id is not None:
        stmt = stmt.where(WebhookDelivery.subscription_id == subscription_id)
    if status:
        stmt = stmt.where(WebhookDelivery.status == status)
    if event_type:
        stmt = stmt.where(WebhookDelivery.event_type == event_type)
    if before_id:
        stmt = stmt.where(WebhookDelivery.id < before_id)
    return list(session.scalars(stmt.order_by(WebhookDelivery.id.desc()).limit(min(limit, MAX_DELIVERIES_PAGE))))


def get_delivery(session: Session, *, workspace_id: int, delivery_id: int) -> WebhookDelivery:
    found = session.get(WebhookDelivery, delivery_id)
    if found is None or found.workspace_id != workspace_id:
        raise NotFound(f"Webhook delivery {delivery_id} does not exist.")
    return found


def attempts_of(session: Session, delivery_id: int) -> list[WebhookAttempt]:
    stmt = select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id).order_by(WebhookAttempt.number)
    return list(session.scalars(stmt))


def redeliver(session: Session, *, actor: Principal, delivery_id: int) -> WebhookDelivery:
    """ "Send again": one more attempt now, with the same webhook-id and body (receivers dedupe by the id)."""
    delivery = get_delivery(session, workspace_id=actor.workspace_id, delivery_id=delivery_id)
    subscription = session.get_one(WebhookSubscription, delivery.subscription_id)
    _require_enabled(subscription, "sending again")
    if delivery.status == "pending":
        raise Conflict(f"Delivery {delivery.id} already has an attempt queued (attempt {delivery.attempts + 1}).")
    outbox.queue_attempt(session, delivery, number=delivery.attempts + 1, manual=True, now=utcnow())
    audit.record(session, actor, "webhook.redeliver", entity_type="webhook_delivery", entity_id=delivery.id)
    return delivery
