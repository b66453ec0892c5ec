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

from sqlalchemy import update
from sqlalchemy.orm import Session

from cem import scores
from cem.feedback.schemas import FeedbackIn
from cem.feedback.writer import FeedbackWriter
from cem.responses import answers as answer_rules
from cem.surveys.definition import Question, SurveyDefinition
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
    shared: SharedWrites | None = None,
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
                    **question_scale(question, kind),
                    value=field_value,
                    language=response.language,
                    metadata=metadata,
                )
            )
    stale = [f for q in questions for f in answer_rules.all_field_ids(q) if f not in keep] if remove_stale else []
    # A group commit's one writer flushes all its pages at once; alone, a page writes straight away.
    writer = shared.feedback(session) if shared is not None else FeedbackWriter(session, now=now)
    if stale:
        writer.withdraw(
            workspace_id=survey.workspace_id,
            source_type="survey",
            source_name=survey.slug,
            submission_id=response.submission_id,
            field_ids=stale,
        )
    if not records:
        return 0
    rows = writer.add_records(survey.workspace_id, records)
    if shared is None:
        writer.flush()
    return len(rows)


def question_scale(question: Question, kind: str) -> dict[str, float]:
    """The scale the survey definition declares for a question's scored records (a CSAT or rating question's
    points, a matrix's numeric scale, NPS 0-10, CES 1-7), as FeedbackIn's scale_min/scale_max; {} otherwise."""
    if kind not in scores.SCORE_TYPES:
        return {}
    low, high = question.points()
    return {"scale_min": float(low), "scale_max": float(high)}


@dataclass
class SharedWrites:
    """Writes that page submits sharing one transaction make once for all, not once per page.

    The hosted page's group commit (cem.responses.hosted.PageSubmits) passes one to every page submit
    and calls `write` before its COMMIT. Meanwhile submit_page collects into it instead of writing, and does
    not flush (the group flushes once): the pages' feedback records (one upsert statement; a later row of the
    same identity wins, then the `feedback_stored` hook once per workspace, so one text enrichment job names
    every submission) and the
    completed counts of surveys without a response limit (one UPDATE per survey; a limited survey still
    counts each completion at once, since its auto-close needs the exact count).
    """

    writer: FeedbackWriter | None = None  # made on first use, for the group's unit of work
    completions: Counter[int] = field(default_factory=Counter)  # survey id -> completed responses

    def feedback(self, session: Session) -> FeedbackWriter:
        """The group's feedback writer (a later row of the same identity wins; one upsert at `write`)."""
        if self.writer is None:
            self.writer = FeedbackWriter(session)
        return self.writer

    def write(self, session: Session) -> None:
        if self.writer is not None:
            self.writer.flush()
        for survey_id, count in sorted(self.completions.items()):
            session.execute(
                update(Survey)
                .where(Survey.id == survey_id)
                .values(completed_count=Survey.completed_count + count)
                .execution_options(synchronize_session=False)
            )
        self.completions.clear()
