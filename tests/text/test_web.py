"""Text pages: semantic search (page and htmx fragment), label correction in place, the model page and its forms."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from fastapi.testclient import TestClient

from tests.conftest import Workspace
from tests.test_roles_matrix import login
from tests.text.helpers import ingest, records_by_submission, run_jobs, store_vectors, text_record


def _browser(workspace: Workspace, role: str) -> tuple[TestClient, str]:
    client = TestClient(workspace.client.app)
    return client, login(client, workspace.user_email(role))


def test_search_page_and_fragment(workspace: Workspace, api: Callable[[str], TestClient]) -> None:
    ingest(
        api("agent"),
        [
            text_record("r1", "Still waiting for my refund, call me at +1 (555) 123-4567."),
            text_record("r2", "The seat was comfortable."),
        ],
    )
    run_jobs(workspace.db)
    client, _ = _browser(workspace, "viewer")
    page = client.get("/text/search", params={"q": "money back"})
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert page.text.index("Still waiting for my refund") < page.text.index("The seat was comfortable")
    assert "(555) 123-4567" not in page.text and "[PHONE]" in page.text  # viewers see masked text
    assert 'data-testid="label-save"' not in page.text  # viewers cannot correct labels
    fragment = client.get("/text/search", params={"q": "money back"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text.lower()
    assert 'data-testid="search-hit"' in fragment.text
    record_id = records_by_submission(workspace.db)["r2"].id
    similar = client.get("/text/search", params={"similar_to": record_id}, headers={"HX-Request": "true"})
    assert "Still waiting" in similar.text and f"to record {record_id}" in similar.text
    bad = client.get("/text/search", params={"q": "x" * 600})
    assert bad.status_code == 400 and "at most 500" in bad.text
    assert client.get("/text/search", params={"q": "a", "date_from": "yesterday"}).status_code == 400


def test_label_correction_in_place(workspace: Workspace, api: Callable[[str], TestClient]) -> None:
    ingest(api("agent"), [text_record("a", "Where is my parcel?")])
    record_id = records_by_submission(workspace.db)["a"].id
    client, csrf = _browser(workspace, "agent")
    data = {"csrf_token": csrf, "sentiment_label": "neutral", "topic": "Delivery"}
    r = client.post(f"/text/label/{record_id}", data=data, headers={"HX-Request": "true"})
    assert r.status_code == 200 and 'data-testid="label-saved"' in r.text and "Delivery" in r.text
    assert records_by_submission(workspace.db)["a"].sentiment_label == "neutral"
    r = client.post(
        f"/text/label/{record_id}", data={**data, "sentiment_label": "furious"}, headers={"HX-Request": "true"}
    )
    assert r.status_code == 400 and "Unknown sentiment label" in r.text
    assert records_by_submission(workspace.db)["a"].sentiment_label == "neutral"
    r = client.post(f"/text/label/{record_id}", data=data, headers={"referer": "/text"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/text"
    for referer, expected in (
        ("http://testserver/text/search?q=a", "/text/search?q=a"),
        ("//evil.example/x", "/text"),
        ("https://evil.example/", "/text"),
    ):
        r = client.post(f"/text/label/{record_id}", data=data, headers={"referer": referer}, follow_redirects=False)
        assert r.headers["location"] == expected
    r = client.post(f"/text/label/{record_id}", data={"sentiment_label": "neutral"})
    assert r.status_code == 403  # no CSRF token


def test_model_page_trains_and_saves_pii_settings(workspace: Workspace, api: Callable[[str], TestClient]) -> None:
    client, csrf = _browser(workspace, "admin")
    page = client.get("/text/model")
    assert page.status_code == 200 and "experimental" in page.text and "0 label corrections" in page.text
    r = client.post("/text/model/train", data={"csrf_token": csrf})
    assert r.status_code == 400 and "at least 10" in r.text
    ingest(api("agent"), [text_record(f"s{i}", f"text {i}") for i in range(12)])
    records = records_by_submission(workspace.db)
    vectors = {}
    for i in range(12):
        v = np.zeros(384)
        v[i % 2] = 1
        vectors[records[f"s{i}"].id] = v + np.random.default_rng(i).normal(0, 0.05, 384)
        api("agent").put(
            f"/api/v1/feedback/{records[f's{i}'].id}/label",
            json={"sentiment_label": "negative" if i % 2 else "positive"},
        )
    store_vectors(workspace.db, workspace.id, vectors)
    r = client.post("/text/model/train", data={"csrf_token": csrf})
    assert r.status_code == 200 and "5-fold CV" in r.text and 'data-testid="model-history"' in r.text
    r = client.post("/text/model/pii", data={"csrf_token": csrf, "enabled": "on", "kinds": ["email", "phone"]})
    assert r.status_code == 200 and "saved" in r.text
    assert api("admin").get("/api/v1/text/settings/pii").json() == {"enabled": True, "kinds": ["email", "phone"]}
    r = client.post("/text/model/pii", data={"csrf_token": csrf, "enabled": "on", "kinds": ["names"]})
    assert r.status_code == 400 and "Unknown PII kind" in r.text
    assert api("admin").get("/api/v1/text/settings/pii").json()["kinds"] == ["email", "phone"]
