"""Semantic search and imports stay interactive while enrichment runs: enrichment jobs yield, a search query
gets the engine between rounds of a bulk call, the vector index is loaded at server start and merges new rows."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from cem.app import create_app
from cem.config import Settings
from cem.jobs.models import Job
from cem.jobs.queue import enqueue
from cem.jobs.registry import PRIORITY_BULK
from cem.jobs.worker import Worker
from cem.text import tasks as text_tasks
from cem.text.embeddings import MODEL_NAME, Embedder, EngineTurns, shared_embedder
from cem.text.models import FeedbackEmbedding
from cem.text.vector_index import NumpyIndex, shared_index
from tests.conftest import Workspace
from tests.text.helpers import ingest, jobs, records_by_submission, run_jobs, store_vectors, text_record


def test_an_enrichment_job_yields_and_hands_the_rest_to_a_new_bulk_job(
    workspace: Workspace, api: Callable[[str], TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(text_tasks, "FIRST_CHUNK_RECORDS", 2)
    monkeypatch.setattr(text_tasks, "MAX_CHUNK_RECORDS", 2)
    monkeypatch.setattr(text_tasks, "YIELD_SECONDS", 0.0)
    ingest(api("agent"), [text_record(f"s{i}", f"The delivery number {i} was late again") for i in range(5)])
    [first] = jobs(workspace.db, "text.enrich_submissions")
    assert first.priority == PRIORITY_BULK
    assert Worker(workspace.db).run_until_idle(max_jobs=1) == 1

    [first] = jobs(workspace.db, "text.enrich_submissions")
    [rest] = jobs(workspace.db, "text.enrich_records")
    assert first.status == "done" and first.result["enriched"] == 2
    assert first.result["continued_in_job"] == rest.id and first.result["left"] == 3
    assert rest.status == "queued" and rest.priority == PRIORITY_BULK and len(rest.args["record_ids"]) == 3
    records = records_by_submission(workspace.db).values()
    assert sum(r.enriched_at is not None for r in records) == 2

    # A person's import queued now goes before the rest of the backfill.
    with workspace.db.unit_of_work() as session:
        import_job = enqueue(session, "imports.run", workspace_id=workspace.id, run_id=1).id
    claimer = Worker(workspace.db)
    assert [j.id for j in claimer.claim_batch(1)] == [import_job]
    claimer.heartbeat.stop()
    with workspace.db.unit_of_work() as session:
        session.execute(delete(Job).where(Job.id == import_job))

    run_jobs(workspace.db)
    assert all(r.enriched_at is not None for r in records_by_submission(workspace.db).values())


def test_a_waiting_urgent_caller_gets_the_engine_before_the_next_bulk_round() -> None:
    turns = EngineTurns()
    order: list[str] = []
    holding = threading.Event()
    release = threading.Event()

    def bulk_round(label: str, hold: bool = False) -> None:
        with turns.turn(urgent=False):
            order.append(label)
            if hold:
                holding.set()
                release.wait(10)

    def query() -> None:
        with turns.turn(urgent=True):
            order.append("query")

    first = threading.Thread(target=bulk_round, args=("bulk-1", True))
    first.start()
    holding.wait(10)
    second = threading.Thread(target=bulk_round, args=("bulk-2",))
    second.start()
    time.sleep(0.1)  # the next bulk round is waiting first
    urgent = threading.Thread(target=query)
    urgent.start()
    time.sleep(0.1)
    release.set()
    for thread in (first, second, urgent):
        thread.join(10)
    assert order == ["bulk-1", "query", "bulk-2"]


def test_a_search_query_does_not_wait_for_a_whole_bulk_embedding_call() -> None:
    embedder = Embedder(workers=2)
    embedder.warm()
    texts = [f"Review {i}: the parcel arrived {i % 7} days late and the box was damaged" for i in range(320)]
    started = threading.Event()
    bulk = threading.Thread(target=lambda: embedder.embed(texts, progress=lambda _k: started.set()))
    bulk.start()
    assert started.wait(60), "the bulk call never finished a round"
    began = time.monotonic()
    vector = embedder.embed(["late delivery"], urgent=True)
    waited = time.monotonic() - began
    still_running = bulk.is_alive()
    bulk.join(120)
    assert vector.shape == (1, 384)
    assert still_running, f"the query waited {waited:.1f} s, until the whole bulk call had finished"


def _axis(i: int) -> np.ndarray:
    v = np.zeros(384, dtype=np.float32)
    v[i] = 1.0
    return v


def test_the_index_merges_new_rows_and_reloads_only_after_deletions(
    workspace: Workspace, api: Callable[[str], TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest(api("agent"), [text_record(f"s{i}", f"text {i}") for i in range(4)])
    ids = sorted(r.id for r in records_by_submission(workspace.db).values())
    store_vectors(workspace.db, workspace.id, {ids[0]: _axis(0), ids[1]: _axis(1)})
    index = NumpyIndex()
    full_loads: list[int] = []
    load_all = index._load_all
    monkeypatch.setattr(index, "_load_all", lambda *a: full_loads.append(1) or load_all(*a))

    def matrix_ids() -> list[int]:
        with workspace.db.unit_of_work(readonly=True) as session:
            matrix = index.matrix(session, workspace.id, MODEL_NAME)
            fresh = NumpyIndex().matrix(session, workspace.id, MODEL_NAME)
        assert np.array_equal(matrix.ids, fresh.ids) and np.array_equal(matrix.vectors, fresh.vectors)
        return [int(i) for i in matrix.ids]

    assert matrix_ids() == ids[:2] and len(full_loads) == 1
    time.sleep(0.01)  # a later created_at
    store_vectors(workspace.db, workspace.id, {ids[2]: _axis(2), ids[3]: _axis(3)})
    assert matrix_ids() == ids and len(full_loads) == 1, "new rows are merged, not reloaded"
    with workspace.db.unit_of_work() as session:
        session.execute(delete(FeedbackEmbedding).where(FeedbackEmbedding.record_id == ids[1]))
    assert matrix_ids() == [ids[0], ids[2], ids[3]] and len(full_loads) == 2


def test_the_vector_index_is_ready_after_start_without_any_search(
    workspace: Workspace, api: Callable[[str], TestClient], settings: Settings
) -> None:
    ingest(api("agent"), [text_record(f"s{i}", f"text {i}") for i in range(3)])
    ids = sorted(r.id for r in records_by_submission(workspace.db).values())
    store_vectors(workspace.db, workspace.id, {i: _axis(n) for n, i in enumerate(ids)})
    shared_index().clear()
    assert not shared_index().is_loaded(workspace.id, MODEL_NAME)

    app = create_app(settings.model_copy(update={"warm_text_search": True}), db=workspace.db)
    with TestClient(app):
        assert app.state.search_ready.wait(60), "semantic search was not warmed at start"
        assert shared_index().is_loaded(workspace.id, MODEL_NAME)
        assert shared_embedder().loaded
    shared_index().clear()
