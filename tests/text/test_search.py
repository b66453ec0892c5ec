"""Semantic search and similar feedback: the exact numpy index, the explorer's filters, and clear errors."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from fastapi.testclient import TestClient

from cem.text.vector_index import NumpyIndex, search_matrix, top_k
from tests.conftest import Workspace
from tests.text.helpers import ingest, records_by_submission, run_jobs, store_vectors, text_record


def test_top_k_is_exact_and_ordered() -> None:
    rng = np.random.default_rng(1)
    scores = rng.standard_normal(1000).astype(np.float32)
    best = top_k(scores, 10)
    assert list(best) == list(np.argsort(-scores)[:10])
    assert list(top_k(scores[:3], 10)) == list(np.argsort(-scores[:3]))
    assert top_k(scores, 0).size == 0


def test_search_matrix_respects_among_and_exclude() -> None:
    rng = np.random.default_rng(2)
    vectors = rng.standard_normal((50, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(100, 150, dtype=np.int64)
    hits = search_matrix(ids, vectors, vectors[7], 3)
    assert hits[0].record_id == 107 and hits[0].score == pytest.approx(1.0, abs=1e-5)
    hits = search_matrix(ids, vectors, vectors[7], 3, exclude=[107])
    assert 107 not in [h.record_id for h in hits] and len(hits) == 3
    hits = search_matrix(ids, vectors, vectors[7], 10, among=[101, 102, 107], exclude=[107])
    assert sorted(h.record_id for h in hits) == [101, 102]
    assert search_matrix(ids[:0], vectors[:0], vectors[7], 5) == []


def _axis(i: int) -> np.ndarray:
    v = np.zeros(384, dtype=np.float32)
    v[i] = 1.0
    return v


def test_index_refreshes_when_embeddings_change(workspace: Workspace, api: Callable[[str], TestClient]) -> None:
    ingest(api("agent"), [text_record(f"s{i}", f"text {i}") for i in range(3)])
    ids = sorted(r.id for r in records_by_submission(workspace.db).values())
    store_vectors(workspace.db, workspace.id, {ids[0]: _axis(0), ids[1]: _axis(1)})
    index = NumpyIndex()
    with workspace.db.unit_of_work(readonly=True) as session:
        from cem.text.embeddings import MODEL_NAME

        first = index.search(session, workspace_id=workspace.id, model=MODEL_NAME, query=_axis(2), limit=5)
        assert {h.record_id for h in first} == {ids[0], ids[1]}
    store_vectors(workspace.db, workspace.id, {ids[2]: _axis(2)})
    with workspace.db.unit_of_work(readonly=True) as session:
        hits = index.search(session, workspace_id=workspace.id, model=MODEL_NAME, query=_axis(2), limit=1)
    assert hits[0].record_id == ids[2]


@pytest.fixture
def enriched(workspace: Workspace, api: Callable[[str], TestClient]) -> dict[str, int]:
    """A few real texts, enriched by the real model (one job)."""
    records = [
        text_record("refund1", "I am still waiting for my refund after three weeks, please return my money."),
        text_record("refund2", "Ainda não recebi o reembolso do pedido cancelado.", source_name="loja"),
        text_record("seat", "The seat was comfortable and the legroom generous."),
        text_record("food", "The food on board was cold and tasteless."),
        text_record("bag", "My suitcase was lost at the airport, nobody knows where it is."),
    ]
    ingest(api("agent"), records)
    assert run_jobs(workspace.db) == 1
    return {k: r.id for k, r in records_by_submission(workspace.db).items()}


def test_semantic_search_finds_meaning_across_languages(
    enriched: dict[str, int], api: Callable[[str], TestClient]
) -> None:
    r = api("viewer").get("/api/v1/text/search", params={"q": "complaints about refunds", "limit": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert {h["record"]["submission_id"] for h in body["items"]} == {"refund1", "refund2"}
    assert body["items"][0]["score"] >= body["items"][1]["score"]
    # Combined with the explorer's filters: only the Portuguese store's records.
    r = api("viewer").get("/api/v1/text/search", params={"q": "refund", "source_name": "loja"})
    assert [h["record"]["submission_id"] for h in r.json()["items"]] == ["refund2"]


def test_similar_feedback(enriched: dict[str, int], api: Callable[[str], TestClient]) -> None:
    r = api("viewer").get(f"/api/v1/feedback/{enriched['refund1']}/similar", params={"limit": 1})
    assert r.status_code == 200, r.text
    assert [h["record"]["submission_id"] for h in r.json()["items"]] == ["refund2"]
    r = api("viewer").get(f"/api/v1/feedback/{enriched['refund1']}/similar", params={"source_type": "survey"})
    assert r.json()["items"] == []


def test_search_errors(workspace: Workspace, api: Callable[[str], TestClient]) -> None:
    viewer = api("viewer")
    for params in ({}, {"q": "   "}, {"q": "x" * 501}):
        r = viewer.get("/api/v1/text/search", params=params)
        assert r.status_code == 422 and r.json()["error"] == "invalid_input", r.text
    r = viewer.get("/api/v1/text/search", params={"q": "refund", "limit": 0})
    assert r.status_code == 422
    assert viewer.get("/api/v1/feedback/999999/similar").status_code == 404
    ingest(
        api("agent"),
        [
            {
                "source_type": "survey",
                "source_name": "nps",
                "submission_id": "n",
                "field_id": "s",
                "field_type": "nps",
                "value": 3,
            }
        ],
    )
    record_id = next(iter(records_by_submission(workspace.db).values())).id
    r = viewer.get(f"/api/v1/feedback/{record_id}/similar")
    assert r.status_code == 409 and "no text embedding" in r.json()["detail"]
