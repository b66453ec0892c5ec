"""The closed loop's tables: alert rules and their firings, teams, cases with their activity, SLA policies and
business-hours calendars."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cem.db.base import Base, BigIntPK, IdMixin, TimestampMixin, UTCDateTime, utcnow

CASE_STATUSES = ("new", "open", "waiting_on_customer", "resolved", "closed")
OPEN_STATUSES = ("new", "open", "waiting_on_customer")
PRIORITIES = ("low", "normal", "high", "urgent")


class Team(IdMixin, TimestampMixin, Base):
    __tablename__ = "team"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    lead_user_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True
    )


class TeamMember(IdMixin, Base):
    __tablename__ = "team_member"
    __table_args__ = (UniqueConstraint("team_id", "user_id"),)

    team_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("team.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("app_user.id", ondelete="CASCADE"), index=True)


class AlertRule(IdMixin, TimestampMixin, Base):
    __tablename__ = "alert_rule"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(2000), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The condition tree (cem.cases.conditions.Group as JSON) and the actions (cem.cases.schemas.RuleActions).
    condition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    actions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # A rule with a sentiment or topic condition waits for enrichment (evaluated on `records_enriched`).
    needs_enrichment: Mapped[bool] = mapped_column(Boolean, default=False)
    dedupe_window_hours: Mapped[int] = mapped_column(Integer, default=168)
    created_by: Mapped[str] = mapped_column(String(320), default="")


class AlertFiring(IdMixin, Base):
    """One rule matching one submission, with why; unique per rule and submission, so re-evaluation is a no-op."""

    __tablename__ = "alert_firing"
    __table_args__ = (
        UniqueConstraint("rule_id", "source_type", "source_name", "submission_id"),
        Index("ix_alert_firing_ws_fired", "workspace_id", "fired_at"),
    )

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"))
    rule_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("alert_rule.id", ondelete="CASCADE"))
    source_type: Mapped[str] = mapped_column(String(16))
    source_name: Mapped[str] = mapped_column(String(200))
    submission_id: Mapped[str] = mapped_column(String(200))
    record_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("feedback_record.id", ondelete="SET NULL"), nullable=True
    )
    customer_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("customer.id", ondelete="CASCADE"), nullable=True, index=True
    )
    case_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("case.id", ondelete="SET NULL"), nullable=True)
    # [{"condition": "nps <= 6", "value": 3, "record_id": 12}, ...]: which conditions matched, with what value.
    reason: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    outcome: Mapped[str] = mapped_column(String(32))  # case_opened | deduplicated | no_case
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class BusinessCalendar(IdMixin, TimestampMixin, Base):
    __tablename__ = "business_calendar"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    # {"mon": [["09:00", "12:00"], ["13:00", "17:00"]], ...}: work periods per weekday, local time.
    hours: Mapped[dict[str, Any]] = mapped_column(default=dict)
    holidays: Mapped[list[str]] = mapped_column(JSON, default=list)  # ISO dates, local


class SlaPolicy(IdMixin, TimestampMixin, Base):
    __tablename__ = "sla_policy"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)  # policies are tried in this order; first match wins
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # {"priorities": [...], "team_ids": [...], "customer_attribute": {"key": "plan", "value": "enterprise"}}
    conditions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    calendar_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("business_calendar.id", ondelete="RESTRICT"))
    first_response_minutes: Mapped[int] = mapped_column(Integer)
    update_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    resolution_minutes: Mapped[int] = mapped_column(Integer)
    warning_minutes: Mapped[int] = mapped_column(Integer, default=15)


class Case(IdMixin, TimestampMixin, Base):
    __tablename__ = "case"
    __table_args__ = (
        Index("ix_case_ws_status", "workspace_id", "status"),
        Index("ix_case_ws_owner", "workspace_id", "owner_id"),
        Index("ix_case_ws_team", "workspace_id", "team_id"),
        # The dedupe lookup: an open case of this customer from this rule.
        Index("ix_case_rule_customer", "rule_id", "customer_id"),
        # The SLA sweep reads only cases whose next deadline (warning or breach) has come.
        Index("ix_case_next_deadline", "next_deadline_at"),
    )

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    customer_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("customer.id", ondelete="CASCADE"), nullable=True, index=True
    )
    rule_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("alert_rule.id", ondelete="SET NULL"), nullable=True
    )
    # The triggering feedback: its submission, and the record whose condition matched first.
    source_type: Mapped[str | None] = mapped_column(String(16), nullable=True)
    source_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    submission_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    record_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("feedback_record.id", ondelete="SET NULL"), nullable=True
    )
    owner_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True
    )
    team_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("team.id", ondelete="SET NULL"), nullable=True)
    status: Mapped[str] = mapped_column(String(24), default="new")
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Closing: {"contacted": bool, "root_cause": str, "recovered": bool}.
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # SLA: the policy, due times recomputed from the status history on every change (cem.cases.sla), the next
    # moment the sweep must look at the case, and what the sweep did.
    sla_policy_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("sla_policy.id", ondelete="SET NULL"), nullable=True
    )
    first_response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    update_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolution_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    next_deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sla_warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Loop metrics read these (cem.analytics.sources): set when the moment happens, so every engine reads plain
    # numbers. Minutes are wall-clock; the 0/1 flags are None until known (no SLA, not closed yet).
    first_response_minutes: Mapped[float | None] = mapped_column(Float, nullable=True)
    resolution_minutes: Mapped[float | None] = mapped_column(Float, nullable=True)
    within_sla: Mapped[float | None] = mapped_column(Float, nullable=True)
    closed_loop: Mapped[float | None] = mapped_column(Float, nullable=True)  # contacted within the SLA
    recovered: Mapped[float | None] = mapped_column(Float, nullable=True)


class CaseActivity(IdMixin, Base):
    """The case's timeline: every change, note and reply, in order. Status changes are the SLA clock's history."""

    __tablename__ = "case_activity"
    __table_args__ = (Index("ix_case_activity_case_at", "case_id", "at", "id"),)

    case_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("case.id", ondelete="CASCADE"))
    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # created | status | assigned | priority | tags | note | reply | closed | sla_warning | sla_breached | escalated
    kind: Mapped[str] = mapped_column(String(24))
    actor_user_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True
    )
    actor_label: Mapped[str] = mapped_column(String(320), default="")
    body: Mapped[str | None] = mapped_column(Text, nullable=True)  # a note's or reply's text
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"from": ..., "to": ...}, a reply's delivery
