"""Feedback records of survey answers: each answered question becomes records in the feedback store.

write_records upserts a response's records (and withdraws those of answers taken back); SharedWrites collects
the writes of the page submits that share one transaction (the hosted page's group commit,
cem.responses.hosted.PageSubmits) so they are made once for all.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from cem.db.base import utcnow
from cem.feedback import bulk as feedback_bulk
from cem.feedback import service as feedback_service
from cem.feedback.models import FeedbackRecord
from cem.feedback.schemas import FeedbackIn
from cem.responses import answers as answer_rules
from cem.surveys.definition import SurveyDefinition
from cem.surveys.models import Survey, SurveyResponse
from cem.surveys.service import version_number


def write_records(
    session: Session,
    survey: Survey,
    response: SurveyResponse,
    defn: SurveyDefinition,
    questions: list[Any],
    *,
    now: datetime,
    seconds: float | None = None,
    remove_stale: bool = True,
) -> int:
    """Upsert the feedback records of `questions` from response.answers; with `remove_stale`, delete the
    records of answers withdrawn since (a page answered again after "back", a re-imported response)."""
    answers = response.answers or {}
    records: list[FeedbackIn] = []
    keep: set[str] = set()
    version = version_number(session, response.version_id)
    for question in questions:
        value = answers.get(question.id)
        if value is None:
            continue
        other = answers.get(question.id + answer_rules.OTHER_SUFFIX)
        for field_id, label, kind, field_value, meta in answer_rules.feedback_fields(defn, question, value, other):
            keep.add(field_id)
            metadata = {**meta, "survey_version": version, "channel": response.channel}
            if seconds is not None:
                metadata["seconds"] = seconds
            elif "seconds_per_question" in (response.meta or {}):
                metadata["seconds"] = response.meta["seconds_per_question"].get(question.id)
            records.append(
                FeedbackIn(
                    source_type="survey",
                    source_name=survey.slug,
                    submission_id=response.submission_id,
                    customer_id=response.customer_id,
                    touchpoint=defn.settings.touchpoint,
                    collected_at=response.completed_at or now,
                    field_id=field_id,
                    field_label=label,
                    field_type=kind,
                    value=field_value,
                    language=response.language,
                    metadata=metadata,
                )
            )
    stale = [f for q in questions for f in answer_rules.all_field_ids(q) if f not in keep] if remove_stale else []
    shared: SharedWrites | None = session.info.get(SHARED_WRITES)
    if stale:
        if shared is not None:
            shared.write_rows(session)  # records collected before this delete are written before it
        session.execute(
            delete(FeedbackRecord).where(
                FeedbackRecord.workspace_id == survey.workspace_id,
                FeedbackRecord.source_type == "survey",
                FeedbackRecord.source_name == survey.slug,
                FeedbackRecord.submission_id == response.submission_id,
                FeedbackRecord.field_id.in_(stale),
            )
        )
    if not records:
        return 0
    rows = feedback_service.record_rows(session, workspace_id=survey.workspace_id, records=records, now=now)
    if shared is not None:
        shared.add_rows(rows)
        return len(rows)
    # Straight to the one bulk upsert: a response's field ids are unique, and nobody needs created/updated counts.
    feedback_bulk.upsert_records(session, rows=rows, now=now)
    feedback_service.enqueue_enrichment(session, workspace_id=survey.workspace_id, rows=rows)
    return len(rows)


SHARED_WRITES = "cem_survey_shared_writes"


@dataclass
class SharedWrites:
    """Writes that page submits sharing one transaction make once for all, not once per page.

    The hosted page's group commit (cem.responses.hosted.PageSubmits) puts one in `session.info[SHARED_WRITES]`
    and calls `write` before its COMMIT. Meanwhile submit_page collects into it instead of writing, and does
    not flush (the group flushes once): the pages' feedback records (one upsert statement; a later row of the
    same identity wins), the text enrichment job (one per workspace, naming every submission) and the
    completed counts of surveys without a response limit (one UPDATE per survey; a limited survey still
    counts each completion at once, since its auto-close needs the exact count).
    """

    rows: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)  # feedback identity -> row
    completions: Counter[int] = field(default_factory=Counter)  # survey id -> completed responses

    def add_rows(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            key = (row["workspace_id"], row["source_type"], row["source_name"], row["submission_id"], row["field_id"])
            self.rows.pop(key, None)  # re-inserted: the statement then writes rows in submit order
            self.rows[key] = row

    def write_rows(self, session: Session) -> None:
        """Upsert the collected feedback records now (also before a delete that may concern them)."""
        if not self.rows:
            return
        rows = list(self.rows.values())
        self.rows.clear()
        feedback_bulk.upsert_records(session, rows=rows, now=utcnow())
        by_workspace: dict[int, list[dict[str, Any]]] = {}
        for row in rows:
            by_workspace.setdefault(row["workspace_id"], []).append(row)
        for workspace_id, own in by_workspace.items():
            feedback_service.enqueue_enrichment(session, workspace_id=workspace_id, rows=own)

    def write(self, session: Session) -> None:
        self.write_rows(session)
        for survey_id, count in sorted(self.completions.items()):
            session.execute(
                update(Survey)
                .where(Survey.id == survey_id)
                .values(completed_count=Survey.completed_count + count)
                .execution_options(synchronize_session=False)
            )
        self.completions.clear()
