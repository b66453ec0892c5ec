"""Bad input gets a located error and stores nothing; endpoints on non-public addresses are refused."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cem.config import Settings
from tests.webhooks.conftest import Receiver

GOOD = {"url": "https://hooks.example.com/cem", "event_types": ["feedback.created"]}


@pytest.fixture
def private_refused(settings: Settings) -> Iterator[Settings]:
    saved = settings.webhooks_allow_private
    settings.webhooks_allow_private = False
    try:
        yield settings
    finally:
        settings.webhooks_allow_private = saved


def located(response: Any) -> list[str]:
    """Each error's location, dotted."""
    return [".".join(str(p) for p in e["loc"]) for e in response.json()["errors"]]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"event_types": ["feedback.created", "order.shipped"]}, "event_types.1"),
        ({"event_types": []}, "event_types"),
        ({"event_types": ["case.closed", "case.closed"]}, "event_types"),
        ({"event_types": "feedback.created"}, "event_types"),
        ({"url": "ftp://hooks.example.com/x"}, "url"),
        ({"url": "hooks.example.com/x"}, "url"),
        ({"url": "https://user:pw@hooks.example.com/x"}, "url"),
        ({"url": "https://" + "a" * 2001}, "url"),
        ({"enabled": "sometimes"}, "enabled"),
        ({"secret": "whsec_mine"}, "secret"),
        ({"description": "x" * 501}, "description"),
    ],
)
def test_bad_subscriptions_are_refused_with_a_located_error(
    admin_api: TestClient, private_refused: Settings, change: dict[str, Any], where: str
) -> None:
    response = admin_api.post("/api/v1/webhooks", json={**GOOD, **change})
    assert response.status_code == 422, response.text
    assert any(loc.endswith(where) for loc in located(response)), located(response)
    assert admin_api.get("/api/v1/webhooks").json() == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:9000/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_private_loopback_and_link_local_endpoints_are_refused(
    admin_api: TestClient, private_refused: Settings, url: str
) -> None:
    response = admin_api.post("/api/v1/webhooks", json={**GOOD, "url": url})
    assert response.status_code == 422, response.text
    assert located(response) == ["url"]
    assert "non-public address" in response.json()["errors"][0]["msg"]
    assert admin_api.get("/api/v1/webhooks").json() == []


def test_an_unresolvable_host_is_refused(admin_api: TestClient, private_refused: Settings) -> None:
    response = admin_api.post("/api/v1/webhooks", json={**GOOD, "url": "https://no-such-host.invalid/x"})
    assert response.status_code == 422 and located(response) == ["url"]
    assert "does not resolve" in response.json()["detail"]


def test_changing_to_a_private_url_changes_nothing(
    admin_api: TestClient, receiver: Receiver, subscribe: Callable[..., dict[str, Any]], settings: Settings
) -> None:
    sub = subscribe(receiver.url)
    settings.webhooks_allow_private = False
    response = admin_api.patch(f"/api/v1/webhooks/{sub['id']}", json={"url": "http://10.0.0.5/", "description": "x"})
    assert response.status_code == 422 and located(response) == ["url"]
    assert admin_api.get(f"/api/v1/webhooks/{sub['id']}").json()["description"] == ""


def test_an_endpoint_that_became_private_is_refused_at_delivery(
    admin_api: TestClient,
    receiver: Receiver,
    subscribe: Callable[..., dict[str, Any]],
    settings: Settings,
    run_jobs: Callable[[], int],
) -> None:
    subscribe(receiver.url)
    settings.webhooks_allow_private = False  # e.g. the host's DNS now answers with an internal address
    admin_api.post(
        "/api/v1/feedback",
        json={
            "source_type": "api",
            "source_name": "x",
            "submission_id": "1",
            "field_id": "n",
            "field_type": "nps",
            "value": 9,
        },
    )
    run_jobs()
    assert receiver.requests == []
    log = admin_api.get("/api/v1/webhooks/deliveries").json()["items"]
    assert log[0]["status"] == "pending" and log[0]["last_error"].startswith("Refused:")


def test_unknown_ids_and_filters(admin_api: TestClient) -> None:
    assert admin_api.get("/api/v1/webhooks/99").status_code == 404
    assert admin_api.post("/api/v1/webhooks/deliveries/99/redeliver").status_code == 404
    bad = admin_api.get("/api/v1/webhooks/deliveries", params={"status": "lost"})
    assert bad.status_code == 422 and any(loc.endswith("status") for loc in located(bad))
    assert admin_api.get("/api/v1/webhooks/deliveries", params={"event_type": "nope"}).status_code == 422


def test_other_roles_cannot_manage_webhooks(api: Callable[[str], TestClient]) -> None:
    for role in ("analyst", "agent", "viewer"):
        assert api(role).post("/api/v1/webhooks", json=GOOD).status_code == 403
