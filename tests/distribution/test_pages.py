"""Distribution pages: the survey's report and forms, contact rules, and the public unsubscribe page;
plus a recipient the SMTP server refuses (failed, not delivered)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from cem.db.session import Database
from cem.distribution.models import Invitation, Unsubscribe
from tests.conftest import Workspace
from tests.distribution.conftest import Inbox, add_customers, links_in
from tests.distribution.test_email import LINK
from tests.test_roles_matrix import login


def _browser(admin_api: TestClient, workspace: Workspace, role: str = "analyst") -> tuple[TestClient, str]:
    browser = TestClient(admin_api.app)
    return browser, login(browser, workspace.user_email(role))


def test_survey_distribution_page_forms(admin_api: TestClient, workspace: Workspace, survey_id: int) -> None:
    browser, csrf = _browser(admin_api, workspace)
    url = f"/surveys/{survey_id}/distribution"
    page = browser.get(url)
    assert page.status_code == 200
    for text in (
        "Report",
        "Drop-off per question",
        "Would you recommend us?",
        "Email is not configured",
        "data-survey",
    ):
        assert text in page.text, text
    saved = browser.post(
        f"{url}/channels",
        data={
            "csrf_token": csrf,
            "recontact_days": "30",
            "respects_cooldown": "1",
            "widget_enabled": "1",
            "widget_url_pattern": "*/checkout/*",
            "widget_delay_seconds": "3",
            "widget_display_percent": "25",
            "allowed_origins": "https://shop.example\n",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    channels = admin_api.get(f"/api/v1/surveys/{survey_id}/channels").json()
    assert (channels["recontact_days"], channels["widget_display_percent"]) == (30, 25)
    assert channels["allowed_origins"] == ["https://shop.example"]
    bad = browser.post(f"{url}/channels", data={"csrf_token": csrf, "widget_display_percent": "150"})
    assert bad.status_code == 422 and "widget_display_percent" in bad.text
    assert admin_api.get(f"/api/v1/surveys/{survey_id}/channels").json() == channels
    trigger = browser.post(
        f"{url}/triggers", data={"csrf_token": csrf, "event_type": "ticket.closed", "delay_minutes": "60"}
    )
    assert trigger.status_code == 200 and "ticket.closed" in trigger.text
    assert browser.post(f"{url}/triggers", data={"csrf_token": csrf, "event_type": "bad type"}).status_code == 422
    no_audience = browser.post(f"{url}/send", data={"csrf_token": csrf, "audience_id": ""})
    assert no_audience.status_code == 422 and "Choose an audience" in no_audience.text
    assert browser.get("/surveys/999/distribution").status_code == 404


def test_contact_rules_page(admin_api: TestClient, workspace: Workspace) -> None:
    browser, csrf = _browser(admin_api, workspace)
    assert "Global cooldown" in browser.get("/contact-rules").text
    ok = browser.post(
        "/contact-rules",
        data={
            "csrf_token": csrf,
            "global_cooldown_days": "7",
            "quiet_start": "21:00",
            "quiet_end": "08:00",
            "timezone": "Europe/Lisbon",
            "period_days": "30",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303
    rules = admin_api.get("/api/v1/contact-rules").json()
    assert (rules["global_cooldown_days"], rules["quiet_start"], rules["timezone"]) == (7, "21:00", "Europe/Lisbon")
    bad = browser.post("/contact-rules", data={"csrf_token": csrf, "timezone": "Nowhere/City"})
    assert bad.status_code == 422 and "Unknown time zone" in bad.text and 'value="Nowhere/City"' in bad.text
    assert admin_api.get("/api/v1/contact-rules").json() == rules
    viewer, _ = _browser(admin_api, workspace, "viewer")
    assert "Save rules" not in viewer.get("/contact-rules").text


def test_unsubscribe_resubscribe_and_refused_recipient(
    db: Database,
    workspace: Workspace,
    admin_api: TestClient,
    client: TestClient,
    smtp: Inbox,
    run_jobs: Callable[[], int],
    survey_id: int,
) -> None:
    smtp.refuse.add("bounce@example.com")
    ids = add_customers(
        db,
        workspace.id,
        [{"external_id": "ana", "email": "ana@example.com"}, {"external_id": "b", "email": "bounce@example.com"}],
    )
    audience = admin_api.post("/api/v1/audiences", json={"name": "All"}).json()
    admin_api.post(f"/api/v1/surveys/{survey_id}/distributions", json={"audience_id": audience["id"]})
    run_jobs()
    with db.unit_of_work(readonly=True) as session:
        statuses = dict(session.execute(select(Invitation.customer_id, Invitation.status)).all())
        errors = list(session.scalars(select(Invitation.error).where(Invitation.status == "failed")))
    assert statuses == {ids["ana"]: "sent", ids["b"]: "failed"}
    assert "550" in errors[0]
    report = admin_api.get(f"/api/v1/surveys/{survey_id}/distribution-report").json()
    row = next(c for c in report["channels"] if c["channel"] == "email")
    assert (row["invited"], row["delivered"]) == (2, 1)

    text, _ = links_in(smtp.to("ana@example.com")[0])
    unsubscribe = text.split("Unsubscribe from surveys: ")[1].strip()
    token = unsubscribe.rsplit("/", 1)[1]
    assert LINK.search(text)
    # RFC 8058 one-click POST, then the confirmation page offers to undo it.
    assert client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert client.get(f"/u/{token}").status_code == 200  # idempotent
    with db.unit_of_work(readonly=True) as session:
        assert list(session.scalars(select(Unsubscribe.customer_id))) == [ids["ana"]]
    again = client.post(f"/u/{token}/resubscribe")
    assert again.status_code == 200 and "Subscribed again" in again.text
    with db.unit_of_work(readonly=True) as session:
        assert list(session.scalars(select(Unsubscribe.customer_id))) == []


def test_the_email_speaks_the_customer_language(
    db: Database, workspace: Workspace, admin_api: TestClient, smtp: Inbox, run_jobs: Callable[[], int]
) -> None:
    from cem.surveys import service as survey_service
    from tests.surveys.samples import sample_definition

    with db.unit_of_work() as session:
        survey = survey_service.create_survey(
            session, workspace.principal(), name="Multi", definition=sample_definition()
        )
        survey_service.publish_survey(session, workspace.principal(), survey)
        sid = survey.id
    add_customers(
        db,
        workspace.id,
        [
            {"external_id": "de", "email": "de@example.com", "attributes": {"language": "de"}},
            {"external_id": "ar", "email": "ar@example.com", "attributes": {"language": "ar"}},
            {"external_id": "xx", "email": "xx@example.com", "attributes": {"language": "fi"}},
        ],
    )
    audience = admin_api.post("/api/v1/audiences", json={"name": "All"}).json()
    admin_api.post(f"/api/v1/surveys/{sid}/distributions", json={"audience_id": audience["id"]})
    run_jobs()
    _, german = links_in(smtp.to("de@example.com")[0])
    _, arabic = links_in(smtp.to("ar@example.com")[0])
    _, fallback = links_in(smtp.to("xx@example.com")[0])
    assert "Wie wahrscheinlich?" in german and 'lang="de"' in german
    assert 'dir="rtl"' in arabic and "ما مدى احتمال" in arabic
    assert "How likely are you to recommend us?" in fallback
