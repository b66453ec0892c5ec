"""Saved CSV column mappings and import runs with their progress and row-level errors."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cem.db.base import Base, BigIntPK, IdMixin, TimestampMixin, UTCDateTime


class ImportMapping(IdMixin, TimestampMixin, Base):
    __tablename__ = "import_mapping"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    target: Mapped[str] = mapped_column(String(16))  # feedback | customers | events
    mapping: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ImportRun(IdMixin, TimestampMixin, Base):
    __tablename__ = "import_run"

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"), index=True)
    mapping_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("import_mapping.id", ondelete="SET NULL"), nullable=True
    )
    target: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(500))
    # Where the uploaded file waits for the background job; removed once the run ends.
    stored_path: Mapped[str] = mapped_column(String(1000), default="")
    mapping: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued|running|interrupted|done|failed
    total_rows: Mapped[int] = mapped_column(default=0)
    processed_rows: Mapped[int] = mapped_column(default=0)
    ok_rows: Mapped[int] = mapped_column(default=0)
    error_rows: Mapped[int] = mapped_column(default=0)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    message: Mapped[str] = mapped_column(String(2000), default="")
    created_by: Mapped[str] = mapped_column(String(200), default="")
    # "host:pid" of the process importing it while running: lets a restarted process see that it died.
    owner: Mapped[str] = mapped_column(String(200), default="", server_default="")
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    @property
    def resumable(self) -> bool:
        """Interrupted, and its upload is still on the server: a new job can continue it."""
        return self.status == "interrupted" and bool(self.stored_path) and Path(self.stored_path).is_file()
