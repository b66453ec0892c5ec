"""Writes to feedback_record's enrichment columns (language, sentiment, emotions, topics), for text analytics.

The feedback domain owns its table: text/ computes the values and hands them here. Each function is one ORM bulk
UPDATE by primary key (one executemany, not a statement per record) in the caller's session.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from cem.feedback.models import FeedbackRecord


@dataclass(frozen=True, slots=True)
class Enrichment:
    """What enriching one text record found; `at` is both enriched_at and updated_at."""

    record_id: int
    language: str | None
    sentiment_label: str
    sentiment_score: float
    emotions: list[str]
    at: datetime


def set_columns(session: Session, found: Sequence[Enrichment]) -> None:
    """Store enrichment results. updated_at moves too: the analytics snapshot refreshes by it, so a new sentiment
    reaches it like any edit."""
    if not found:
        return
    session.execute(
        update(FeedbackRecord),
        [
            {
                "id": e.record_id,
                "language": e.language,
                "sentiment_label": e.sentiment_label,
                "sentiment_score": e.sentiment_score,
                "emotions": e.emotions,
                "enriched_at": e.at,
                "updated_at": e.at,
            }
            for e in found
        ],
    )


def set_sentiments(session: Session, sentiments: Mapping[int, tuple[str, float]], *, at: datetime) -> None:
    """Replace the sentiment of records (record id -> (label, score)), e.g. after a new model was trained."""
    if not sentiments:
        return
    session.execute(
        update(FeedbackRecord),
        [
            {"id": rid, "sentiment_label": label, "sentiment_score": score, "updated_at": at}
            for rid, (label, score) in sentiments.items()
        ],
    )


def set_topics(session: Session, keys: Mapping[int, Sequence[str]]) -> None:
    """feedback_record.topics = the topic keys of each record (deduplicated, in order)."""
    if not keys:
        return
    session.execute(update(FeedbackRecord), [{"id": rid, "topics": list(dict.fromkeys(k))} for rid, k in keys.items()])
