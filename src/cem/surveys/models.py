"""Surveys, their immutable published versions, and responses (one per respondent, saved page by page)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cem.db.base import Base, BigIntPK, IdMixin, TimestampMixin, UTCDateTime, utcnow

SURVEY_STATUSES = ("draft", "live", "paused", "closed")
RESPONSE_STATUSES = ("started", "completed")
CHANNELS = ("link", "email", "widget", "import", "api")


class Survey(IdMixin, TimestampMixin, Base):
    __tablename__ = "survey"
    __table_args__ = (Index("ix_survey_workspace_status", "workspace_id", "status"),)

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"))
    # Globally unique: the hosted page /s/<slug> is public and carries no workspace.
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    # The working copy edited by the builder; published versions are frozen copies of it.
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    current_version_id: Mapped[int | None] = mapped_column(BigIntPK, nullable=True)
    opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    close_after_responses: Mapped[int | None] = mapped_column(nullable=True)
    # Completed responses, kept as a counter so the auto-close check costs no COUNT(*) per submit.
    completed_count: Mapped[int] = mapped_column(default=0)
    created_by: Mapped[str] = mapped_column(String(200), default="")


class SurveyVersion(IdMixin, Base):
    __tablename__ = "survey_version"
    __table_args__ = (UniqueConstraint("survey_id", "number"),)

    survey_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("survey.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column()
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SurveyResponse(IdMixin, Base):
    __tablename__ = "survey_response"
    __table_args__ = (
        UniqueConstraint("survey_id", "submission_id"),
        Index("ix_survey_response_survey_started", "survey_id", "started_at"),
    )

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"), index=True)
    survey_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("survey.id", ondelete="CASCADE"))
    version_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("survey_version.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("customer.id", ondelete="CASCADE"), nullable=True, index=True
    )
    # feedback_record.submission_id of this response's answers (imports use the source's response id).
    submission_id: Mapped[str] = mapped_column(String(200))
    # Secret that lets the respondent resume (cookie + ?r= in the link); never shown to analysts.
    resume_key: Mapped[str] = mapped_column(String(64), unique=True)
    language: Mapped[str] = mapped_column(String(16), default="en")
    channel: Mapped[str] = mapped_column(String(16), default="link")
    invitation_id: Mapped[int | None] = mapped_column(BigIntPK, nullable=True, index=True)
    hidden: Mapped[dict[str, Any]] = mapped_column(default=dict)
    variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)  # question id -> normalised value
    current_page_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    page_history: Mapped[list[str]] = mapped_column(JSON, default=list)  # visited pages, for "back"
    # Nonce of the page form last rendered, and the outcome of each nonce already submitted
    # (nonce -> {"page": id} | {"ending": id}) so a double submit replays instead of storing twice.
    page_nonce: Mapped[str] = mapped_column(String(64), default="")
    used_nonces: Mapped[dict[str, Any]] = mapped_column(default=dict)
    page_shown_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="started")
    ending_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
