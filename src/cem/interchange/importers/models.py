"""The record of a survey imported from another tool: its warnings and how the source names answers.

`codes` maps each cem question id to the source's ids (Qualtrics QID / export tag, LimeSurvey code, SurveyJS
name) and choice codes (e.g. Qualtrics recode values), so response exports can be imported into the survey later
without the definition file.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from cem.db.base import Base, BigIntPK, IdMixin, TimestampMixin


class SurveyImport(IdMixin, TimestampMixin, Base):
    __tablename__ = "survey_import"

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"), index=True)
    survey_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("survey.id", ondelete="CASCADE"), index=True)
    format: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(200), default="")
    question_count: Mapped[int] = mapped_column(default=0)
    warnings: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    codes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[str] = mapped_column(String(200), default="")
