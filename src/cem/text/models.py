"""Text analytics tables: stored embeddings for search, label corrections, and per-workspace sentiment models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cem.db.base import Base, BigIntPK, IdMixin, UTCDateTime, utcnow


class FeedbackEmbedding(Base):
    """One text feedback record's embedding (float32 bytes) and the hash of the text it was computed from.

    A record whose text hash no longer matches its text is stale: backfill and the enrichment job redo it.
    """

    __tablename__ = "feedback_embedding"
    __table_args__ = (Index("ix_feedback_embedding_ws_model", "workspace_id", "model"),)

    record_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("feedback_record.id", ondelete="CASCADE"), primary_key=True
    )
    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(64))
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    text_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LabelCorrection(IdMixin, Base):
    """A user's correction of one record's sentiment label and/or topic (the latest one per record counts)."""

    __tablename__ = "label_correction"
    __table_args__ = (UniqueConstraint("record_id"), Index("ix_label_correction_ws", "workspace_id", "created_at"))

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"))
    record_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("feedback_record.id", ondelete="CASCADE"))
    sentiment_label: Mapped[str | None] = mapped_column(String(16), nullable=True)
    topic: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Who corrected it: the user id (None for tokens without a user) and the actor's label at the time.
    user_id: Mapped[int | None] = mapped_column(BigIntPK, ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True)
    corrected_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WorkspaceSentimentModel(IdMixin, Base):
    """A workspace's own sentiment model: logistic-regression weights over stored embeddings (JSON, no pickle)."""

    __tablename__ = "workspace_sentiment_model"
    __table_args__ = (Index("ix_workspace_sentiment_model_ws", "workspace_id", "created_at"),)

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"))
    embedding_model: Mapped[str] = mapped_column(String(64))
    classes: Mapped[list[str]] = mapped_column(JSON, default=list)
    weights: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"coef": [[...]], "intercept": [...]}
    samples: Mapped[int] = mapped_column(Integer)
    cv_accuracy: Mapped[float] = mapped_column(Float)
    cv_macro_f1: Mapped[float] = mapped_column(Float)
    default_accuracy: Mapped[float] = mapped_column(Float)
    default_macro_f1: Mapped[float] = mapped_column(Float)
    # Only a model that beat the default on the same folds becomes active; older ones stay as history.
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
