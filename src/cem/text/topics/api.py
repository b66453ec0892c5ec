"""Topics API: list with volume/sentiment/trend, verbatims, rename, merge, split, delete, rule topics, discovery."""

from __future__ import annotations

from fastapi import APIRouter, Query

from cem.api.body import StrictJsonRoute
from cem.api.deps import DbSession, Reader, Writer
from cem.jobs.queue import enqueue
from cem.schemas import Id
from cem.text.redaction import masked_text
from cem.text.sentiment import SentimentLabel
from cem.text.topics import catalogue, editing, statistics
from cem.text.topics.schemas import (
    DiscoverIn,
    JobStarted,
    RuleTopicIn,
    RuleUpdate,
    TopicMerge,
    TopicRead,
    TopicRename,
    TopicSplit,
    TopicSummary,
    Verbatim,
    VerbatimPage,
)

router = APIRouter(tags=["topics"], route_class=StrictJsonRoute)


def summary(stats: statistics.TopicStats) -> TopicSummary:
    base = TopicRead.model_validate(stats.topic).model_dump()
    return TopicSummary(
        **base,
        volume=stats.volume,
        sentiment_mean=stats.sentiment_mean,
        negative_share=stats.negative_share,
        trend=stats.trend,
        interval=stats.interval,
    )


@router.get("/text/topics", response_model=list[TopicSummary], summary="Topics with volume, sentiment and trend")
def list_topics(session: DbSession, actor: Reader) -> list[TopicSummary]:
    """Every active topic and subtopic (subtopics name their parent_id), biggest first."""
    return [summary(s) for s in statistics.topic_stats(session, actor.workspace_id)]


@router.post("/text/topics/discover", response_model=JobStarted, summary="Re-discover topics (background job)")
def discover(session: DbSession, actor: Writer, body: DiscoverIn) -> JobStarted:
    """Clusters the stored texts again; renames, merges, splits, deletions and rule topics are kept."""
    job = enqueue(
        session,
        "text.topics.discover",
        workspace_id=actor.workspace_id,
        max_attempts=1,
        actor_label=actor.label,
        **body.model_dump(),
    )
    return JobStarted(job_id=job.id, status=job.status)


@router.post("/text/topics/rules", response_model=TopicRead, summary="Create a rule topic from a keyword query")
def create_rule(session: DbSession, actor: Writer, body: RuleTopicIn) -> TopicRead:
    return TopicRead.model_validate(editing.create_rule(session, actor, body.label, body.query))


@router.get("/text/topics/{topic_id}", response_model=TopicSummary, summary="One topic with its statistics")
def get_topic(session: DbSession, actor: Reader, topic_id: Id) -> TopicSummary:
    catalogue.get_topic(session, actor.workspace_id, topic_id)
    return summary(statistics.topic_stats(session, actor.workspace_id, [topic_id])[0])


@router.get("/text/topics/{topic_id}/verbatims", response_model=VerbatimPage, summary="A topic's feedback texts")
def verbatims(
    session: DbSession,
    actor: Reader,
    topic_id: Id,
    limit: int = Query(default=20, ge=1, le=200),
    offset: int = Query(default=0, ge=0, le=1_000_000),
    sentiment: SentimentLabel | None = None,
) -> VerbatimPage:
    """Most typical first (closest to the topic's centroid)."""
    rows, total = statistics.verbatims(
        session, actor.workspace_id, topic_id, limit=limit, offset=offset, sentiment=sentiment
    )
    topic = catalogue.get_topic(session, actor.workspace_id, topic_id)
    items = [
        Verbatim(
            record_id=r.id,
            text=masked_text(session, actor, r.value_text),
            score=score,
            sentiment_label=r.sentiment_label,
            sentiment_score=r.sentiment_score,
            collected_at=r.collected_at,
            topics=r.topics or [],
        )
        for r, score in rows
    ]
    return VerbatimPage(topic=TopicRead.model_validate(topic), total=total, items=items)


@router.patch("/text/topics/{topic_id}", response_model=TopicRead, summary="Rename a topic")
def rename(session: DbSession, actor: Writer, topic_id: Id, body: TopicRename) -> TopicRead:
    return TopicRead.model_validate(editing.rename(session, actor, topic_id, body.label))


@router.delete("/text/topics/{topic_id}", response_model=dict[str, bool], summary="Delete a topic")
def delete(session: DbSession, actor: Writer, topic_id: Id) -> dict[str, bool]:
    """Its records lose it; its theme is not rediscovered."""
    editing.delete_topic(session, actor, topic_id)
    return {"deleted": True}


@router.post("/text/topics/{topic_id}/merge", response_model=TopicRead, summary="Merge topics into this one")
def merge(session: DbSession, actor: Writer, topic_id: Id, body: TopicMerge) -> TopicRead:
    return TopicRead.model_validate(editing.merge(session, actor, topic_id, body.source_ids))


@router.post("/text/topics/{topic_id}/split", response_model=list[TopicRead], summary="Split a topic into k")
def split(session: DbSession, actor: Writer, topic_id: Id, body: TopicSplit) -> list[TopicRead]:
    made = editing.split(session, actor, topic_id, body.k, seed=body.seed)
    return [TopicRead.model_validate(t) for t in made]


@router.put("/text/topics/{topic_id}/rule", response_model=TopicRead, summary="Change a rule topic's query")
def update_rule(session: DbSession, actor: Writer, topic_id: Id, body: RuleUpdate) -> TopicRead:
    return TopicRead.model_validate(editing.update_rule(session, actor, topic_id, body.query))
