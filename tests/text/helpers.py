"""Helpers shared by the text tests: ingest through the API, run the queued jobs, read enrichment back."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import select

from cem.db.session import Database
from cem.feedback.models import FeedbackRecord
from cem.jobs.models import Job
from cem.jobs.worker import Worker
from cem.text.embeddings import DIM, MODEL_NAME
from cem.text.enrich import text_hash
from cem.text.models import FeedbackEmbedding
from cem.text.vector_index import encode_vector


def text_record(submission: str, text: str, **extra: Any) -> dict[str, Any]:
    return {
        "source_type": "review",
        "source_name": extra.pop("source_name", "store"),
        "submission_id": submission,
        "field_id": "comment",
        "field_type": "text",
        "value": text,
        **extra,
    }


def ingest(client: TestClient, records: list[dict[str, Any]]) -> None:
    r = client.post("/api/v1/feedback/bulk", json=records)
    assert r.status_code == 200, r.text


def run_jobs(db: Database) -> int:
    return Worker(db, poll_seconds=0.01).run_until_idle()


def jobs(db: Database, name: str) -> list[Job]:
    with db.unit_of_work(readonly=True) as session:
        return list(session.scalars(select(Job).where(Job.name == name).order_by(Job.id)))


def records_by_submission(db: Database) -> dict[str, FeedbackRecord]:
    with db.unit_of_work(readonly=True) as session:
        return {r.submission_id: r for r in session.scalars(select(FeedbackRecord))}


def store_vectors(db: Database, workspace_id: int, vectors: dict[int, np.ndarray[Any, Any]]) -> None:
    """Give records embeddings directly (no model): for search and training tests."""
    with db.unit_of_work() as session:
        texts = dict(session.execute(select(FeedbackRecord.id, FeedbackRecord.value_text)).all())
        for record_id, vector in vectors.items():
            session.merge(
                FeedbackEmbedding(
                    record_id=record_id,
                    workspace_id=workspace_id,
                    model=MODEL_NAME,
                    dim=DIM,
                    vector=encode_vector(vector / np.linalg.norm(vector)),
                    text_hash=text_hash(texts[record_id] or ""),
                )
            )
