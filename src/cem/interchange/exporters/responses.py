"""Responses of a survey as a table (CSV or XLSX): one row per response, one column per answer field.

Columns: response metadata, hidden fields ("hidden.<id>"), then per question its answer (matrix: one column per
row "question.row"; choices as their labels in the default language, several joined with "; "; "other" text in
"question.other"). The second header row holds the question texts so the file reads well in a spreadsheet.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from cem.exports_safety import csv_writer, neutralise_row
from cem.surveys.definition import Question, SurveyDefinition, text
from cem.surveys.models import Survey, SurveyResponse

META_COLUMNS = ["response_id", "status", "channel", "language", "customer_id", "started_at", "completed_at"]


def _columns(defn: SurveyDefinition) -> list[tuple[str, str, Question, str | None]]:
    """(column id, label, question, matrix row id or "other")."""
    lang = defn.default_language
    columns: list[tuple[str, str, Question, str | None]] = []
    for _, _, q in defn.answerable_questions():
        if q.type == "cta":
            continue
        headline = text(q.headline, lang, lang)
        if q.type == "matrix":
            columns += [(f"{q.id}.{r.id}", f"{headline} - {text(r.label, lang, lang)}", q, r.id) for r in q.rows]
            continue
        columns.append((q.id, headline, q, None))
        if any(c.other for c in q.choices):
            columns.append((f"{q.id}.other", f"{headline} - other", q, "other"))
    return columns


def _cell(defn: SurveyDefinition, q: Question, part: str | None, answers: dict[str, Any]) -> Any:
    lang = defn.default_language
    if part == "other":
        return answers.get(f"{q.id}.other")
    value = answers.get(q.id)
    if value is None:
        return None
    if q.type == "matrix":
        cell = value.get(part) if isinstance(value, dict) else None
        labels = {c.id: text(c.label, lang, lang) for c in q.columns}
        return labels.get(cell, cell) if isinstance(cell, str) else cell
    labels = {c.id: text(c.label, lang, lang) for c in q.choices}
    if isinstance(value, list):
        return "; ".join(str(labels.get(v) or v) for v in value)
    if q.type in ("single_choice", "dropdown"):
        return labels.get(value, value)
    return value


def response_table(session: Session, survey: Survey, defn: SurveyDefinition) -> Iterator[list[Any]]:
    """Header (ids), header (texts), then one row per response, oldest first."""
    columns = _columns(defn)
    hidden = [h.id for h in defn.hidden_fields]
    yield META_COLUMNS + [f"hidden.{h}" for h in hidden] + [c[0] for c in columns]
    yield [""] * (len(META_COLUMNS) + len(hidden)) + [c[1] for c in columns]
    stmt = select(SurveyResponse).where(SurveyResponse.survey_id == survey.id).order_by(SurveyResponse.id)
    for response in session.scalars(stmt.execution_options(yield_per=500)):
        meta = [
            response.submission_id,
            response.status,
            response.channel,
            response.language,
            response.customer_id,
            response.started_at.isoformat() if response.started_at else None,
            response.completed_at.isoformat() if response.completed_at else None,
        ]
        values = response.hidden or {}
        yield (
            meta
            + [values.get(h) for h in hidden]
            + [_cell(defn, q, part, response.answers or {}) for _, _, q, part in columns]
        )


def responses_csv(session: Session, survey: Survey, defn: SurveyDefinition) -> str:
    buffer = io.StringIO()
    writer = csv_writer(buffer)
    writer.writerows(response_table(session, survey, defn))
    return buffer.getvalue()


def responses_xlsx(session: Session, survey: Survey, defn: SurveyDefinition) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title="Responses")
    for row in response_table(session, survey, defn):
        sheet.append(neutralise_row(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
