"""Customers and their interaction events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cem.db.base import Base, BigIntPK, IdMixin, TimestampMixin, UTCDateTime


class Customer(IdMixin, TimestampMixin, Base):
    __tablename__ = "customer"
    __table_args__ = (
        UniqueConstraint("workspace_id", "external_id"),
        Index("ix_customer_workspace_email", "workspace_id", "email"),
    )

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Event(IdMixin, Base):
    """An interaction event: something a customer did or that happened to them."""

    __tablename__ = "event"
    __table_args__ = (
        UniqueConstraint("workspace_id", "external_id"),
        Index("ix_event_customer_time", "customer_id", "occurred_at"),
        Index("ix_event_workspace_type_time", "workspace_id", "type", "occurred_at"),
    )

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("customer.id", ondelete="CASCADE"))
    touchpoint_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("touchpoint.id", ondelete="SET NULL"), nullable=True, index=True
    )
    # Idempotency key supplied by the sender; re-sending the same event updates it.
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    type: Mapped[str] = mapped_column(String(100))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
