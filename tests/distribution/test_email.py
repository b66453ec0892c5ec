"""Email invitations through a real SMTP server on loopback: arrival, single-use links, reminders to
non-responders only, unsubscribe honoured by later sends, and no double send when a job is retried."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cem.db.session import Database
from cem.distribution import sending
from cem.distribution.mailer import OutgoingEmail
from cem.distribution.models import ContactSkip, Distribution, Invitation
from cem.responses import service as response_service
from cem.surveys import service as survey_service
from cem.surveys.models import SurveyResponse
from tests.conftest import Workspace
from tests.distribution.conftest import Clock, Inbox, add_customers, links_in

LINK = re.compile(r"http://testserver/i/([A-Za-z0-9_\-]{20,})")


def _people(db: Database, workspace: Workspace) -> dict[str, int]:
    return add_customers(
        db,
        workspace.id,
        [
            {"external_id": "ana", "email": "ana@example.com", "name": "Ana"},
            {"external_id": "ben", "email": "ben@example.com", "name": "Ben"},
            {"external_id": "cy", "email": "cy@example.com", "name": "Cy"},
            {"external_id": "dee", "name": "Dee"},  # no email address
        ],
    )


def _audience(api: TestClient, filters: dict[str, Any] | None = None) -> int:
    r = api.post("/api/v1/audiences", json={"name": "Everyone", "filters": filters or {"conditions": []}})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _token(inbox: Inbox, address: str) -> str:
    text, _html = links_in(inbox.to(address)[-1])
    match = LINK.search(text)
    assert match, text
    return match.group(1)


def _complete(db: Database, resume_key: str, nps: int) -> None:
    with db.unit_of_work() as session:
        response = response_service.get_response_by_key(session, resume_key)
        assert response is not None
        first = response_service.submit_page(session, response, page_id="p1", answers={"nps": nps}, nonce="n1")
        assert not first.errors, first.errors
        done = response_service.submit_page(session, response, page_id="p2", answers={"why": "fast"}, nonce="n2")
        assert done.completed, done


def _resume_key(location: str) -> str:
    match = re.search(r"[?&]r=([^&]+)", location)
    assert match, location
    return match.group(1)


def test_invitation_reminder_unsubscribe_round_trip(
    db: Database,
    workspace: Workspace,
    admin_api: TestClient,
    client: TestClient,
    smtp: Inbox,
    fixed_clock: Clock,
    run_jobs: Callable[[], int],
    survey_id: int,
) -> None:
    ids = _people(db, workspace)
    audience_id = _audience(admin_api)
    r = admin_api.post(
        f"/api/v1/surveys/{survey_id}/distributions",
        json={"audience_id": audience_id, "subject": "Tell us about your order", "reminder_after_days": 3},
    )
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "queued" and r.json()["job_id"]
    run_jobs()

    # The invitation arrives: one per person with an address, personal links, the NPS scale in the email.
    assert sorted(rcpt for rcpts, _ in smtp.messages for rcpt in rcpts) == [
        "ana@example.com",
        "ben@example.com",
        "cy@example.com",
    ]
    message = smtp.to("ana@example.com")[0]
    assert message["Subject"] == "Tell us about your order"
    assert message["From"] == "CX Team <cx@acme.example>"
    assert message["List-Unsubscribe"].startswith("<http://testserver/u/")
    text, html = links_in(message)
    assert "Would you recommend us?" in text and "Would you recommend us?" in html
    token = _token(smtp, "ana@example.com")
    assert [int(n) for n in re.findall(rf"/i/{token}\?a=(\d+)", html)] == list(range(11))
    tokens = {p: _token(smtp, f"{p}@example.com") for p in ("ana", "ben", "cy")}
    assert len(set(tokens.values())) == 3

    # Clicking 9 opens the survey with 9 preselected, as Ana (the link is bound to her).
    opened = client.get(f"/i/{tokens['ana']}?a=9", follow_redirects=False)
    assert opened.status_code == 303
    assert opened.headers["location"].startswith("/s/post-nps?r=") and "q_nps=9" in opened.headers["location"]
    key = _resume_key(opened.headers["location"])
    with db.unit_of_work(readonly=True) as session:
        response = response_service.get_response_by_key(session, key)
        assert response is not None
        assert (response.customer_id, response.channel) == (ids["ana"], "email")
        assert response.meta.get("prefill") == {"nps": 9}
    _complete(db, key, 9)
    # A completed link cannot start a second response.
    again = client.get(f"/i/{tokens['ana']}", follow_redirects=False)
    assert again.status_code == 410 and "already answered" in again.text

    # Ben opens the survey but does not answer; the same link resumes the same response.
    first = client.get(f"/i/{tokens['ben']}", follow_redirects=False)
    second = client.get(f"/i/{tokens['ben']}", follow_redirects=False)
    assert _resume_key(first.headers["location"]) == _resume_key(second.headers["location"])

    # Cy unsubscribes with one click, no login.
    page = client.get(f"/u/{tokens['cy']}")
    assert page.status_code == 200 and "unsubscribed" in page.text

    # Three days later: the reminder goes to Ben only (Ana completed, Cy opted out).
    smtp.clear()
    fixed_clock.advance(days=3, minutes=1)
    run_jobs()
    assert [rcpts for rcpts, _ in smtp.messages] == [["ben@example.com"]]
    assert smtp.messages[0][1]["Subject"] == "Reminder: Tell us about your order"
    assert _token(smtp, "ben@example.com") == tokens["ben"]  # the same personal link
    smtp.clear()
    run_jobs()
    assert smtp.messages == []  # one reminder, never two

    report = admin_api.get(f"/api/v1/surveys/{survey_id}/distribution-report").json()
    email_row = next(c for c in report["channels"] if c["channel"] == "email")
    assert {k: email_row[k] for k in ("invited", "delivered", "opened", "started", "completed")} == {
        "invited": 3,
        "delivered": 3,
        "opened": 2,
        "started": 1,
        "completed": 1,
    }
    assert email_row["response_rate"] == pytest.approx(1 / 3, abs=1e-3)
    assert email_row["completion_rate"] == 1.0
    assert report["skips_by_reason"] == {"no_email": 1}
    assert [d["answered"] for d in report["dropoff"]] == [1, 1]

    # A later send honours the unsubscribe, and the survey's default recontact rule (ask once).
    smtp.clear()
    r = admin_api.post(f"/api/v1/surveys/{survey_id}/distributions", json={"audience_id": audience_id})
    run_jobs()
    assert smtp.messages == []
    with db.unit_of_work(readonly=True) as session:
        skips = dict(
            session.execute(
                select(ContactSkip.customer_id, ContactSkip.reason).where(ContactSkip.distribution_id == r.json()["id"])
            ).all()
        )
    assert skips == {
        ids["ana"]: "recontact",
        ids["ben"]: "recontact",
        ids["cy"]: "unsubscribed",
        ids["dee"]: "no_email",
    }


def test_links_that_are_unknown_or_tampered_are_refused(
    client: TestClient,
    smtp: Inbox,
    db: Database,
    workspace: Workspace,
    admin_api: TestClient,
    survey_id: int,
    run_jobs: Callable[[], int],
) -> None:
    _people(db, workspace)
    admin_api.post(f"/api/v1/surveys/{survey_id}/distributions", json={"audience_id": _audience(admin_api)})
    run_jobs()
    token = _token(smtp, "ana@example.com")
    for bad in ("nope", token[:-1] + ("A" if token[-1] != "A" else "B"), "x" * 80):
        assert client.get(f"/i/{bad}", follow_redirects=False).status_code == 404
        assert client.get(f"/u/{bad}").status_code == 404
    with db.unit_of_work(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(SurveyResponse)) == 0


class CrashingMailer:
    """Accepts `limit` messages, then dies as a worker would mid-batch."""

    def __init__(self, sent: list[str], limit: int | None = None) -> None:
        self.sent, self.limit = sent, limit

    def __enter__(self) -> CrashingMailer:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def send_many(self, mails: list[OutgoingEmail]) -> list[str | None]:
        for mail in mails:
            if self.limit is not None and len(self.sent) >= self.limit:
                raise RuntimeError("worker killed")
            self.sent.append(mail.to)
        return [None] * len(mails)


def test_a_retried_send_never_emails_anyone_twice(
    db: Database, workspace: Workspace, admin_api: TestClient, smtp: Inbox, survey_id: int
) -> None:
    _people(db, workspace)
    r = admin_api.post(f"/api/v1/surveys/{survey_id}/distributions", json={"audience_id": _audience(admin_api)})
    dist_id = r.json()["id"]
    sent: list[str] = []
    with pytest.raises(RuntimeError):
        sending.run_distribution(db, distribution_id=dist_id, mailer_factory=lambda: CrashingMailer(sent, limit=1))
    # The retry (a new attempt of the same job) plans nothing new and sends nothing already claimed.
    result = sending.run_distribution(db, distribution_id=dist_id, mailer_factory=lambda: CrashingMailer(sent))
    assert len(sent) == len(set(sent)) == 1
    assert result["sent"] == 0
    with db.unit_of_work(readonly=True) as session:
        statuses = sorted(session.scalars(select(Invitation.status).where(Invitation.distribution_id == dist_id)))
        assert statuses == ["sending", "sending", "sending"]  # claimed once; never re-sent
        assert session.get_one(Distribution, dist_id).status == "sent"


def test_email_distribution_bad_inputs(
    admin_api: TestClient, settings: Any, survey_id: int, db: Database, workspace: Workspace
) -> None:
    audience_id = _audience(admin_api)
    url = f"/api/v1/surveys/{survey_id}/distributions"
    # Without SMTP settings: a clear refusal, nothing queued.
    assert settings.smtp_host == ""
    r = admin_api.post(url, json={"audience_id": audience_id})
    assert r.status_code == 409 and "CEM_SMTP_HOST" in r.json()["detail"]
    settings.smtp_host = "127.0.0.1"
    try:
        assert admin_api.post(url, json={"audience_id": 999}).status_code == 404
        r = admin_api.post(url, json={"audience_id": audience_id, "subject": "two\nlines"})
        assert r.status_code == 422
        assert admin_api.post(url, json={"audience_id": audience_id, "reminder_after_days": -1}).status_code == 422
        assert admin_api.post("/api/v1/surveys/999/distributions", json={"audience_id": audience_id}).status_code == 404
        with db.unit_of_work() as session:
            survey = survey_service.get_survey(session, workspace_id=workspace.id, survey_id=survey_id)
            survey_service.set_status(session, workspace.principal(), survey, "paused")
        r = admin_api.post(url, json={"audience_id": audience_id})
        assert r.status_code == 409 and "paused" in r.json()["detail"]
    finally:
        settings.smtp_host = ""
    with db.unit_of_work(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(Distribution)) == 0
