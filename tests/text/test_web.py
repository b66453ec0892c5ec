"""Text pages: semantic search (page and htmx fragment), label correction in place, the model page and its forms."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from fastapi.testclient import TestClient

from cem.text.emotions import EMOTIONS
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


def _emotions(api: Callable[[str], TestClient]) -> dict[str, list[str]]:
    body = api("viewer").get("/api/v1/text/settings/emotions").json()
    return dict(body["examples"])


def _emotion_form(examples: dict[str, list[str]], **changes: str) -> dict[str, str]:
    return {**{name: "\n".join(sentences) for name, sentences in examples.items() if name in EMOTIONS}, **changes}


def test_admin_edits_emotion_examples_in_the_form(workspace: Workspace, api: Callable[[str], TestClient]) -> None:
    api("admin").put("/api/v1/text/settings/emotions", json={"examples": {"none": ["The bus left at nine."]}})
    before = _emotions(api)
    client, csrf = _browser(workspace, "admin")
    page = client.get("/text/model")
    assert 'data-testid="emotions-form"' in page.text and "experimental" in page.text
    assert "I am furious, this is unacceptable!" in page.text  # the current sentences fill the boxes
    joy = "Brilliant, the crew were lovely!\r\n\r\n  Que maravilha, adorei a viagem.  \r\n"
    r = client.post("/text/model/emotions", data={"csrf_token": csrf, **_emotion_form(before, joy=joy)})
    assert r.status_code == 200 and 'data-testid="model-message"' in r.text and "saved" in r.text
    after = _emotions(api)
    assert after["joy"] == ["Brilliant, the crew were lovely!", "Que maravilha, adorei a viagem."]
    assert {k: v for k, v in after.items() if k != "joy"} == {k: v for k, v in before.items() if k != "joy"}
    assert after["none"] == ["The bus left at nine."]  # not on the form: kept
    r = client.post("/text/model/emotions", data={"csrf_token": csrf, "anger": "Outrageous, I am livid."})
    assert r.status_code == 200 and _emotions(api)["anger"] == ["Outrageous, I am livid."]
    assert _emotions(api)["joy"] == after["joy"]  # emotions missing from the post keep their sentences


def test_bad_emotion_examples_show_the_error_and_change_nothing(
    workspace: Workspace, api: Callable[[str], TestClient]
) -> None:
    before = _emotions(api)
    client, csrf = _browser(workspace, "admin")
    for changes, message in (
        ({"fear": "  \n \n", "joy": "Typed but not saved"}, "Give 1-50 example sentences for &#39;fear&#39;, got 0"),
        ({"surprise": "Wow!\n" + "x" * 301}, "at most 300 characters"),
        ({"disgust": "\n".join(f"Gross {i}" for i in range(51))}, "got 51"),
        ({"sadness": "x" * 40_000}, "longer than"),
    ):
        r = client.post("/text/model/emotions", data={"csrf_token": csrf, **_emotion_form(before, **changes)})
        assert r.status_code == 400, changes
        assert 'data-testid="model-error"' in r.text and message in r.text, (changes, r.text[:2000])
        assert _emotions(api) == before
        if "joy" in changes:
            assert "Typed but not saved" in r.text  # what was typed is shown again, to correct it


def test_only_admins_edit_emotion_examples(workspace: Workspace, api: Callable[[str], TestClient]) -> None:
    before = _emotions(api)
    for role in ("viewer", "analyst"):
        client, csrf = _browser(workspace, role)
        page = client.get("/text/model")
        assert page.status_code == 200 and 'data-testid="emotions-form"' not in page.text
        assert 'data-testid="emotion-examples"' in page.text and "experimental" in page.text
        r = client.post("/text/model/emotions", data={"csrf_token": csrf, "joy": "Yay"})
        assert r.status_code == 403, role  # like PUT /api/v1/text/settings/emotions: admins only
    admin, _ = _browser(workspace, "admin")
    assert admin.post("/text/model/emotions", data={"joy": "Yay"}).status_code == 403  # no CSRF token
    assert _emotions(api) == before
