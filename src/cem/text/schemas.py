"""Text analytics API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from cem.feedback.schemas import FeedbackRead
from cem.schemas import InputModel, ReadModel
from cem.text.sentiment import SentimentLabel

PiiKind = Literal["email", "iban", "card", "ip", "phone", "name"]
ALL_KINDS: tuple[PiiKind, ...] = ("email", "iban", "card", "ip", "phone", "name")


class SearchHit(BaseModel):
    record: FeedbackRead
    score: float = Field(description="cosine similarity to the query, -1..1")


class SearchResults(BaseModel):
    items: list[SearchHit]
    model: str


class LabelIn(InputModel):
    """A correction: the record's true sentiment label and/or topic (the latest correction per record counts)."""

    sentiment_label: SentimentLabel | None = None
    topic: str | None = Field(default=None, max_length=200)


class CorrectionRead(ReadModel):
    id: int
    record_id: int
    sentiment_label: str | None
    topic: str | None
    corrected_by: str
    created_at: datetime


class ModelRead(ReadModel):
    id: int
    embedding_model: str
    classes: list[str]
    samples: int
    cv_accuracy: float
    cv_macro_f1: float
    default_accuracy: float
    default_macro_f1: float
    active: bool
    created_at: datetime


class TrainResult(BaseModel):
    model: ModelRead
    folds: int
    replaced_default: bool
    message: str


class PiiSettings(InputModel):
    enabled: bool = True
    kinds: list[PiiKind] = Field(default_factory=lambda: list(ALL_KINDS))


class EmotionExamples(InputModel):
    """Example sentences per emotion (joy, anger, sadness, fear, surprise, disgust) and "none"; omitted ones keep
    the defaults. Emotions are EXPERIMENTAL: not yet measured on labelled data."""

    examples: dict[str, list[str]]
    experimental: bool = True
