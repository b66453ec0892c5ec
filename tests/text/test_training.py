"""Label corrections and the workspace's own sentiment model (logistic regression on stored embeddings)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cem.auth.models import AuditLog
from cem.text.enrich import workspace_head
from cem.text.training import LinearHead, train
from tests.conftest import Workspace
from tests.text.helpers import ingest, jobs, records_by_submission, run_jobs, store_vectors, text_record


def test_train_reports_cv_and_only_beats_a_worse_default() -> None:
    rng = np.random.default_rng(0)
    centers = {"negative": 0, "neutral": 1, "positive": 2}
    labels = [c for c in centers for _ in range(12)]
    vectors = np.stack([np.eye(384)[centers[c]] * 3 + rng.normal(0, 0.3, 384) for c in labels])
    wrong_default = ["positive"] * len(labels)
    report = train(vectors, labels, wrong_default)
    assert report.folds == 5 and report.samples == 36
    assert report.cv_macro_f1 > 0.9 and report.default_macro_f1 < 0.3 and report.beats_default
    perfect_default = list(labels)
    assert not train(vectors, labels, perfect_default).beats_default
    head = LinearHead.from_json(report.head.classes, report.head.to_json())
    assert [s.polarity for s in head.sentiments(vectors[:3])] == labels[:3]
    with pytest.raises(ValueError, match="at least 10"):
        train(vectors[:5], labels[:5], wrong_default[:5])
    with pytest.raises(ValueError, match="two classes"):
        train(vectors[:12], labels[:12], wrong_default[:12])


def test_label_correction_api(workspace: Workspace, api: Callable[[str], TestClient]) -> None:
    ingest(api("agent"), [text_record("a", "Where is my parcel?")])
    record_id = records_by_submission(workspace.db)["a"].id
    r = api("agent").put(
        f"/api/v1/feedback/{record_id}/label", json={"sentiment_label": "neutral", "topic": "Delivery"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["sentiment_label"] == "neutral" and r.json()["corrected_by"]
    record = records_by_submission(workspace.db)["a"]
    assert (record.sentiment_label, record.topics) == ("neutral", ["Delivery"])
    api("agent").put(f"/api/v1/feedback/{record_id}/label", json={"sentiment_label": "negative"})
    listed = api("viewer").get("/api/v1/text/corrections").json()
    assert [(c["record_id"], c["sentiment_label"], c["topic"]) for c in listed] == [(record_id, "negative", "Delivery")]
    with workspace.db.unit_of_work(readonly=True) as session:
        assert session.scalars(select(AuditLog).where(AuditLog.action == "text.label_correct")).all()


def test_bad_corrections_change_nothing(workspace: Workspace, api: Callable[[str], TestClient]) -> None:
    ingest(api("agent"), [text_record("a", "Where is my parcel?")])
    record_id = records_by_submission(workspace.db)["a"].id
    agent = api("agent")
    for body in ({"sentiment_label": "angry"}, {"sentiment_label": 3}, {"topic": "x" * 201}, {"extra": 1}):
        assert agent.put(f"/api/v1/feedback/{record_id}/label", json=body).status_code == 422
    r = agent.put(f"/api/v1/feedback/{record_id}/label", json={})
    assert r.status_code == 422 and "sentiment_label" in r.json()["detail"]
    assert agent.put("/api/v1/feedback/999999/label", json={"sentiment_label": "neutral"}).status_code == 404
    assert (
        api("viewer").put(f"/api/v1/feedback/{record_id}/label", json={"sentiment_label": "neutral"}).status_code == 403
    )
    assert records_by_submission(workspace.db)["a"].sentiment_label is None
    assert api("viewer").get("/api/v1/text/corrections").json() == []


def _corrected_workspace(workspace: Workspace, api: Callable[[str], TestClient], n: int = 30) -> list[str]:
    """n text records with synthetic separable embeddings and corrected labels (no model involved)."""
    labels = ["negative", "neutral", "positive"]
    ingest(api("agent"), [text_record(f"s{i}", f"feedback number {i}") for i in range(n)])
    records = records_by_submission(workspace.db)
    rng = np.random.default_rng(3)
    vectors, truth = {}, []
    for i in range(n):
        label = labels[i % 3]
        truth.append(label)
        v = np.zeros(384)
        v[10 + labels.index(label)] = 3
        vectors[records[f"s{i}"].id] = v + rng.normal(0, 0.2, 384)
    store_vectors(workspace.db, workspace.id, vectors)
    for i in range(n):
        r = api("agent").put(f"/api/v1/feedback/{records[f's{i}'].id}/label", json={"sentiment_label": truth[i]})
        assert r.status_code == 200
    return truth


def test_train_api_replaces_the_default_when_better(workspace: Workspace, api: Callable[[str], TestClient]) -> None:
    _corrected_workspace(workspace, api)
    r = api("agent").post("/api/v1/text/models/train")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["replaced_default"] is True and body["model"]["active"] is True
    assert body["model"]["cv_macro_f1"] > body["model"]["default_macro_f1"]
    assert "5-fold CV" in body["message"] and body["model"]["samples"] == 30
    with workspace.db.unit_of_work(readonly=True) as session:
        head = workspace_head(session, workspace.id)
    assert head is not None and set(head.classes) == {"negative", "neutral", "positive"}
    assert [j.status for j in jobs(workspace.db, "text.rescore")] == ["queued"]
    assert [m["active"] for m in api("viewer").get("/api/v1/text/models").json()] == [True]


def test_rescore_uses_the_workspace_model_and_keeps_corrections(
    workspace: Workspace, api: Callable[[str], TestClient]
) -> None:
    truth = _corrected_workspace(workspace, api, n=30)
    ingest(api("agent"), [text_record("new", "an uncorrected text")])
    new_id = records_by_submission(workspace.db)["new"].id
    v = np.zeros(384)
    v[12] = 3  # the "positive" direction of the synthetic space
    store_vectors(workspace.db, workspace.id, {new_id: v})
    api("agent").post("/api/v1/text/models/train")
    from cem.jobs.models import Job

    with workspace.db.unit_of_work() as session:  # the enrichment jobs would embed the placeholder texts
        for job in session.scalars(select(Job).where(Job.name != "text.rescore")):
            job.status = "done"
    run_jobs(workspace.db)
    records = records_by_submission(workspace.db)
    assert records["new"].sentiment_label == "positive" and records["new"].sentiment_score > 0
    assert [records[f"s{i}"].sentiment_label for i in range(30)] == truth


def test_training_needs_enough_corrections(workspace: Workspace, api: Callable[[str], TestClient]) -> None:
    r = api("agent").post("/api/v1/text/models/train")
    assert r.status_code == 400 and "at least 10" in r.json()["detail"]
    assert api("viewer").post("/api/v1/text/models/train").status_code == 403
    assert api("viewer").get("/api/v1/text/models").json() == []
