"""Topics of a workspace (two levels, discovered or rule-defined) and which feedback records carry them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cem.db.base import Base, BigIntPK, IdMixin, UTCDateTime, utcnow

TOPIC_KINDS = ("discovered", "rule")
# active: shown and assigned. deleted: kept as a tombstone whose centroid absorbs its theme, so neither new
# feedback nor re-discovery brings it back. merged / split: replaced by the topic(s) the user made of it.
TOPIC_STATUSES = ("active", "deleted", "merged", "split")


class Topic(IdMixin, Base):
    __tablename__ = "topic"
    __table_args__ = (
        UniqueConstraint("workspace_id", "key"),
        Index("ix_topic_ws_status", "workspace_id", "status"),
    )

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"))
    # Stable identifier used in feedback_record.topics and metrics; a subtopic's key is "<parent key>/<slug>".
    key: Mapped[str] = mapped_column(String(200))
    label: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("topic.id", ondelete="CASCADE"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(16), default="discovered")
    rule_query: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Unit float32 centroid of the members' embeddings; new feedback goes to the nearest one above `threshold`.
    centroid: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    terms: Mapped[str] = mapped_column(String(1000), default="")  # the distinctive terms, comma-separated
    status: Mapped[str] = mapped_column(String(16), default="active")
    merged_into_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("topic.id", ondelete="SET NULL"), nullable=True
    )
    # Edits a re-discovery must keep: a renamed label, and any structural edit (merge, split, rule, delete).
    label_edited: Mapped[bool] = mapped_column(Boolean, default=False)
    user_edited: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class RecordTopic(Base):
    """One feedback record carries one topic (and, for a subtopic, its parent too), with a similarity score."""

    __tablename__ = "record_topic"
    __table_args__ = (Index("ix_record_topic_topic", "topic_id", "record_id"),)

    record_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("feedback_record.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("topic.id", ondelete="CASCADE"), primary_key=True)
    score: Mapped[float] = mapped_column(Float, default=1.0)
