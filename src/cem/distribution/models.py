"""Distribution tables: audiences, contact rules, distributions, invitations, contacts, skips, opt-outs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cem.db.base import Base, BigIntPK, IdMixin, TimestampMixin, UTCDateTime, utcnow

DISTRIBUTION_CHANNELS = ("email", "trigger")
INVITATION_CHANNELS = ("email", "widget")
INVITATION_STATUSES = ("pending", "sent", "failed", "skipped")


class Audience(IdMixin, TimestampMixin, Base):
    """A saved filter over customers (the 'segment' a distribution is sent to)."""

    __tablename__ = "survey_audience"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(2000), default="")
    # {"match": "all"|"any", "conditions": [...]}, see audiences.AudienceFilter
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ContactSettings(Base):
    """A workspace's contact-frequency rules and widget origins (one row per workspace, defaults when absent)."""

    __tablename__ = "survey_contact_settings"

    workspace_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )
    global_cooldown_days: Mapped[float] = mapped_column(Float, default=0.0)
    max_per_period: Mapped[int | None] = mapped_column(nullable=True)
    period_days: Mapped[int] = mapped_column(default=30)
    quiet_start: Mapped[str | None] = mapped_column(String(5), nullable=True)  # "HH:MM" local
    quiet_end: Mapped[str | None] = mapped_column(String(5), nullable=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    allowed_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class SurveyChannelSettings(Base):
    """One survey's distribution settings: recontact rule, reminders, website widget targeting."""

    __tablename__ = "survey_channel_settings"

    survey_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("survey.id", ondelete="CASCADE"), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"), index=True)
    recontact_days: Mapped[float | None] = mapped_column(Float, nullable=True)
    respects_cooldown: Mapped[bool] = mapped_column(Boolean, default=True)
    email_subject: Mapped[str] = mapped_column(String(300), default="")
    widget_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    widget_url_pattern: Mapped[str] = mapped_column(String(500), default="*")
    widget_delay_seconds: Mapped[int] = mapped_column(default=0)
    widget_event: Mapped[str | None] = mapped_column(String(100), nullable=True)
    widget_display_percent: Mapped[float] = mapped_column(Float, default=100.0)
    allowed_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class SurveyTrigger(IdMixin, TimestampMixin, Base):
    """When an event of `event_type` arrives for a customer, send the survey after `delay_minutes`."""

    __tablename__ = "survey_trigger"
    __table_args__ = (
        UniqueConstraint("survey_id", "event_type"),
        Index("ix_survey_trigger_ws_type", "workspace_id", "event_type"),
    )

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"))
    survey_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("survey.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(100))
    delay_minutes: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Distribution(IdMixin, TimestampMixin, Base):
    """One sending of a survey: an email blast to an audience, or the stream of triggered sends."""

    __tablename__ = "survey_distribution"
    __table_args__ = (Index("ix_survey_distribution_survey", "survey_id"),)

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"), index=True)
    survey_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("survey.id", ondelete="CASCADE"))
    audience_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("survey_audience.id", ondelete="SET NULL"), nullable=True
    )
    channel: Mapped[str] = mapped_column(String(16), default="email")
    name: Mapped[str] = mapped_column(String(200), default="")
    subject: Mapped[str] = mapped_column(String(300), default="")
    # queued -> sending -> sent; reminders run afterwards
    status: Mapped[str] = mapped_column(String(16), default="queued")
    # Before migration 0012 a distribution had one reminder; still written (the first reminder's days) so
    # code of that time reads a sensible value, and read when `reminders` is empty (see reminder_schedule.py).
    reminder_after_days: Mapped[float | None] = mapped_column(Float, nullable=True)
    # [{"after_days": 3.0, "subject": ""}, ...] in increasing order of days (reminder_schedule.validate)
    reminders: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # {"<reminder number>": {"sent": n, "failed": n, "skipped": n, "deferred": n}}
    reminder_counts: Mapped[dict[str, dict[str, int]]] = mapped_column(JSON, default=dict)
    job_id: Mapped[int | None] = mapped_column(BigIntPK, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Invitation(IdMixin, Base):
    """One person's personal link: an email invitation, or a widget display."""

    __tablename__ = "survey_invitation"
    __table_args__ = (
        Index("ix_survey_invitation_distribution", "distribution_id", "status"),
        Index("ix_survey_invitation_survey", "survey_id", "channel"),
    )

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"), index=True)
    survey_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("survey.id", ondelete="CASCADE"))
    distribution_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("survey_distribution.id", ondelete="CASCADE"), nullable=True
    )
    customer_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("customer.id", ondelete="CASCADE"), nullable=True, index=True
    )
    channel: Mapped[str] = mapped_column(String(16), default="email")
    # 32 random URL-safe bytes: the link's only credential, bound to this person and one response.
    token: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The last reminder (number) done for this invitation: sent, or skipped by a contact rule.
    reminders_sent: Mapped[int] = mapped_column(default=0)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    response_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("survey_response.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Contact(IdMixin, Base):
    """A contact that the frequency rules count: a survey sent to, or shown to, a customer."""

    __tablename__ = "survey_contact"
    __table_args__ = (Index("ix_survey_contact_customer_at", "customer_id", "at"),)

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("customer.id", ondelete="CASCADE"))
    survey_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("survey.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    counts: Mapped[bool] = mapped_column(Boolean, default=True)  # towards the global cooldown / maximum
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ContactSkip(IdMixin, Base):
    """A person a survey was not sent to or shown to, and the rule that decided it."""

    __tablename__ = "survey_contact_skip"
    __table_args__ = (Index("ix_survey_contact_skip_survey_reason", "survey_id", "reason"),)

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"), index=True)
    survey_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("survey.id", ondelete="CASCADE"))
    distribution_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("survey_distribution.id", ondelete="CASCADE"), nullable=True, index=True
    )
    customer_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("customer.id", ondelete="CASCADE"), nullable=True, index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(String(300), default="")
    # The reminder (number) that was skipped or deferred; None when the invitation itself was.
    reminder: Mapped[int | None] = mapped_column(nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Unsubscribe(IdMixin, Base):
    """A customer who opted out of surveys (every channel)."""

    __tablename__ = "survey_unsubscribe"
    __table_args__ = (UniqueConstraint("workspace_id", "customer_id"),)

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    via: Mapped[str] = mapped_column(String(32), default="email_link")
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
