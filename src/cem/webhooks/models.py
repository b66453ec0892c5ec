"""Outbound webhooks: subscriptions per workspace, one delivery per (event, subscription), and every attempt."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cem.db.base import Base, BigIntPK, IdMixin, TimestampMixin, UTCDateTime, utcnow


class WebhookSubscription(IdMixin, TimestampMixin, Base):
    __tablename__ = "webhook_subscription"

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(500), default="")
    # The event types it receives (cem.webhooks.events.EVENT_TYPES); a plain JSON list on both dialects.
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(default=True)
    # Fernet token of the `whsec_` secret (cem.sources.signing): signing needs the raw secret, a dump alone must not
    # reveal it.
    secret_encrypted: Mapped[str] = mapped_column(Text)
    # Why it was disabled automatically (410 Gone, failing for days), shown on its page; "" when enabled by hand.
    disabled_reason: Mapped[str] = mapped_column(Text, default="")
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Start of the current run of failed attempts (None after a success): the automatic disabling's clock.
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class WebhookDelivery(IdMixin, Base):
    """One message to one subscription. `body` is the exact signed JSON text: every attempt sends the same bytes
    under the same `message_id` (the webhook-id receivers dedupe by)."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_subscription_id_id", "subscription_id", "id"),)

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"), index=True)
    subscription_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("webhook_subscription.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    event_type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    # pending (an attempt is queued) -> succeeded | failed (every scheduled attempt failed) | cancelled (disabled)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    response_ms: Mapped[int | None] = mapped_column(nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookAttempt(IdMixin, Base):
    """One HTTP request of a delivery and what came back (the delivery log's detail)."""

    __tablename__ = "webhook_attempt"

    delivery_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("webhook_delivery.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column()
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status_code: Mapped[int | None] = mapped_column(nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    response_ms: Mapped[int] = mapped_column(default=0)
    # The first bytes of the receiver's answer, as text (hostile: escaped wherever shown).
    response_excerpt: Mapped[str] = mapped_column(Text, default="")
