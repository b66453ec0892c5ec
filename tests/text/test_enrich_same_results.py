"""Enrichment through the store gives exactly what the same steps give in memory, on real review and tweet texts.

The job enriches records in chunks (each chunk one engine call in rounds of batches, a round's lone batch on one
engine thread), the in-memory path embeds everything in one call: language, sentiment label and score, emotions and
the stored vector must not depend on that, for short texts, texts with contrasting clauses, and texts longer than
the embedder reads (cut at MAX_CHARS before the engine windows them).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cem.text import tasks
from cem.text.embeddings import MAX_CHARS, shared_embedder
from cem.text.emotions import DEFAULT_EXAMPLES, shared_emotion_model
from cem.text.enrich import embedded_text
from cem.text.language import detect_languages
from cem.text.models import FeedbackEmbedding
from cem.text.sentiment import contrast_parts, shared_default_analyzer
from cem.text.vector_index import decode_vector
from tests.conftest import Workspace
from tests.text.helpers import ingest, records_by_submission, run_jobs, text_record


def _column(path: Path, column: str) -> list[str]:
    with path.open(encoding="utf-8") as handle:
        return [text for row in csv.DictReader(handle) if (text := (row[column] or "").strip())]


def real_texts(shared_data: Path) -> list[str]:
    """Real tweets and Olist reviews of every length the enrichment meets: short, with a contrast ("but", "mas"),
    and long ones made by joining consecutive texts of one language, one longer than MAX_CHARS."""
    tweets = _column(shared_data / "airline-tweets-sample" / "Tweets_sample_every7th_2000.csv", "text")
    reviews = _column(
        shared_data / "olist-ecommerce-subset" / "olist_order_reviews_dataset.csv", "review_comment_message"
    )
    contrasted = [t for t in tweets[:400] + reviews[:400] if len(contrast_parts([t])) >= 2][:6]
    long_pt, long_en = " ".join(reviews[100:130]), " ".join(tweets[100:108])
    texts = tweets[:5] + reviews[:5] + contrasted + [long_pt, long_en, " ".join(reviews[200:205])]
    assert len(long_pt) > MAX_CHARS and len(contrasted) == 6
    return texts


def test_store_and_memory_enrich_real_texts_identically(
    workspace: Workspace,
    api: Callable[[str], TestClient],
    shared_data: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    texts = real_texts(shared_data)
    # Small chunks: several chunks, rounds with a lone batch, and a continuation job, as on a long import.
    monkeypatch.setattr(tasks, "FIRST_CHUNK_RECORDS", 4)
    monkeypatch.setattr(tasks, "MAX_CHUNK_RECORDS", 4)
    ingest(api("agent"), [text_record(str(i), text) for i, text in enumerate(texts)])
    run_jobs(workspace.db)
    records = records_by_submission(workspace.db)
    with workspace.db.unit_of_work(readonly=True) as session:
        stored = {e.record_id: decode_vector(e.vector) for e in session.scalars(select(FeedbackEmbedding))}

    # The same steps in memory, all texts in one call.
    masked = [embedded_text(t) for t in texts]
    analyzer = shared_default_analyzer()
    vectors, part_vectors = analyzer.embed(masked)
    found = analyzer.from_vectors(masked, vectors, part_vectors)
    emotions = shared_emotion_model().detect(vectors, DEFAULT_EXAMPLES)
    languages = detect_languages(texts)

    for i, text in enumerate(texts):
        record = records[str(i)]
        assert record.value_text == text
        assert (record.language, record.sentiment_label, record.sentiment_score, record.emotions) == (
            languages[i],
            found[i].label,
            found[i].score,
            emotions[i],
        ), text[:80]
        np.testing.assert_array_equal(stored[record.id], vectors[i])
    # Not a trivial agreement: the set has both languages and at least three labels.
    assert {r.language for r in records.values()} >= {"en", "pt"}
    assert len({r.sentiment_label for r in records.values()}) >= 3
    # One vector per text, whatever the batch: the long text alone (an urgent call on the engine's own threads)
    # equals its vector from the bulk call.
    alone = shared_embedder().embed([masked[-3]], urgent=True)[0]
    np.testing.assert_array_equal(alone, vectors[-3])
