"""Several reminders per email distribution, through the real SMTP sink on a fixed clock: non-responders
only, each reminder at most once per person (also when a job is retried), the contact rules of the first
send (quiet hours defer, other rules skip), distributions stored with the single reminder of earlier
versions, the migration that moves them, and bad reminder lists refused by the API and the form."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, create_engine, func, insert, select

from cem.config import Settings
from cem.db import migrate
from cem.db.session import Database
from cem.distribution import clock, reminders, sending
from cem.distribution.models import Contact, ContactSkip, Distribution, Invitation
from cem.jobs.models import Job
from cem.surveys import service as survey_service
from tests.conftest import Workspace
from tests.distribution.conftest import Clock, Inbox, add_customers, two_page_nps
from tests.distribution.test_email import CrashingMailer, _audience, _complete, _people, _resume_key, _token
from tests.test_error_shape import assert_shape
from tests.test_roles_matrix import login

SUBJECT = "Tell us about your order"


def _send(api: TestClient, survey_id: int, audience_id: int, **body: Any) -> dict[str, Any]:
    r = api.post(
        f"/api/v1/surveys/{survey_id}/distributions", json={"audience_id": audience_id, "subject": SUBJECT, **body}
    )
    assert r.status_code == 202, r.text
    return dict(r.json())


def _recipients(smtp: Inbox) -> list[str]:
    return sorted(rcpt for rcpts, _ in smtp.messages for rcpt in rcpts)


def _reminder_skips(db: Database) -> set[tuple[int | None, int | None, str]]:
    with db.unit_of_work(readonly=True) as session:
        rows = session.execute(
            select(ContactSkip.reminder, ContactSkip.customer_id, ContactSkip.reason).where(
                ContactSkip.reminder.is_not(None)
            )
        ).all()
    return {(r[0], r[1], r[2]) for r in rows}


def _open_and_complete(client: TestClient, db: Database, token: str, nps: int) -> None:
    opened = client.get(f"/i/{token}?a={nps}", follow_redirects=False)
    assert opened.status_code == 303, opened.text
    _complete(db, _resume_key(opened.headers["location"]), nps)


def test_several_reminders_go_to_non_responders_only(
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
    ids.update(add_customers(db, workspace.id, [{"external_id": "eve", "email": "eve@example.com"}]))
    created = _send(
        admin_api,
        survey_id,
        _audience(admin_api),
        reminders=[{"after_days": 3}, {"after_days": 7, "subject": "Last chance to tell us"}],
    )
    assert [(r["number"], r["after_days"], r["subject"], r["sent"]) for r in created["reminders"]] == [
        (1, 3.0, "", 0),
        (2, 7.0, "Last chance to tell us", 0),
    ]
    assert created["reminder_after_days"] == 3.0
    run_jobs()
    assert _recipients(smtp) == ["ana@example.com", "ben@example.com", "cy@example.com", "eve@example.com"]
    tokens = {p: _token(smtp, f"{p}@example.com") for p in ("ana", "ben", "cy", "eve")}

    _open_and_complete(client, db, tokens["ana"], 9)  # responded: never reminded
    assert client.get(f"/i/{tokens['ben']}", follow_redirects=False).status_code == 303  # opened, no answer
    assert client.get(f"/u/{tokens['cy']}").status_code == 200  # opted out

    # Day 3: reminder 1 to Ben and Eve, with the default subject and their own links.
    smtp.clear()
    fixed_clock.advance(days=3, minutes=1)
    run_jobs()
    assert _recipients(smtp) == ["ben@example.com", "eve@example.com"]
    assert {m["Subject"] for _, m in smtp.messages} == {f"Reminder: {SUBJECT}"}
    assert _token(smtp, "eve@example.com") == tokens["eve"]
    _open_and_complete(client, db, tokens["eve"], 10)  # Eve answers after the first reminder
    smtp.clear()
    run_jobs()
    assert smtp.messages == []

    # Day 7: reminder 2 to Ben only, with its own subject; then nothing more, ever.
    fixed_clock.advance(days=4)
    run_jobs()
    assert _recipients(smtp) == ["ben@example.com"]
    assert smtp.messages[0][1]["Subject"] == "Last chance to tell us"
    assert _token(smtp, "ben@example.com") == tokens["ben"]
    smtp.clear()
    fixed_clock.advance(days=30)
    run_jobs()
    assert smtp.messages == []

    # The report counts each reminder; reminder skips are logged per reminder, not as skipped people.
    report = admin_api.get(f"/api/v1/surveys/{survey_id}/distribution-report").json()
    dist = report["distributions"][0]
    assert [(r["number"], r["sent"], r["failed"], r["skipped"], r["deferred"]) for r in dist["reminders"]] == [
        (1, 2, 0, 1, 0),
        (2, 1, 0, 1, 0),
    ]
    assert all(r["due_at"] for r in dist["reminders"])
    assert report["skips_by_reason"] == {"no_email": 1}
    assert _reminder_skips(db) == {(1, ids["cy"], "unsubscribed"), (2, ids["cy"], "unsubscribed")}
    with db.unit_of_work(readonly=True) as session:
        done = dict(session.execute(select(Invitation.customer_id, Invitation.reminders_sent)).all())
    assert done == {ids["ana"]: 0, ids["ben"]: 2, ids["cy"]: 2, ids["eve"]: 1}

    browser = TestClient(admin_api.app)
    login(browser, workspace.user_email("analyst"))
    page = browser.get(f"/surveys/{survey_id}/distribution").text
    cell = page.split(f'data-testid="reminders-{dist["id"]}"')[1].split("</td>")[0]
    assert "#1 after 3 days" in cell and "2 sent" in cell
    assert "#2 after 7 days" in cell and "1 sent" in cell and "1 skipped" in cell


def test_a_retried_reminder_job_never_emails_anyone_twice(
    db: Database, workspace: Workspace, admin_api: TestClient, smtp: Inbox, survey_id: int
) -> None:
    _people(db, workspace)
    dist_id = _send(admin_api, survey_id, _audience(admin_api), reminders=[{"after_days": 1}, {"after_days": 2}])["id"]
    invited: list[str] = []
    sending.run_distribution(db, distribution_id=dist_id, mailer_factory=lambda: CrashingMailer(invited))
    assert sorted(invited) == ["ana@example.com", "ben@example.com", "cy@example.com"]

    later = clock.now() + timedelta(days=1, minutes=1)
    sent: list[str] = []
    with pytest.raises(RuntimeError):
        reminders.remind(
            db,
            distribution_id=dist_id,
            step=1,
            mailer_factory=lambda: CrashingMailer(sent, limit=1),
            job_id=7,
            now=later,
        )
    # Attempts 2 and 3 of the same job: every reminder 1 was claimed by attempt 1, none goes out again.
    for _ in range(2):
        retried = reminders.remind(
            db, distribution_id=dist_id, step=1, mailer_factory=lambda: CrashingMailer(sent), job_id=7, now=later
        )
        assert retried["reminded"] == 0
    assert sent == ["ana@example.com"]

    # Reminder 2 is a reminder of its own: once to each, and a retry sends nothing.
    second: list[str] = []
    for _ in range(2):
        reminders.remind(
            db,
            distribution_id=dist_id,
            step=2,
            mailer_factory=lambda: CrashingMailer(second),
            job_id=8,
            now=later + timedelta(days=1),
        )
    assert sorted(second) == ["ana@example.com", "ben@example.com", "cy@example.com"]
    with db.unit_of_work(readonly=True) as session:
        counts = session.get_one(Distribution, dist_id).reminder_counts
    assert counts["2"]["sent"] == 3
    # A reminder the distribution does not have is refused, not guessed.
    missing = reminders.remind(db, distribution_id=dist_id, step=3, mailer_factory=lambda: CrashingMailer([]))
    assert missing == {"status": "no_such_reminder"}


def test_a_reminder_due_in_quiet_hours_waits_for_their_end_and_other_rules_apply(
    db: Database,
    workspace: Workspace,
    admin_api: TestClient,
    smtp: Inbox,
    fixed_clock: Clock,
    run_jobs: Callable[[], int],
    survey_id: int,
) -> None:
    start = fixed_clock.now
    # Quiet from 11 h to 14 h after the send's time of day; a 2-day cooldown across surveys.
    r = admin_api.put(
        "/api/v1/contact-rules",
        json={
            "quiet_start": (start + timedelta(hours=11)).strftime("%H:%M"),
            "quiet_end": (start + timedelta(hours=14)).strftime("%H:%M"),
            "timezone": "UTC",
            "global_cooldown_days": 2,
        },
    )
    assert r.status_code == 200, r.text
    ids = add_customers(
        db,
        workspace.id,
        [{"external_id": "ana", "email": "ana@example.com"}, {"external_id": "ben", "email": "ben@example.com"}],
    )
    dist_id = _send(admin_api, survey_id, _audience(admin_api), reminders=[{"after_days": 1.5}])["id"]
    run_jobs()
    assert _recipients(smtp) == ["ana@example.com", "ben@example.com"]
    # Another survey emails Ben 30 hours later: the cooldown now covers him when the reminder is due.
    with db.unit_of_work() as session:
        other = survey_service.create_survey(
            session, workspace.principal(), name="Other", definition=two_page_nps(), slug="other"
        )
        session.flush()
        session.add(
            Contact(
                workspace_id=workspace.id,
                customer_id=ids["ben"],
                survey_id=other.id,
                channel="email",
                counts=True,
                at=start + timedelta(hours=30),
            )
        )

    # Due at +36 h, i.e. 12 h after the send's time of day: inside quiet hours, so nothing goes out.
    smtp.clear()
    fixed_clock.advance(hours=36, minutes=1)
    run_jobs()
    run_jobs()  # a second run in the same window neither sends nor logs the deferral again
    assert smtp.messages == []
    assert _reminder_skips(db) == {(1, ids["ana"], "quiet_hours"), (1, ids["ben"], "global_cooldown")}
    end = (start + timedelta(hours=38)).replace(second=0)
    with db.unit_of_work(readonly=True) as session:
        details = dict(
            session.execute(select(ContactSkip.reason, ContactSkip.detail).where(ContactSkip.reminder == 1)).all()
        )
        deferred_job = session.scalars(
            select(Job).where(Job.name == "surveys.distribution.remind", Job.status == "queued")
        ).one()
    assert details["quiet_hours"] == f"reminder 1 deferred until {end:%Y-%m-%d %H:%M} UTC"
    assert details["global_cooldown"].startswith("reminder 1: not before")
    assert deferred_job.args == {"distribution_id": dist_id, "step": 1}
    assert deferred_job.run_at.astimezone(UTC) == end

    # At the end of the quiet window Ana gets it: her own invitation does not count against the cooldown.
    fixed_clock.advance(hours=1)
    run_jobs()
    assert smtp.messages == []
    fixed_clock.advance(hours=1)
    run_jobs()
    assert _recipients(smtp) == ["ana@example.com"]
    assert smtp.messages[0][1]["Subject"] == f"Reminder: {SUBJECT}"
    report = admin_api.get(f"/api/v1/surveys/{survey_id}/distribution-report").json()
    reminder = report["distributions"][0]["reminders"][0]
    assert (reminder["sent"], reminder["skipped"], reminder["deferred"]) == (1, 1, 1)
    assert report["skips_by_reason"] == {}


def test_a_distribution_with_the_old_single_reminder_still_reminds(
    db: Database,
    workspace: Workspace,
    admin_api: TestClient,
    smtp: Inbox,
    fixed_clock: Clock,
    run_jobs: Callable[[], int],
    survey_id: int,
) -> None:
    ids = _people(db, workspace)
    created = _send(admin_api, survey_id, _audience(admin_api), reminder_after_days=2)  # the old API field
    assert [(r["number"], r["after_days"]) for r in created["reminders"]] == [(1, 2.0)]
    run_jobs()
    # As an unmigrated row and a job queued by the old code would be: one reminder column, no step.
    with db.unit_of_work() as session:
        dist = session.get_one(Distribution, created["id"])
        dist.reminders = []
        dist.reminder_after_days = 2.0
        job = session.scalars(select(Job).where(Job.name == "surveys.distribution.remind")).one()
        assert job.args == {"distribution_id": dist.id, "step": 1}
        job.args = {"distribution_id": dist.id}
        # Ana was reminded by the old code already (its key for reminder 1 is the same).
        ana = session.scalars(select(Invitation).where(Invitation.customer_id == ids["ana"])).one()
        ana.reminders_sent = 1
    read = admin_api.get(f"/api/v1/distributions/{created['id']}").json()
    assert (read["reminder_after_days"], [r["after_days"] for r in read["reminders"]]) == (2.0, [2.0])

    smtp.clear()
    fixed_clock.advance(days=2, minutes=1)
    run_jobs()
    assert _recipients(smtp) == ["ben@example.com", "cy@example.com"]
    smtp.clear()
    run_jobs()
    assert smtp.messages == []
    read = admin_api.get(f"/api/v1/distributions/{created['id']}").json()
    assert read["reminders"][0]["sent"] == 2


def _insert(conn: Any, table: Any, **values: Any) -> int:
    return int(conn.execute(insert(table).values(**values).returning(table.c.id)).scalar_one())


def test_the_migration_moves_the_single_reminder_into_the_list(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate.upgrade(engine, "0004_distribution")
    meta = MetaData()
    meta.reflect(engine)
    t = meta.tables
    now = datetime(2026, 3, 1, tzinfo=UTC)
    stamps = {"created_at": now, "updated_at": now}
    with engine.begin() as conn:
        ws = _insert(conn, t["workspace"], slug="acme", name="Acme", settings={}, **stamps)
        survey = _insert(
            conn,
            t["survey"],
            workspace_id=ws,
            slug="nps",
            name="NPS",
            status="published",
            definition={},
            completed_count=0,
            created_by="test",
            **stamps,
        )
        common = {"workspace_id": ws, "survey_id": survey, "channel": "email", "subject": "", "status": "sent"}
        reminded = _insert(conn, t["survey_distribution"], name="with", reminder_after_days=3.0, **common, **stamps)
        plain = _insert(conn, t["survey_distribution"], name="without", **common, **stamps)
        for number, done in enumerate((1, 1, 0)):
            _insert(
                conn,
                t["survey_invitation"],
                workspace_id=ws,
                survey_id=survey,
                distribution_id=reminded,
                channel="email",
                token=f"t{number}",
                status="sent",
                due_at=now,
                reminders_sent=done,
                created_at=now,
            )

    migrate.upgrade(engine)
    with engine.connect() as conn:
        dist = MetaData()
        dist.reflect(conn, only=["survey_distribution"])
        table = dist.tables["survey_distribution"]
        rows = {r.id: r for r in conn.execute(select(table))}
    assert rows[reminded].reminders == [{"after_days": 3.0, "subject": ""}]
    assert rows[reminded].reminder_counts == {"1": {"sent": 2, "failed": 0, "skipped": 0, "deferred": 0}}
    assert (rows[plain].reminders, rows[plain].reminder_counts) == ([], {})
    engine.dispose()


def test_the_reminder_migration_downgrades(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'down.db'}")
    migrate.upgrade(engine, "0012_survey_reminders")
    cfg = migrate.alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0004_distribution")
    meta = MetaData()
    meta.reflect(engine, only=["survey_distribution", "survey_contact_skip"])
    assert "reminders" not in meta.tables["survey_distribution"].c
    assert "reminder" not in meta.tables["survey_contact_skip"].c
    engine.dispose()


BAD_REMINDERS = [
    ([{"after_days": -1}], ["reminders", 0, "after_days"], "more than 0"),
    ([{"after_days": 0}], ["reminders", 0, "after_days"], "more than 0"),
    ([{"after_days": 91}], ["reminders", 0, "after_days"], "at most 90"),
    ([{"after_days": d} for d in (1, 2, 3, 4)], ["reminders"], "At most 3 reminders"),
    ([{"after_days": 3}, {"after_days": 3}], ["reminders", 1, "after_days"], "already used"),
    ([{"after_days": 7}, {"after_days": 3}], ["reminders", 1, "after_days"], "increasing order"),
    ([{"after_days": 3, "subject": "two\nlines"}], ["reminders", 0, "subject"], "one line"),
]


@pytest.mark.parametrize(("reminders", "loc", "message"), BAD_REMINDERS)
def test_bad_reminder_lists_are_refused(
    admin_api: TestClient,
    smtp: Inbox,
    db: Database,
    survey_id: int,
    reminders: list[dict[str, Any]],
    loc: list[Any],
    message: str,
) -> None:
    url = f"/api/v1/surveys/{survey_id}/distributions"
    body = assert_shape(
        admin_api.post(url, json={"audience_id": _audience(admin_api), "reminders": reminders}),
        422,
        code="invalid_input",
    )
    assert message in body["detail"], body
    assert loc in [e["loc"] for e in body["errors"]], body
    with db.unit_of_work(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(Distribution)) == 0
        assert session.scalar(select(func.count()).select_from(Job)) == 0


def test_bad_reminder_payloads_in_the_one_error_shape(admin_api: TestClient, smtp: Inbox, survey_id: int) -> None:
    url = f"/api/v1/surveys/{survey_id}/distributions"
    audience_id = _audience(admin_api)
    both = admin_api.post(url, json={"audience_id": audience_id, "reminders": [], "reminder_after_days": 3})
    assert "not both" in assert_shape(both, 422, code="invalid_input")["detail"]
    assert_shape(admin_api.post(url, json={"audience_id": audience_id, "reminder_after_days": -1}), 422)
    for bad in ([{"after_days": "soon"}], [{"days": 3}], {"after_days": 3}):
        body = assert_shape(admin_api.post(url, json={"audience_id": audience_id, "reminders": bad}), 422)
        assert body["errors"] and body["errors"][0]["loc"][0] == "reminders", body
    # No reminders at all is fine.
    ok = admin_api.post(url, json={"audience_id": audience_id, "reminders": []})
    assert ok.status_code == 202 and ok.json()["reminders"] == [] and ok.json()["reminder_after_days"] is None


def test_the_send_form_takes_a_list_of_reminders(
    admin_api: TestClient, workspace: Workspace, smtp: Inbox, settings: Settings, db: Database, survey_id: int
) -> None:
    browser = TestClient(admin_api.app)
    csrf = login(browser, workspace.user_email("analyst"))
    url = f"/surveys/{survey_id}/distribution"
    page = browser.get(url).text
    assert page.count('name="reminder_days"') == 3 and page.count('name="reminder_subject"') == 3
    audience = str(_audience(admin_api))

    def post(days: list[str], subjects: list[str]) -> Any:
        data = {"csrf_token": csrf, "audience_id": audience, "reminder_days": days, "reminder_subject": subjects}
        return browser.post(f"{url}/send", data=data, follow_redirects=False)

    for days, subjects, message in (
        (["7", "3", ""], ["", "", ""], "list the reminders in increasing order"),
        (["3", "3", ""], ["", "", ""], "already used"),
        (["-2", "", ""], ["", "", ""], "more than 0"),
        (["soon", "", ""], ["", "", ""], "is not a number of days"),
        (["3", "", ""], ["", "Last call", ""], "Reminder 2: enter after how many days"),
    ):
        bad = post(days, subjects)
        assert bad.status_code == 422, bad.text
        assert message in bad.text and 'data-testid="error"' in bad.text
    with db.unit_of_work(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(Distribution)) == 0

    ok = post(["3", "7", ""], ["", "Last call", ""])
    assert ok.status_code == 303, ok.text
    with db.unit_of_work(readonly=True) as session:
        stored = session.scalars(select(Distribution)).one()
        assert stored.reminders == [{"after_days": 3.0, "subject": ""}, {"after_days": 7.0, "subject": "Last call"}]
        assert stored.reminder_after_days == 3.0
    shown = browser.get(url).text
    assert "#1 after 3 days" in shown and "#2 after 7 days" in shown
