"""Enrichment on ingest: a background job per ingest batch fills language, sentiment, emotions and the embedding;
a changed text is enriched again, an unchanged re-send is not. Uses the real model on a handful of texts."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from cem.jobs.models import Job
from cem.jobs.queue import enqueue
from cem.text.models import FeedbackEmbedding
from cem.text.vector_index import decode_vector
from tests.conftest import Workspace
from tests.text.helpers import ingest, jobs, records_by_submission, run_jobs, text_record

TEXTS = {
    "en-neg": "I am furious, my flight was cancelled and nobody at the desk would help me. Unacceptable!",
    "en-pos": "Wonderful crew, we landed early and the staff were so friendly. Thank you!",
    "pt-neg": "Péssimo, o produto chegou quebrado e ninguém responde.",
    "pt-pos": "Adorei, chegou antes do prazo e muito bem embalado. Recomendo!",
}


def test_ingest_enqueues_one_job_per_batch_and_never_waits(
    workspace: Workspace, api: Callable[[str], TestClient]
) -> None:
    ingest(
        api("agent"),
        [text_record(k, v) for k, v in TEXTS.items()]
        + [
            {
                "source_type": "survey",
                "source_name": "nps",
                "submission_id": "s1",
                "field_id": "score",
                "field_type": "nps",
                "value": 9,
            }
        ],
    )
    queued = jobs(workspace.db, "text.enrich_submissions")
    assert len(queued) == 1 and queued[0].status == "queued"
    assert sorted(sid for _, _, sid in queued[0].args["submissions"]) == sorted(TEXTS)
    # Ingest returned before any enrichment: nothing is filled yet.
    assert all(r.sentiment_label is None for r in records_by_submission(workspace.db).values())


def test_job_enriches_language_sentiment_emotions_and_embedding(
    workspace: Workspace, api: Callable[[str], TestClient]
) -> None:
    ingest(api("agent"), [text_record(k, v) for k, v in TEXTS.items()])
    assert run_jobs(workspace.db) == 1
    records = records_by_submission(workspace.db)
    assert {k: records[k].language for k in TEXTS} == {"en-neg": "en", "en-pos": "en", "pt-neg": "pt", "pt-pos": "pt"}
    for key in TEXTS:
        r = records[key]
        expected = "negative" if key.endswith("neg") else "positive"
        assert r.sentiment_label == expected, (key, r.sentiment_label, r.sentiment_score)
        assert r.sentiment_score is not None and -1 <= r.sentiment_score <= 1
        assert (r.sentiment_score < 0) == (expected == "negative")
        assert r.enriched_at is not None and isinstance(r.emotions, list)
    assert "anger" in records["en-neg"].emotions
    assert "anger" not in records["en-pos"].emotions
    with workspace.db.unit_of_work(readonly=True) as session:
        stored = {e.record_id: e for e in session.scalars(select(FeedbackEmbedding))}
    assert set(stored) == {r.id for r in records.values()}
    vector = decode_vector(stored[records["pt-neg"].id].vector)
    assert vector.dtype == np.float32 and abs(float(np.linalg.norm(vector)) - 1) < 1e-3


def test_changed_text_is_enriched_again_and_unchanged_is_skipped(
    workspace: Workspace, api: Callable[[str], TestClient]
) -> None:
    agent = api("agent")
    ingest(agent, [text_record("a", "Thank you, lovely service, everything was perfect!"), text_record("b", "Ok")])
    run_jobs(workspace.db)
    before = records_by_submission(workspace.db)
    assert before["a"].sentiment_label == "positive"
    ingest(
        agent, [text_record("a", "Terrible, the order never arrived and I was charged twice."), text_record("b", "Ok")]
    )
    run_jobs(workspace.db)
    result = jobs(workspace.db, "text.enrich_submissions")[-1].result
    assert result is not None and result["enriched"] == 1 and result["skipped"] == 1
    after = records_by_submission(workspace.db)
    assert after["a"].sentiment_label == "negative"
    assert after["b"].enriched_at == before["b"].enriched_at


def test_language_given_at_ingest_is_kept(workspace: Workspace, api: Callable[[str], TestClient]) -> None:
    ingest(api("agent"), [text_record("x", "Great product", language="en-GB")])
    run_jobs(workspace.db)
    assert records_by_submission(workspace.db)["x"].language == "en-GB"


def test_a_failing_topic_assignment_keeps_the_rest(
    workspace: Workspace, api: Callable[[str], TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    import cem.text.topics.service as topics_service

    def broken(*_args: object) -> dict[int, list[str]]:
        raise RuntimeError("topic model broken")

    monkeypatch.setattr(topics_service, "assign_topics", broken)
    ingest(api("agent"), [text_record("t", "Thank you, the crew was wonderful!")])
    run_jobs(workspace.db)
    record = records_by_submission(workspace.db)["t"]
    assert record.sentiment_label == "positive" and record.enriched_at is not None
    assert jobs(workspace.db, "text.enrich_submissions")[0].status == "done"


def test_enrichment_after_a_write_selects_that_source_only(
    workspace: Workspace, api: Callable[[str], TestClient]
) -> None:
    """Submission ids are unique within a source: reviews whose ids the tickets also use never re-process them."""
    agent = api("agent")
    tickets = [text_record(f"t{i}", f"ticket {i}: the parcel is late", source_name="tickets") for i in range(3)]
    ingest(agent, tickets)
    run_jobs(workspace.db)
    ingest(agent, [text_record(f"t{i}", f"review {i}: lovely shoes", source_name="reviews") for i in range(2)])
    run_jobs(workspace.db)
    job = jobs(workspace.db, "text.enrich_submissions")[-1]
    assert sorted(map(tuple, job.args["submissions"])) == [("review", "reviews", "t0"), ("review", "reviews", "t1")]
    assert job.result is not None and (job.result["enriched"], job.result["skipped"]) == (2, 0)


def test_jobs_queued_by_older_versions_still_enrich(workspace: Workspace, api: Callable[[str], TestClient]) -> None:
    ingest(api("agent"), [text_record("old", "Terrible, the order never arrived.")])
    with workspace.db.unit_of_work() as session:  # only a job in the args shape before jobs named the source
        session.execute(delete(Job).where(Job.name == "text.enrich_submissions"))
        enqueue(session, "text.enrich_submissions", workspace_id=workspace.id, submission_ids=["old"])
    run_jobs(workspace.db)
    assert records_by_submission(workspace.db)["old"].sentiment_label == "negative"
