"""Statistics of a workspace's topics: volume, sentiment and volume over time of each, and its verbatims."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from cem.analytics.buckets import bucket_range, bucket_start
from cem.feedback.models import FeedbackRecord
from cem.text.topics.catalogue import get_topic, list_topics
from cem.text.topics.models import RecordTopic, Topic


@dataclass
class TopicStats:
    topic: Topic
    volume: int
    sentiment_mean: float | None
    negative_share: float | None
    trend: list[tuple[str, int]]  # (bucket start YYYY-MM-DD, records), empty buckets included
    interval: str = "month"


# The trend's bucket follows the span of the data: a month of tweets by day, a year of reviews by week.
TREND_DAYS_UP_TO = 45
TREND_WEEKS_UP_TO = 400


def _day(session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", FeedbackRecord.collected_at), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", FeedbackRecord.collected_at)


def trend_interval(first: date, last: date) -> str:
    span = (last - first).days
    return "day" if span <= TREND_DAYS_UP_TO else "week" if span <= TREND_WEEKS_UP_TO else "month"


def _trends(session: Session, ids: list[int]) -> tuple[dict[int, list[tuple[str, int]]], str]:
    """Per topic, record counts per bucket over the workspace's whole date range (same buckets for every topic)."""
    day = _day(session)
    daily: dict[int, dict[date, int]] = defaultdict(dict)
    for t, d, n in session.execute(
        select(RecordTopic.topic_id, day, func.count())
        .join(FeedbackRecord, FeedbackRecord.id == RecordTopic.record_id)
        .where(RecordTopic.topic_id.in_(ids))
        .group_by(RecordTopic.topic_id, day)
    ):
        daily[int(t)][date.fromisoformat(str(d))] = int(n)
    days = [d for per_topic in daily.values() for d in per_topic]
    if not days:
        return {}, "month"
    interval = trend_interval(min(days), max(days))
    buckets = list(bucket_range(min(days), max(days), interval))
    out: dict[int, list[tuple[str, int]]] = {}
    for t, per_day in daily.items():
        counts = dict.fromkeys(buckets, 0)
        for d, n in per_day.items():
            counts[bucket_start(d, interval)] += n
        out[t] = [(b.isoformat(), n) for b, n in counts.items()]
    return out, interval


def topic_stats(session: Session, workspace_id: int, topic_ids: Sequence[int] | None = None) -> list[TopicStats]:
    """Volume, mean sentiment score, share negative and volume over time of each active topic (biggest first)."""
    topics = list_topics(session, workspace_id)
    if topic_ids is not None:
        wanted = set(topic_ids)
        topics = [t for t in topics if t.id in wanted]
    ids = [t.id for t in topics]
    if not ids:
        return []
    negative = func.sum(case((FeedbackRecord.sentiment_label == "negative", 1), else_=0))
    rows = session.execute(
        select(
            RecordTopic.topic_id,
            func.count(),
            func.avg(FeedbackRecord.sentiment_score),
            negative,
            func.count(FeedbackRecord.sentiment_label),
        )
        .join(FeedbackRecord, FeedbackRecord.id == RecordTopic.record_id)
        .where(RecordTopic.topic_id.in_(ids))
        .group_by(RecordTopic.topic_id)
    )
    agg = {int(t): (int(n), avg, int(neg or 0), int(labelled)) for t, n, avg, neg, labelled in rows}
    trends, interval = _trends(session, ids)
    out = []
    for t in topics:
        n, avg, neg, labelled = agg.get(t.id, (0, None, 0, 0))
        out.append(
            TopicStats(
                topic=t,
                volume=n,
                sentiment_mean=round(float(avg), 3) if avg is not None else None,
                negative_share=round(neg / labelled, 3) if labelled else None,
                trend=trends.get(t.id, []),
                interval=interval,
            )
        )
    return sorted(out, key=lambda s: (-s.volume, s.topic.id))


def verbatims(
    session: Session,
    workspace_id: int,
    topic_id: int,
    *,
    limit: int = 20,
    offset: int = 0,
    sentiment: str | None = None,
) -> tuple[list[tuple[FeedbackRecord, float]], int]:
    """The topic's records, most typical first (highest similarity), with the total count."""
    get_topic(session, workspace_id, topic_id)
    base = (
        select(FeedbackRecord, RecordTopic.score)
        .join(RecordTopic, RecordTopic.record_id == FeedbackRecord.id)
        .where(RecordTopic.topic_id == topic_id, FeedbackRecord.workspace_id == workspace_id)
    )
    if sentiment:
        base = base.where(FeedbackRecord.sentiment_label == sentiment)
    total = int(session.scalar(select(func.count()).select_from(base.subquery())) or 0)
    rows = session.execute(
        base.order_by(RecordTopic.score.desc(), FeedbackRecord.id.desc()).limit(limit).offset(offset)
    )
    return [(r, float(s)) for r, s in rows], total
