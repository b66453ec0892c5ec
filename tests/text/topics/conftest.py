"""Real airline tweets with their e5 embeddings (computed once and cached outside the repository), and helpers."""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from cem.db.base import utcnow
from cem.db.session import Database
from cem.feedback.models import FeedbackRecord

AIRLINE = "airline-tweets-sample/Tweets_sample_every7th_2000.csv"
REASONS = ("Late Flight", "Cancelled Flight", "Customer Service Issue", "Lost Luggage")
PER_REASON = 90
POSITIVE = 90
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cem-tests"


@dataclass
class Corpus:
    texts: list[str]
    vectors: np.ndarray
    reasons: list[str]  # the human label ("" for positive tweets)
    sentiments: list[str]
    dates: list[datetime]

    def embed(self) -> Callable[[Sequence[str]], np.ndarray]:
        """A stand-in for the model: the cached vector of each known text."""
        lookup = dict(zip(self.texts, self.vectors, strict=True))
        return lambda texts: np.stack([lookup[t] for t in texts]).astype(np.float32)


def _sample(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    picked: list[dict[str, str]] = []
    for reason in REASONS:
        picked += [r for r in rows if r["negativereason"] == reason][:PER_REASON]
    picked += [r for r in rows if r["airline_sentiment"] == "positive"][:POSITIVE]
    return picked


@pytest.fixture(scope="session")
def airline(shared_data: Path) -> Corpus:
    rows = _sample(shared_data / AIRLINE)
    texts = [r["text"] for r in rows]
    vectors = _cached_vectors("airline", texts)
    dates = [datetime.strptime(r["tweet_created"][:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC) for r in rows]
    return Corpus(texts, vectors, [r["negativereason"] for r in rows], [r["airline_sentiment"] for r in rows], dates)


OLIST = "olist-ecommerce-subset/olist_order_reviews_dataset.csv"
OLIST_REVIEWS = 400


@pytest.fixture(scope="session")
def olist(shared_data: Path) -> tuple[list[str], np.ndarray, list[int]]:
    """The first Portuguese review comments, their e5 vectors (cached) and star ratings."""
    with (shared_data / OLIST).open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if (r["review_comment_message"] or "").strip()][:OLIST_REVIEWS]
    texts = [r["review_comment_message"] for r in rows]
    return texts, _cached_vectors("olist", texts), [int(r["review_score"]) for r in rows]


def _cached_vectors(name: str, texts: list[str]) -> np.ndarray:
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    cached = CACHE / f"{name}-e5-{digest}.npy"
    if cached.is_file():
        return np.load(cached)
    from cem.text.embeddings import shared_embedder

    vectors = shared_embedder().embed(texts)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(cached, vectors)
    return vectors


def store_texts(
    db: Database,
    workspace_id: int,
    texts: Sequence[str],
    *,
    sentiments: Sequence[str] | None = None,
    dates: Sequence[datetime] | None = None,
    prefix: str = "t",
) -> list[int]:
    """Text feedback records as enrichment would leave them (sentiment filled); returns their ids in order."""
    now = utcnow()
    score = {"negative": -0.8, "neutral": 0.0, "positive": 0.8}
    with db.unit_of_work() as session:
        rows = [
            FeedbackRecord(
                workspace_id=workspace_id,
                source_type="social",
                source_name="twitter",
                submission_id=f"{prefix}{n}",
                field_id="text",
                field_type="text",
                value_text=text,
                collected_at=dates[n] if dates else now,
                sentiment_label=sentiments[n] if sentiments else None,
                sentiment_score=score.get(sentiments[n]) if sentiments else None,
                meta={},
                created_at=now,
                updated_at=now,
            )
            for n, text in enumerate(texts)
        ]
        session.add_all(rows)
        session.flush()
        return [r.id for r in rows]
