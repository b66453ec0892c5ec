"""Triggered surveys from events, the widget's public endpoints (origins, rules, bad inputs),
channel settings and contact rules through the API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cem.db.session import Database
from cem.distribution.models import ContactSkip, Invitation
from tests.conftest import Workspace
from tests.distribution.conftest import Clock, Inbox, add_customers


def _event(api: TestClient, ext: str, type_: str, event_id: str, clock: Clock) -> None:
    r = api.post(
        "/api/v1/events",
        json={
            "customer": {"external_id": ext},
            "type": type_,
            "occurred_at": clock.now.isoformat(),
            "external_id": event_id,
        },
    )
    assert r.status_code == 200, r.text


def test_an_event_schedules_the_survey_after_the_delay_subject_to_the_rules(
    db: Database,
    workspace: Workspace,
    admin_api: TestClient,
    smtp: Inbox,
    fixed_clock: Clock,
    run_jobs: Callable[[], int],
    survey_id: int,
) -> None:
    add_customers(db, workspace.id, [{"external_id": "ana", "email": "ana@example.com"}, {"external_id": "bo"}])
    r = admin_api.post(
        f"/api/v1/surveys/{survey_id}/triggers", json={"event_type": "ticket.closed", "delay_minutes": 30}
    )
    assert r.status_code == 200, r.text
    # Ticket closed twice (a re-sent event, same id) and an unrelated event: one survey is scheduled.
    _event(admin_api, "ana", "ticket.closed", "T-1", fixed_clock)
    _event(admin_api, "ana", "ticket.closed", "T-1", fixed_clock)
    _event(admin_api, "ana", "order.placed", "O-1", fixed_clock)
    run_jobs()
    assert smtp.messages == []  # not before the delay
    fixed_clock.advance(minutes=31)
    run_jobs()
    assert [rcpts for rcpts, _ in smtp.messages] == [["ana@example.com"]]
    # A second ticket a day later: the survey's recontact rule (ask once) skips it, and says so.
    _event(admin_api, "ana", "ticket.closed", "T-2", fixed_clock)
    _event(admin_api, "bo", "ticket.closed", "T-3", fixed_clock)
    fixed_clock.advance(minutes=31)
    run_jobs()
    assert len(smtp.messages) == 1
    report = admin_api.get(f"/api/v1/surveys/{survey_id}/distribution-report").json()
    assert report["skips_by_reason"] == {"recontact": 1, "no_email": 1}
    assert next(c for c in report["channels"] if c["channel"] == "email")["delivered"] == 1
    assert [d["channel"] for d in report["distributions"]] == ["trigger"]


def test_quiet_hours_defer_a_triggered_send(
    db: Database,
    workspace: Workspace,
    admin_api: TestClient,
    smtp: Inbox,
    fixed_clock: Clock,
    run_jobs: Callable[[], int],
    survey_id: int,
) -> None:
    add_customers(db, workspace.id, [{"external_id": "ana", "email": "ana@example.com"}])
    start = fixed_clock.now.strftime("%H:%M")
    end = (fixed_clock.now + timedelta(hours=2)).strftime("%H:%M")
    r = admin_api.put("/api/v1/contact-rules", json={"quiet_start": start, "quiet_end": end, "timezone": "UTC"})
    assert r.status_code == 200, r.text
    admin_api.post(f"/api/v1/surveys/{survey_id}/triggers", json={"event_type": "order.delivered"})
    fixed_clock.advance(minutes=1)
    _event(admin_api, "ana", "order.delivered", "D-1", fixed_clock)
    run_jobs()
    assert smtp.messages == []
    with db.unit_of_work(readonly=True) as session:
        assert list(session.scalars(select(ContactSkip.reason))) == ["quiet_hours"]
        assert list(session.scalars(select(Invitation.status))) == ["pending"]
    fixed_clock.advance(hours=2)
    run_jobs()
    assert [rcpts for rcpts, _ in smtp.messages] == [["ana@example.com"]]


@pytest.fixture
def widget_survey(admin_api: TestClient, survey_id: int, db: Database, workspace: Workspace) -> int:
    r = admin_api.put(
        f"/api/v1/surveys/{survey_id}/channels",
        json={
            "widget_enabled": True,
            "widget_url_pattern": "https://shop.example/*",
            "widget_delay_seconds": 5,
            "widget_event": "checkout_done",
            "widget_display_percent": 50,
            "allowed_origins": ["https://shop.example"],
            "recontact_days": 30,
        },
    )
    assert r.status_code == 200, r.text
    add_customers(db, workspace.id, [{"external_id": "ext-123"}])
    return survey_id


SHOP = {"origin": "https://shop.example"}


def test_widget_config_and_display(client: TestClient, widget_survey: int, admin_api: TestClient) -> None:
    config = client.get("/api/v1/widget/post-nps", headers=SHOP)
    assert config.status_code == 200
    assert config.headers["access-control-allow-origin"] == "https://shop.example"
    assert config.json() == {
        "survey": "post-nps",
        "url_pattern": "https://shop.example/*",
        "delay_seconds": 5,
        "event": "checkout_done",
        "display_percent": 50.0,
        "open": True,
    }
    body = '{"url": "https://shop.example/checkout", "customer": "ext-123"}'
    shown = client.post("/api/v1/widget/post-nps/display", content=body, headers={**SHOP, "content-type": "text/plain"})
    assert shown.status_code == 200, shown.text
    assert shown.json()["show"] is True and shown.json()["identified"] is True
    assert shown.headers["access-control-allow-origin"] == "https://shop.example"
    link = shown.json()["url"]
    opened = client.get(link.replace("http://127.0.0.1:8000", ""), follow_redirects=False)
    assert opened.status_code == 303 and "embed=1" in opened.headers["location"]
    # Within the recontact period the same customer is not shown the survey again, and the skip is logged.
    again = client.post("/api/v1/widget/post-nps/display", content=body, headers=SHOP)
    assert again.json() == {"show": False, "reason": "recontact", "detail": again.json()["detail"]}
    # Another page, not targeted.
    other = client.post("/api/v1/widget/post-nps/display", content='{"url": "https://blog.example/"}', headers=SHOP)
    assert other.json()["show"] is False and other.json()["reason"] == "url_not_targeted"
    # An anonymous visitor is shown it (nobody to count against).
    anon = client.post("/api/v1/widget/post-nps/display", content='{"url": "https://shop.example/a"}', headers=SHOP)
    assert anon.json()["show"] is True and anon.json()["identified"] is False
    report = admin_api.get(f"/api/v1/surveys/{widget_survey}/distribution-report").json()
    widget_row = next(c for c in report["channels"] if c["channel"] == "widget")
    assert (widget_row["invited"], widget_row["opened"]) == (2, 1)
    assert report["skips_by_reason"] == {"recontact": 1}


@pytest.mark.parametrize(
    ("slug", "body", "headers", "status"),
    [
        ("post-nps", "{not json", SHOP, 400),
        ("post-nps", "[1, 2]", SHOP, 422),
        ("post-nps", '{"customer": "x"}', SHOP, 422),
        ("post-nps", '{"url": "https://shop.example/", "extra": 1}', SHOP, 422),
        ("post-nps", '{"url": "https://shop.example/"}', {"origin": "https://evil.example"}, 403),
        ("no-such-survey", '{"url": "https://shop.example/"}', SHOP, 404),
    ],
)
def test_widget_bad_requests(
    client: TestClient, widget_survey: int, slug: str, body: str, headers: dict[str, str], status: int, db: Database
) -> None:
    r = client.post(f"/api/v1/widget/{slug}/display", content=body, headers=headers)
    assert r.status_code == status, r.text
    assert set(r.json()) == {"error", "detail", "status", "errors"}
    if status == 403:
        assert "access-control-allow-origin" not in r.headers
    with db.unit_of_work(readonly=True) as session:
        assert list(session.scalars(select(Invitation.id))) == []


def test_widget_off_or_unknown_is_404(client: TestClient, survey_id: int) -> None:
    assert client.get("/api/v1/widget/post-nps").status_code == 404  # widget not enabled
    assert client.get("/api/v1/widget/" + "x" * 100).status_code == 404


BAD_SETTINGS: list[tuple[str, dict[str, Any]]] = [
    ("/api/v1/contact-rules", {"timezone": "Mars/Olympus"}),
    ("/api/v1/contact-rules", {"quiet_start": "21:00"}),
    ("/api/v1/contact-rules", {"quiet_start": "25:00", "quiet_end": "07:00"}),
    ("/api/v1/contact-rules", {"max_per_period": 0}),
    ("/api/v1/contact-rules", {"allowed_origins": ["javascript:alert(1)"]}),
    ("/api/v1/surveys/{id}/channels", {"widget_display_percent": 101}),
    ("/api/v1/surveys/{id}/channels", {"widget_event": "has spaces"}),
]


@pytest.mark.parametrize(("path", "body"), BAD_SETTINGS)
def test_bad_settings_are_refused(admin_api: TestClient, survey_id: int, path: str, body: dict[str, Any]) -> None:
    url = path.replace("{id}", str(survey_id))
    before = admin_api.get(url).json()
    r = admin_api.put(url, json=body)
    assert r.status_code == 422, r.text
    assert admin_api.get(url).json() == before
