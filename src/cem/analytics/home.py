"""The home page's state of the program: headline metrics, topics rising and falling, notable verbatims.

Each headline metric is shown for its own latest month with enough answers (n >= min_n), compared with the month
before through the metric engine (cem.analytics.service), so a single new answer in a later month never replaces
the history: that newer, thin month is reported beside the tile instead. Topics move by their share of the topic
mentions between two buckets of cem.text.topics.statistics' trends (the same Wilson interval and z test the metrics
use, Benjamini-Hochberg over all topics).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cem.analytics import buckets, stats
from cem.analytics import service as metrics
from cem.analytics.engines.base import MetricEngine
from cem.analytics.schemas import Interval, MetricQuery, MetricRow
from cem.customers.models import Customer
from cem.feedback.models import FeedbackRecord
from cem.text.topics.statistics import topic_stats

HOME_METRICS = ("nps", "csat", "ces", "rating_mean")
ONLY_WHERE_ANSWERED = frozenset({"rating_mean"})  # a tile only when the workspace has such answers
INTERVAL: Interval = "month"
TREND_BUCKETS = 12
TOP_TOPICS = 5
RECENT_TEXTS = 200  # notable verbatims are picked among the newest texts with a sentiment
NOTABLE_EACH = 3
SCORE_TYPES = ("nps", "csat", "ces", "rating")
SHORT_ID = 10


@dataclass(frozen=True)
class Thin:
    """A newer period with too few answers to show a value (shown beside the tile or list, never instead)."""

    bucket: str
    n: int


@dataclass(frozen=True)
class MetricTile:
    metric: str
    label: str
    unit: str
    row: MetricRow | None  # the latest bucket with n >= min_n, compared with the bucket before; None: never enough
    trend: list[MetricRow]  # up to TREND_BUCKETS buckets ending at `row`
    thin: Thin | None
    total_n: int
    significant: bool

    @property
    def period_start(self) -> date | None:
        return date.fromisoformat(self.row.bucket) if self.row and self.row.bucket else None

    @property
    def period_end(self) -> date | None:
        start = self.period_start
        return None if start is None else buckets.shift(start, INTERVAL, 1) - timedelta(days=1)


def _last_sufficient(rows: list[MetricRow]) -> int | None:
    return next((i for i in range(len(rows) - 1, -1, -1) if rows[i].status == "ok"), None)


def metric_tiles(
    session: Session,
    *,
    workspace_id: int,
    min_n: int = stats.DEFAULT_MIN_N,
    confidence: float = stats.DEFAULT_CONFIDENCE,
    engine: MetricEngine | None = None,
) -> list[MetricTile]:
    """NPS, CSAT, CES and (where answered) the rating mean, each in its own latest month with enough answers."""
    engine = engine or metrics.make_engine(session, name="auto", workspace_id=workspace_id)
    alpha = 1 - confidence
    tiles = []
    for slug in HOME_METRICS:
        query = MetricQuery(metric=slug, interval=INTERVAL, compare_to="previous", min_n=min_n, confidence=confidence)
        result = metrics.compute(session, workspace_id=workspace_id, query=query, engine=engine)
        total = sum(r.n for r in result.rows)
        if slug in ONLY_WHERE_ANSWERED and total == 0:
            continue
        chosen = _last_sufficient(result.rows)
        newest = result.rows[-1] if result.rows else None
        thin = None
        if newest is not None and newest.bucket and (chosen is None or chosen < len(result.rows) - 1):
            thin = Thin(bucket=newest.bucket, n=newest.n)
        row = result.rows[chosen] if chosen is not None else None
        trend = result.rows[max(0, chosen - TREND_BUCKETS + 1) : chosen + 1] if chosen is not None else []
        tiles.append(
            MetricTile(
                metric=slug,
                label=result.label,
                unit=result.unit,
                row=row,
                trend=trend,
                thin=thin,
                total_n=total,
                significant=bool(row and row.p_value is not None and row.p_value < alpha),
            )
        )
    return tiles


def latest_period_end(tiles: list[MetricTile]) -> date | None:
    """The newest period any headline metric is shown for (top movers compare that period with the one before)."""
    ends = [t.period_end for t in tiles if t.period_end is not None]
    return max(ends) if ends else None


# -- topics -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TopicMove:
    topic_id: int
    label: str
    count: int
    previous_count: int
    share: float  # percent of the period's topic mentions
    previous_share: float | None
    change: float | None  # percentage points
    p_value: float | None
    q_value: float | None
    significant: bool


@dataclass(frozen=True)
class TopicMoves:
    interval: str = INTERVAL
    bucket: str | None = None
    previous: str | None = None
    mentions: int = 0
    rising: list[TopicMove] = field(default_factory=list)
    falling: list[TopicMove] = field(default_factory=list)
    thin: Thin | None = None
    topics: int = 0


def topic_moves(
    session: Session,
    *,
    workspace_id: int,
    min_n: int = stats.DEFAULT_MIN_N,
    confidence: float = stats.DEFAULT_CONFIDENCE,
) -> TopicMoves:
    """Top-level topics whose share of mentions rose or fell most between the latest bucket with enough
    mentions and the one before it with enough (the trend's own bucket: day, week or month by the data's span)."""
    found = [s for s in topic_stats(session, workspace_id) if s.topic.parent_id is None and s.trend]
    if not found:
        return TopicMoves(topics=len(found))
    labels = [b for b, _ in found[0].trend]
    totals = [sum(s.trend[i][1] for s in found) for i in range(len(labels))]
    # The latest bucket with enough mentions against the one before it that has enough (quiet weeks in between
    # are skipped, as a single new mention never becomes "the latest period").
    enough = [i for i, total in enumerate(totals) if total >= max(min_n, 1)]
    thin = Thin(labels[-1], totals[-1]) if enough and enough[-1] < len(labels) - 1 else None
    if len(enough) < 2:
        return TopicMoves(interval=found[0].interval, thin=thin, topics=len(found))
    chosen, earlier = enough[-1], enough[-2]
    moves = []
    for s in found:
        now = stats.wilson(s.trend[chosen][1], totals[chosen], confidence=confidence, min_n=min_n)
        before = stats.wilson(s.trend[earlier][1], totals[earlier], confidence=confidence, min_n=min_n)
        moves.append((s, now, before, stats.change_test(now, before)))
    q_values = stats.benjamini_hochberg([c.p_value for *_, c in moves])
    alpha = 1 - confidence
    out = [
        TopicMove(
            topic_id=s.topic.id,
            label=s.topic.label,
            count=s.trend[chosen][1],
            previous_count=s.trend[earlier][1],
            share=float(now.value or 0.0),
            previous_share=before.value,
            change=c.change,
            p_value=c.p_value,
            q_value=q,
            significant=q is not None and q < alpha,
        )
        for (s, now, before, c), q in zip(moves, q_values, strict=True)
    ]
    ranked = sorted((m for m in out if m.change), key=lambda m: (not m.significant, -abs(m.change or 0.0)))
    return TopicMoves(
        interval=found[0].interval,
        bucket=labels[chosen],
        previous=labels[earlier],
        mentions=totals[chosen],
        rising=[m for m in ranked if (m.change or 0) > 0][:TOP_TOPICS],
        falling=[m for m in ranked if (m.change or 0) < 0][:TOP_TOPICS],
        thin=thin,
        topics=len(found),
    )


# -- verbatims --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verbatim:
    record_id: int
    text: str
    sentiment_label: str | None
    sentiment_score: float
    collected_at: datetime
    source: str
    customer_id: int | None
    customer: str | None  # name, else email, else a short form of the external id
    score_label: str | None  # the submission's own score, e.g. "NPS 3"
    score: float | None


def customer_display(name: str | None, email: str | None, external_id: str | None, customer_id: int) -> str:
    """How a person reads a customer: name, else email, else a short id (never a 32-character hash)."""
    if name:
        return name
    if email:
        return email
    if external_id:
        return external_id if len(external_id) <= SHORT_ID else external_id[: SHORT_ID - 2] + "…"
    return f"#{customer_id}"


def notable_verbatims(session: Session, *, workspace_id: int) -> tuple[list[Verbatim], list[Verbatim]]:
    """The most negative and the most positive of the newest texts with a sentiment, with their submission's score."""
    rows: list[Any] = list(
        session.execute(
            select(
                FeedbackRecord.id,
                FeedbackRecord.value_text,
                FeedbackRecord.sentiment_label,
                FeedbackRecord.sentiment_score,
                FeedbackRecord.collected_at,
                FeedbackRecord.source_type,
                FeedbackRecord.source_name,
                FeedbackRecord.submission_id,
                FeedbackRecord.customer_id,
                Customer.name,
                Customer.email,
                Customer.external_id,
            )
            .outerjoin(Customer, Customer.id == FeedbackRecord.customer_id)
            .where(
                FeedbackRecord.workspace_id == workspace_id,
                FeedbackRecord.field_type == "text",
                FeedbackRecord.sentiment_score.is_not(None),
                FeedbackRecord.value_text.is_not(None),
            )
            .order_by(FeedbackRecord.collected_at.desc(), FeedbackRecord.id.desc())
            .limit(RECENT_TEXTS)
        ).all()
    )
    negative = sorted((r for r in rows if r.sentiment_score < 0), key=lambda r: (r.sentiment_score, -r.id))
    positive = sorted((r for r in rows if r.sentiment_score > 0), key=lambda r: (-r.sentiment_score, -r.id))
    picked = negative[:NOTABLE_EACH] + positive[:NOTABLE_EACH]
    scores = _submission_scores(session, workspace_id, {r.submission_id for r in picked})

    def verbatim(r: Any) -> Verbatim:
        score = scores.get((r.source_type, r.source_name, r.submission_id))
        cid = r.customer_id
        return Verbatim(
            record_id=r.id,
            text=r.value_text,
            sentiment_label=r.sentiment_label,
            sentiment_score=float(r.sentiment_score),
            collected_at=r.collected_at,
            source=r.source_name,
            customer_id=cid,
            customer=customer_display(r.name, r.email, r.external_id, cid) if cid else None,
            score_label=score[0] if score else None,
            score=score[1] if score else None,
        )

    return [verbatim(r) for r in negative[:NOTABLE_EACH]], [verbatim(r) for r in positive[:NOTABLE_EACH]]


def _submission_scores(
    session: Session, workspace_id: int, submissions: set[str]
) -> dict[tuple[str, str, str], tuple[str, float]]:
    """The first score answer (NPS, CSAT, CES, rating) of each submission (keyed by source and submission id, which
    is unique only within its source), labelled for display."""
    if not submissions:
        return {}
    found: dict[tuple[str, str, str], tuple[str, float]] = {}
    for stype, sname, sub, ftype, value in session.execute(
        select(
            FeedbackRecord.source_type,
            FeedbackRecord.source_name,
            FeedbackRecord.submission_id,
            FeedbackRecord.field_type,
            FeedbackRecord.value_number,
        )
        .where(
            FeedbackRecord.workspace_id == workspace_id,
            FeedbackRecord.submission_id.in_(submissions),
            FeedbackRecord.field_type.in_(SCORE_TYPES),
            FeedbackRecord.value_number.is_not(None),
        )
        .order_by(FeedbackRecord.id)
    ):
        if value is not None:
            found.setdefault((stype, sname, sub), (ftype.upper() if ftype != "rating" else "Rating", float(value)))
    return found
