"""The webhook pages (forms with event checkboxes, the secret once, the log, send again, the disabled reason) with
hostile strings escaped; and response.completed from a hosted survey page reaching the receiver."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from cem.db.session import Database
from tests.conftest import PASSWORD, Workspace
from tests.responses.hosted_helpers import post_page, publish
from tests.webhooks.conftest import Answer, Receiver

HOSTILE = '<script>alert("x")</script>'


def login(workspace: Workspace, role: str) -> tuple[TestClient, str]:
    browser = TestClient(workspace.client.app)
    r = browser.post("/login", data={"email": f"{role}@acme.example", "password": PASSWORD})
    assert r.status_code == 200, r.text
    match = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/").text)
    assert match is not None
    return browser, match.group(1)


def test_add_with_checkboxes_shows_the_secret_once_and_sends_again(
    workspace: Workspace,
    admin_api: TestClient,
    receiver: Receiver,
    loopback_allowed: Any,
    run_jobs: Callable[[], int],
) -> None:
    browser, csrf = login(workspace, "admin")
    assert "No subscriptions yet." in browser.get("/webhooks").text
    data = {"csrf_token": csrf, "url": receiver.url, "description": HOSTILE, "event_types": ["feedback.created"]}
    created = browser.post("/webhooks", data=data)
    assert created.status_code == 201, created.text
    secret = re.search(r"whsec_[A-Za-z0-9+/=]+", created.text)
    assert secret is not None
    assert HOSTILE not in created.text and "&lt;script&gt;" in created.text
    sub = admin_api.get("/api/v1/webhooks").json()[0]
    assert sub["event_types"] == ["feedback.created"] and sub["description"] == HOSTILE
    assert "whsec_" not in browser.get(f"/webhooks/{sub['id']}").text  # shown once only
    receiver.plan = [Answer(status=500, body=b"<img src=x onerror=alert(1)>")]
    admin_api.post(
        "/api/v1/feedback",
        json={
            "source_type": "api",
            "source_name": "x",
            "submission_id": "1",
            "field_id": "t",
            "field_type": "text",
            "value": HOSTILE,
        },
    )
    run_jobs()
    delivery = admin_api.get("/api/v1/webhooks/deliveries").json()["items"][0]
    page = browser.get(f"/webhooks/deliveries/{delivery['id']}")
    assert page.status_code == 200
    assert "<img src=x" not in page.text and "&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert HOSTILE not in page.text and "HTTP 500" in page.text
    # The schedule retries in 5 s; "Send again" makes one attempt now, with the same id.
    resent = browser.post(f"/webhooks/deliveries/{delivery['id']}/redeliver", data={"csrf_token": csrf})
    assert resent.status_code == 409  # an attempt is already queued
    log = browser.get(f"/webhooks/{sub['id']}?status=pending")
    assert delivery["message_id"] in log.text and "Answered HTTP 500." in log.text


def test_a_bad_form_comes_back_with_every_problem_and_nothing_stored(
    workspace: Workspace, admin_api: TestClient, loopback_allowed: Any
) -> None:
    browser, csrf = login(workspace, "admin")
    data = {"csrf_token": csrf, "url": "javascript:alert(1)", "event_types": ["nope"]}
    page = browser.post("/webhooks", data=data)
    assert page.status_code == 422
    assert "The subscription was not added" in page.text
    assert "url: Value error, the URL must start with http:// or https://" in page.text
    assert "event_types.0" in page.text
    assert admin_api.get("/api/v1/webhooks").json() == []


def test_the_disabled_reason_is_shown_and_other_roles_are_refused(
    workspace: Workspace,
    admin_api: TestClient,
    receiver: Receiver,
    subscribe: Callable[..., dict[str, Any]],
    run_jobs: Callable[[], int],
) -> None:
    sub = subscribe(receiver.url)
    receiver.plan = [Answer(status=410)]
    admin_api.post(f"/api/v1/webhooks/{sub['id']}/test")
    run_jobs()
    browser, _ = login(workspace, "admin")
    for url in ("/webhooks", f"/webhooks/{sub['id']}"):
        page = browser.get(url)
        assert 'data-testid="disabled-reason"' in page.text and "410 Gone" in page.text
    for role in ("analyst", "agent", "viewer"):
        other, _ = login(workspace, role)
        assert other.get("/webhooks").status_code == 403


def test_a_survey_completed_on_the_hosted_page_sends_response_completed(
    client: TestClient,
    db: Database,
    workspace: Workspace,
    receiver: Receiver,
    subscribe: Callable[..., dict[str, Any]],
    run_jobs: Callable[[], int],
) -> None:
    sub = subscribe(receiver.url, ["response.completed"])
    definition = {
        "default_language": "en",
        "title": {"en": "NPS"},
        "pages": [{"id": "p1", "questions": [{"id": "nps", "type": "nps", "required": True, "headline": {"en": "?"}}]}],
        "endings": [{"id": "thanks", "headline": {"en": "Thanks!"}}],
    }
    survey_id = publish(db, workspace, definition)
    first = client.get("/s/cx")
    assert post_page(client, "/s/cx", first.text, {"q_nps": "4"}).status_code == 303
    run_jobs()
    assert len(receiver.requests) == 1  # feedback.created is not subscribed to
    payload = receiver.requests[0].verified(sub["secret"])
    assert payload["type"] == "response.completed"
    assert payload["data"]["survey_id"] == survey_id and payload["data"]["answers"] == {"nps": 4}
    assert payload["data"]["ending_id"] == "thanks"
