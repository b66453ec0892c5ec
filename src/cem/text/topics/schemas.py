"""Topic API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, WithJsonSchema

from cem.schemas import Id, InputModel, Name, ReadModel, Seed

# [bucket start, records]. Described without `prefixItems` (pydantic's JSON Schema 2020-12 form of a tuple), which
# response validators that work in an older draft (schemathesis among them) reject as an invalid schema.
TrendPoint = Annotated[
    tuple[str, int],
    WithJsonSchema(
        {"type": "array", "items": {"type": ["string", "integer"]}, "minItems": 2, "maxItems": 2}, mode="serialization"
    ),
]


class TopicRead(ReadModel):
    id: int
    key: str
    label: str
    parent_id: int | None
    kind: str
    rule_query: str | None
    terms: str
    label_edited: bool
    user_edited: bool
    created_at: datetime
    updated_at: datetime


class TopicSummary(TopicRead):
    volume: int
    sentiment_mean: float | None = Field(description="mean sentiment score in [-1, 1] of the topic's records")
    negative_share: float | None = Field(description="share of the sentiment-labelled records that are negative")
    trend: list[TrendPoint] = Field(description="[bucket start YYYY-MM-DD, records] in time order, gaps as 0")
    interval: str = Field(description="the trend's bucket: day, week or month (follows the data's date span)")


class Verbatim(ReadModel):
    record_id: int
    text: str
    score: float
    sentiment_label: str | None
    sentiment_score: float | None
    collected_at: datetime
    topics: list[str]


class VerbatimPage(ReadModel):
    topic: TopicRead
    total: int
    items: list[Verbatim]


class TopicRename(InputModel):
    label: Name


class TopicMerge(InputModel):
    source_ids: list[Id] = Field(min_length=1, max_length=50, description="topics folded into this one")


class TopicSplit(InputModel):
    k: int = Field(ge=2, le=10, description="how many topics to make of this one")
    seed: Seed = 0


class RuleTopicIn(InputModel):
    label: Name
    query: str = Field(min_length=1, max_length=500, description="e.g. 'refund, money back, reembols*, -coupon'")


class RuleUpdate(InputModel):
    query: str = Field(min_length=1, max_length=500)


class DiscoverIn(InputModel):
    seed: Seed = 0
    min_topic_size: int = Field(default=10, ge=2, le=10_000)
    n_topics: int | None = Field(default=None, ge=1, le=200)


class JobStarted(ReadModel):
    job_id: int
    status: str
