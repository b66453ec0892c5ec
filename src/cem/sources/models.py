"""Inbound webhook sources: a per-source secret and a JSON field mapping into feedback records."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cem.db.base import Base, BigIntPK, IdMixin, TimestampMixin


class InboundSource(IdMixin, TimestampMixin, Base):
    __tablename__ = "inbound_source"
    __table_args__ = (UniqueConstraint("workspace_id", "key"),)

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    source_type: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64))
    # Fernet token of the raw secret under a key derived from settings.secret_key: HMAC signatures need it.
    secret_encrypted: Mapped[str] = mapped_column(Text, default="")
    mapping: Mapped[dict[str, Any]] = mapped_column(default=dict)
    is_active: Mapped[bool] = mapped_column(default=True)
