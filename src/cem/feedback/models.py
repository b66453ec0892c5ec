"""The unified feedback store: one typed row per answer or text, from any source."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from cem.db.base import Base, BigIntPK, IdMixin, UTCDateTime

SOURCE_TYPES = ("survey", "review", "ticket", "chat", "social", "csv", "api")
FIELD_TYPES = ("nps", "csat", "ces", "rating", "number", "choice", "text", "boolean", "date")
NUMERIC_FIELD_TYPES = ("nps", "csat", "ces", "rating", "number")


class FeedbackRecord(IdMixin, Base):
    __tablename__ = "feedback_record"
    __table_args__ = (
        # Re-sending the same (source, submission, field) updates the row, never duplicates it.
        UniqueConstraint("workspace_id", "source_type", "source_name", "submission_id", "field_id"),
        Index("ix_feedback_record_ws_collected", "workspace_id", "collected_at", "id"),
        Index("ix_feedback_record_customer_collected", "customer_id", "collected_at"),
        # Most records name no touchpoint; leaving them out keeps bulk inserts fast (see migration 0011).
        Index(
            "ix_feedback_record_touchpoint_id",
            "touchpoint_id",
            sqlite_where=text("touchpoint_id IS NOT NULL"),
            postgresql_where=text("touchpoint_id IS NOT NULL"),
        ),
        # Frontline views look records up by agent or team; partial, so records naming neither cost nothing
        # (migration 0017).
        *(
            Index(
                f"ix_feedback_record_ws_{column}",
                "workspace_id",
                column,
                sqlite_where=text(f"{column} IS NOT NULL"),
                postgresql_where=text(f"{column} IS NOT NULL"),
            )
            for column in ("agent", "team")
        ),
    )

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"))
    source_type: Mapped[str] = mapped_column(String(16))
    source_name: Mapped[str] = mapped_column(String(200))
    submission_id: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("customer.id", ondelete="CASCADE"), nullable=True
    )
    touchpoint_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("touchpoint.id", ondelete="SET NULL"), nullable=True
    )
    collected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    field_id: Mapped[str] = mapped_column(String(200))
    field_label: Mapped[str] = mapped_column(String(1000), default="")
    field_type: Mapped[str] = mapped_column(String(16))
    value_number: Mapped[float | None] = mapped_column(Float, nullable=True)
    value_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    value_bool: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    value_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    # The interaction's context as its source names it: channel (a short lowercase key; analytics falls back to
    # source_type) and who handled it (free identifiers, e.g. a ticket's assignee and group).
    channel: Mapped[str | None] = mapped_column(String(64), nullable=True)
    agent: Mapped[str | None] = mapped_column(String(200), nullable=True)
    team: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # The declared scale of a rating-like value (NPS, CSAT, CES, rating; a number may have one): see cem.scores.
    scale_min: Mapped[float | None] = mapped_column(Float, nullable=True)
    scale_max: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Enrichment columns, filled by text analytics; empty until then.
    sentiment_label: Mapped[str | None] = mapped_column(String(16), nullable=True)
    sentiment_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    emotions: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    topics: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    enriched_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
