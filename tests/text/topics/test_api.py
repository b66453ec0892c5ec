"""Topic API and explorer pages: statistics, verbatims, edits (audited), discovery as a job, readable errors."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cem.auth.models import AuditLog
from cem.db.session import Database
from cem.jobs.models import Job
from cem.jobs.worker import Worker
from cem.text.topics import runs, vectors
from tests.conftest import Workspace
from tests.test_roles_matrix import csrf_of, login
from tests.text.topics.conftest import Corpus, store_texts


@pytest.fixture
def topics(db: Database, workspace: Workspace, airline: Corpus, monkeypatch: pytest.MonkeyPatch) -> list[dict]:  # type: ignore[type-arg]
    # No stored embeddings in these tests: splits embed through the (replaced) model.
    monkeypatch.setattr(vectors, "default_embed", airline.embed())
    store_texts(db, workspace.id, airline.texts, sentiments=airline.sentiments, dates=airline.dates)
    with db.unit_of_work() as session:
        runs.discover_workspace(session, workspace.id, seed=0, min_topic_size=8, embed=airline.embed())
    r = TestClient(workspace.client.app, headers=workspace.headers("viewer")).get("/api/v1/text/topics")
    assert r.status_code == 200
    return r.json()  # type: ignore[no-any-return]


def test_list_and_drill_down(api: Callable[..., TestClient], topics: list[dict]) -> None:  # type: ignore[type-arg]
    parents = [t for t in topics if t["parent_id"] is None]
    volumes = [t["volume"] for t in parents]
    assert volumes == sorted(volumes, reverse=True) and volumes[0] > 0
    top = parents[0]
    assert {"key", "label", "volume", "sentiment_mean", "negative_share", "trend", "terms"} <= set(top)
    assert -1 <= top["sentiment_mean"] <= 1 and 0 <= top["negative_share"] <= 1
    viewer = api("viewer")
    page = viewer.get(f"/api/v1/text/topics/{top['id']}/verbatims", params={"limit": 5}).json()
    assert page["total"] == top["volume"] and len(page["items"]) == 5
    scores = [v["score"] for v in page["items"]]
    assert scores == sorted(scores, reverse=True)
    assert all(top["key"] in v["topics"] for v in page["items"])
    negative = viewer.get(f"/api/v1/text/topics/{top['id']}/verbatims", params={"sentiment": "negative"}).json()
    assert all(v["sentiment_label"] == "negative" for v in negative["items"])
    assert viewer.get(f"/api/v1/text/topics/{top['id']}").json()["volume"] == top["volume"]


def test_edits_through_the_api_are_audited(
    api: Callable[..., TestClient],
    db: Database,
    topics: list[dict],  # type: ignore[type-arg]
) -> None:
    agent = api("agent")
    parents = [t for t in topics if t["parent_id"] is None]
    a, b, c = parents[0], parents[1], parents[2]
    r = agent.patch(f"/api/v1/text/topics/{a['id']}", json={"label": "Flight delays"})
    assert r.status_code == 200 and r.json()["label"] == "Flight delays" and r.json()["label_edited"]
    r = agent.post(f"/api/v1/text/topics/{a['id']}/merge", json={"source_ids": [b["id"]]})
    assert r.status_code == 200 and r.json()["user_edited"]
    split = agent.post(f"/api/v1/text/topics/{c['id']}/split", json={"k": 2})
    assert split.status_code == 200 and len(split.json()) == 2
    rule = agent.post("/api/v1/text/topics/rules", json={"label": "Refunds", "query": "refund*, money back"})
    assert rule.status_code == 200 and rule.json()["kind"] == "rule"
    assert agent.put(f"/api/v1/text/topics/{rule.json()['id']}/rule", json={"query": "refund"}).status_code == 200
    assert agent.delete(f"/api/v1/text/topics/{rule.json()['id']}").json() == {"deleted": True}
    listed = {t["id"]: t for t in agent.get("/api/v1/text/topics").json()}
    assert a["id"] in listed and b["id"] not in listed and c["id"] not in listed
    assert listed[a["id"]]["volume"] >= a["volume"] + b["volume"] - 5
    with db.unit_of_work(readonly=True) as session:
        actions = set(session.scalars(select(AuditLog.action).where(AuditLog.action.like("topic.%"))))
    assert {"topic.rename", "topic.merge", "topic.split", "topic.rule.create", "topic.rule.update"} <= actions
    assert "topic.delete" in actions


def test_bad_requests_get_clear_errors_and_change_nothing(
    api: Callable[..., TestClient],
    topics: list[dict],  # type: ignore[type-arg]
) -> None:
    agent = api("agent")
    parents = [t for t in topics if t["parent_id"] is None]
    child = next(t for t in topics if t["parent_id"] is not None)
    tid = parents[0]["id"]
    cases = [
        ("patch", f"/api/v1/text/topics/{tid}", {"label": ""}, 422),
        ("patch", f"/api/v1/text/topics/{tid}", {"label": "x", "extra": 1}, 422),
        ("post", f"/api/v1/text/topics/{tid}/merge", {"source_ids": [child["id"]]}, 422),
        ("post", f"/api/v1/text/topics/{tid}/merge", {"source_ids": []}, 422),
        ("post", f"/api/v1/text/topics/{tid}/split", {"k": 11}, 422),
        ("post", "/api/v1/text/topics/rules", {"label": "Only excluded", "query": "-coupon"}, 422),
        ("put", f"/api/v1/text/topics/{tid}/rule", {"query": "refund"}, 422),
        ("patch", "/api/v1/text/topics/999999", {"label": "x"}, 404),
        ("post", "/api/v1/text/topics/discover", {"min_topic_size": 1}, 422),
    ]
    for method, url, body, status in cases:
        r = getattr(agent, method)(url, json=body)
        assert r.status_code == status, (url, body, r.text)
        assert set(r.json()) == {"error", "detail", "status", "errors"} and r.json()["detail"]
    assert agent.get(f"/api/v1/text/topics/{tid}/verbatims", params={"sentiment": "angry"}).status_code == 422
    after = agent.get("/api/v1/text/topics").json()
    assert [(t["id"], t["label"], t["volume"]) for t in after] == [(t["id"], t["label"], t["volume"]) for t in topics]


def test_discovery_runs_as_a_job(
    api: Callable[..., TestClient], db: Database, workspace: Workspace, airline: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_texts(db, workspace.id, airline.texts, sentiments=airline.sentiments)
    monkeypatch.setattr(vectors, "default_embed", airline.embed())
    r = api("agent").post("/api/v1/text/topics/discover", json={"seed": 1, "min_topic_size": 8})
    assert r.status_code == 200 and r.json()["status"] == "queued"
    assert Worker(db).run_until_idle() == 1
    assert api("admin").get(f"/api/v1/jobs/{r.json()['job_id']}").json()["status"] == "done"
    with db.unit_of_work(readonly=True) as session:
        result = session.get_one(Job, r.json()["job_id"]).result
    assert result["texts"] == len(airline.texts) and result["topics"] >= 4
    assert len(api("viewer").get("/api/v1/text/topics").json()) == result["topics"] + result["subtopics"]
    with db.unit_of_work(readonly=True) as session:
        assert session.scalar(select(func.count()).where(AuditLog.action == "topic.discover")) == 1


def test_explorer_pages(app: object, workspace: Workspace, topics: list[dict]) -> None:  # type: ignore[type-arg]
    viewer = TestClient(app)  # type: ignore[arg-type]
    login(viewer, workspace.user_email("viewer"))
    page = viewer.get("/text")
    assert page.status_code == 200
    top = next(t for t in topics if t["parent_id"] is None)
    assert top["label"] in page.text and 'data-testid="topic-row"' in page.text
    assert "echarts" in page.text and "New rule topic" not in page.text  # viewers cannot edit
    detail = viewer.get(f"/text/topics/{top['id']}")
    assert detail.status_code == 200 and "<mark>" in detail.text and 'data-testid="verbatim"' in detail.text
    assert viewer.get("/text/topics/999999").status_code == 404

    agent = TestClient(app)  # type: ignore[arg-type]
    csrf = login(agent, workspace.user_email("agent"))
    r = agent.post(
        f"/text/topics/{top['id']}/rename", data={"csrf_token": csrf, "label": "Late flights"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == f"/text/topics/{top['id']}"
    assert "Late flights" in agent.get(f"/text/topics/{top['id']}").text
    bad = agent.post(f"/text/topics/{top['id']}/rename", data={"csrf_token": csrf, "label": "  "})
    assert bad.status_code == 422 and "cannot be empty" in bad.text and "Late flights" in bad.text
    bad = agent.post(f"/text/topics/{top['id']}/split", data={"csrf_token": csrf, "k": "many"})
    assert bad.status_code == 422 and "whole number" in bad.text
    bad = agent.post("/text/topics/rules", data={"csrf_token": csrf, "label": "Refunds", "query": "-x"})
    assert bad.status_code == 422 and "at least one term" in bad.text and 'value="Refunds"' in bad.text
    made = agent.post(
        "/text/topics/rules", data={"csrf_token": csrf, "label": "Refunds", "query": "refund*"}, follow_redirects=False
    )
    assert made.status_code == 303 and made.headers["location"].startswith("/text/topics/")
    started = agent.post("/text/topics/discover", data={"csrf_token": csrf, "seed": "2"}, follow_redirects=False)
    assert started.status_code == 303 and "/text?job=" in started.headers["location"]
    assert "Topic discovery (job" in agent.get(started.headers["location"]).text
    assert agent.post("/text/topics/discover", data={"csrf_token": csrf, "min_topic_size": "1"}).status_code == 422
    csrf_of(agent)


def test_label_correction_moves_a_record_into_a_topic(
    api: Callable[..., TestClient],
    topics: list[dict],  # type: ignore[type-arg]
) -> None:
    agent = api("agent")
    parents = [t for t in topics if t["parent_id"] is None]
    source, target = parents[0], parents[-1]
    record_id = agent.get(f"/api/v1/text/topics/{source['id']}/verbatims", params={"limit": 1}).json()["items"][0][
        "record_id"
    ]
    r = agent.put(f"/api/v1/feedback/{record_id}/label", json={"topic": target["label"]})
    assert r.status_code == 200, r.text
    moved = agent.get(f"/api/v1/text/topics/{target['id']}/verbatims", params={"limit": 200}).json()
    assert record_id in [v["record_id"] for v in moved["items"]]
    assert agent.get(f"/api/v1/feedback/{record_id}").json()["topics"] == [target["key"]]
    left = agent.get(f"/api/v1/text/topics/{source['id']}/verbatims", params={"limit": 200}).json()
    assert record_id not in [v["record_id"] for v in left["items"]]


def test_editor_forms_merge_split_delete_and_rule_query(
    app: object,
    workspace: Workspace,
    topics: list[dict],  # type: ignore[type-arg]
) -> None:
    agent = TestClient(app)  # type: ignore[arg-type]
    csrf = login(agent, workspace.user_email("agent"))
    parents = [t for t in topics if t["parent_id"] is None]
    a, b, c = parents[0], parents[1], parents[2]
    page = agent.get(f"/text/topics/{a['id']}")
    assert f'<option value="{b["id"]}">' in page.text  # siblings offered for merging
    r = agent.post(
        f"/text/topics/{a['id']}/merge", data={"csrf_token": csrf, "source_id": str(b["id"])}, follow_redirects=False
    )
    assert r.status_code == 303
    assert agent.get(f"/text/topics/{b['id']}").status_code == 404
    r = agent.post(f"/text/topics/{c['id']}/split", data={"csrf_token": csrf, "k": "2"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/text/topics/")
    r = agent.post(f"/text/topics/{a['id']}/delete", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/text"
    assert a["label"] not in agent.get("/text").text
    made = agent.post("/text/topics/rules", data={"csrf_token": csrf, "label": "Wifi", "query": "wifi"})
    assert made.status_code == 200 and "wifi" in made.text  # followed to the new topic's page
    rule_url = str(made.url)
    bad = agent.post(rule_url + "/rule", data={"csrf_token": csrf, "query": "-wifi"})
    assert bad.status_code == 422 and "at least one term" in bad.text
    ok = agent.post(rule_url + "/rule", data={"csrf_token": csrf, "query": "wifi, internet"}, follow_redirects=False)
    assert ok.status_code == 303
    assert "wifi, internet" in agent.get(rule_url).text
