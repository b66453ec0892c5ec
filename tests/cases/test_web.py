"""The case pages through a logged-in browser session (forms with the CSRF token): who sees which tab and case,
the most urgent first, bulk assign, every case form with its refusals shown next to the field, hostile strings
escaped."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import func, select

from cem.cases import inbox
from cem.cases.models import Case, CaseActivity
from cem.db.session import Database
from tests.cases.web_world import COMMENT, HASH_ID, HOSTILE_NAME, HOSTILE_TITLE, World, build_world
from tests.conftest import Workspace
from tests.distribution.conftest import Clock
from tests.test_roles_matrix import login

HTML = {"accept": "text/html"}


@pytest.fixture
def world(db: Database, workspace: Workspace, admin_api: TestClient, clock: Clock) -> World:
    return build_world(db, workspace, admin_api)


@pytest.fixture
def browser_as(app: FastAPI, workspace: Workspace) -> Callable[[str], tuple[TestClient, str]]:
    """A logged-in page client for a role (or "agent2"), with its CSRF token."""

    def make(who: str) -> tuple[TestClient, str]:
        client = TestClient(app, headers=HTML)
        email = "agent2@acme.example" if who == "agent2" else workspace.user_email(who)
        return client, login(client, email)

    return make


def _row_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-testid="case-row" data-case-id="(\d+)"', page)]


def _error(page: str, testid: str) -> str:
    found = re.search(rf'data-testid="{testid}">([^<]*)<', page)
    assert found, f"no {testid} on the page"
    return html.unescape(found.group(1))


def _case(db: Database, case_id: int) -> Case:
    with db.unit_of_work(readonly=True) as session:
        found = session.get(Case, case_id)
        assert found is not None
        session.expunge(found)
        return found


def _activity_count(db: Database) -> int:
    with db.unit_of_work(readonly=True) as session:
        return int(session.scalar(select(func.count()).select_from(CaseActivity)) or 0)


def test_pages_for_each_role(world: World, browser_as: Callable[[str], tuple[TestClient, str]]) -> None:
    viewer, _ = browser_as("viewer")
    assert viewer.get("/cases").status_code == 403
    assert viewer.get(f"/cases/{world.cases['triggered']}").status_code == 403
    assert 'href="/cases"' not in viewer.get("/").text  # no nav link without cases:work

    agent, _ = browser_as("agent")
    page = agent.get("/cases")
    assert page.status_code == 200 and 'href="/cases"' in page.text
    assert 'data-testid="tab-all"' not in page.text
    assert _row_ids(page.text) == [world.cases["agents_own"]]  # "My cases" by default
    assert sorted(_row_ids(agent.get("/cases?tab=team").text)) == sorted(
        [world.cases["triggered"], world.cases["urgent"]]
    )
    refused = agent.get("/cases?tab=all")
    assert refused.status_code == 403 and "analysts and admins" in refused.text

    for role in ("analyst", "admin"):
        client, _ = browser_as(role)
        page = client.get("/cases")
        assert page.status_code == 200 and 'data-testid="tab-all"' in page.text
        assert sorted(_row_ids(page.text)) == sorted(world.cases.values())
        assert client.get(f"/cases/{world.cases['billing']}").status_code == 200


def test_an_agent_cannot_open_another_teams_case(
    world: World, browser_as: Callable[[str], tuple[TestClient, str]], db: Database
) -> None:
    agent, csrf = browser_as("agent")
    billing = world.cases["billing"]
    assert agent.get(f"/cases/{billing}").status_code == 404
    assert agent.get(f"/cases/{world.cases['triggered']}").status_code == 200
    before = _activity_count(db)
    r = agent.post(f"/cases/{billing}/notes", data={"csrf_token": csrf, "body": "peek"})
    assert r.status_code == 404
    assert agent.get(f"/cases?tab=team&team_id={world.teams['billing']}").text.count('data-testid="case-row"') == 0
    # Bulk assign cannot reach it either: all or nothing.
    r = agent.post(
        "/cases/bulk-assign",
        data={
            "csrf_token": csrf,
            "case_ids": [str(world.cases["agents_own"]), str(billing)],
            "owner": str(world.users["agent"]),
        },
    )
    assert r.status_code == 422 and "does not exist" in _error(r.text, "error-case_ids")
    assert _activity_count(db) == before


def test_inbox_puts_overdue_and_soon_due_first(
    world: World, browser_as: Callable[[str], tuple[TestClient, str]], clock: Clock, db: Database
) -> None:
    admin, csrf = browser_as("admin")
    first = admin.get("/cases").text
    assert _row_ids(first)[0] == world.cases["urgent"]  # its first response is due in 30 minutes
    assert 'data-testid="sla-state">due soon<' in first.split("</tr>")[1]
    clock.advance(minutes=45)  # the urgent case's 30-minute first response has passed
    page = admin.get("/cases").text
    ids = _row_ids(page)
    assert ids[0] == world.cases["urgent"]
    urgent_row = page[page.index(f'data-case-id="{world.cases["urgent"]}"') :]
    assert 'data-testid="sla-state">overdue<' in urgent_row.split("</tr>")[0]
    assert _row_ids(admin.get("/cases?overdue=1").text) == [world.cases["urgent"]]
    # Closed cases leave the default (open) view and come last under "any".
    r = admin.post(
        f"/cases/{world.cases['urgent']}/close",
        data={"csrf_token": csrf, "contacted": "yes", "root_cause": "courier", "recovered": "no"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert world.cases["urgent"] not in _row_ids(admin.get("/cases").text)
    assert _row_ids(admin.get("/cases?status=any").text)[-1] == world.cases["urgent"]
    assert _row_ids(admin.get("/cases?status=closed").text) == [world.cases["urgent"]]
    assert _row_ids(admin.get(f"/cases?team_id={world.teams['billing']}").text) == [world.cases["billing"]]
    odd = admin.get("/cases?priority=<b>critical</b>&status=escalated")
    assert odd.status_code == 200 and "<b>critical" not in odd.text
    assert "Unknown priority '<b>critical</b>'" in html.unescape(odd.text)
    assert "Unknown status 'escalated' (use one of: active, any, new" in html.unescape(odd.text)
    assert admin.get("/cases?team_id=abc").status_code == 422  # ids are digits


def test_bulk_assign_and_its_refusals(
    world: World, browser_as: Callable[[str], tuple[TestClient, str]], db: Database
) -> None:
    admin, csrf = browser_as("admin")
    ticked = [str(world.cases["urgent"]), str(world.cases["triggered"])]
    r = admin.post(
        "/cases/bulk-assign",
        data={"csrf_token": csrf, "case_ids": ticked, "owner": str(world.users["agent"]), "tab": "all"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "assigned=2" in r.headers["location"]
    assert "2 case(s) assigned." in admin.get(r.headers["location"]).text
    assert {_case(db, int(i)).owner_id for i in ticked} == {world.users["agent"]}

    before = _activity_count(db)
    r = admin.post("/cases/bulk-assign", data={"csrf_token": csrf, "case_ids": ticked, "owner": "987654"})
    assert r.status_code == 422
    assert _error(r.text, "error-owner") == "user 987654 is not a member of this workspace"
    assert "{" not in _error(r.text, "error-owner")  # a sentence, not JSON
    r = admin.post(
        "/cases/bulk-assign",
        data={
            "csrf_token": csrf,
            "case_ids": ticked,
            "owner": str(world.users["agent2"]),
            "team": str(world.teams["care"]),
        },
    )
    assert r.status_code == 422 and "is not a member of team" in _error(r.text, "error-owner")
    r = admin.post("/cases/bulk-assign", data={"csrf_token": csrf, "owner": str(world.users["agent"])})
    assert r.status_code == 422 and _error(r.text, "error-form") == "Tick at least one case to assign."
    assert _activity_count(db) == before
    assert {_case(db, int(i)).owner_id for i in ticked} == {world.users["agent"]}


def test_case_forms_change_status_note_and_close(
    world: World, browser_as: Callable[[str], tuple[TestClient, str]], db: Database
) -> None:
    agent, csrf = browser_as("agent")
    case_id = world.cases["triggered"]
    url = f"/cases/{case_id}"

    r = agent.post(
        f"{url}/update",
        data={"csrf_token": csrf, "status": "waiting_on_customer", "priority": "urgent", "tags": "delivery, vip"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"{url}?done=updated"
    saved = _case(db, case_id)
    assert (saved.status, saved.priority, saved.tags) == ("waiting_on_customer", "urgent", ["delivery", "vip"])
    page = agent.get(r.headers["location"]).text
    assert "Case updated." in page and 'data-testid="sla-state">paused<' in page

    r = agent.post(
        f"{url}/update", data={"csrf_token": csrf, "status": "new", "priority": "urgent", "tags": "delivery, vip"}
    )
    assert r.status_code == 422
    assert "cannot become new" in _error(r.text, "error-updated-status")
    r = agent.post(f"{url}/update", data={"csrf_token": csrf, "priority": "urgent", "tags": "no<tags>"})
    assert r.status_code == 422 and _error(r.text, "error-updated-tags").startswith("use only letters")

    r = agent.post(f"{url}/notes", data={"csrf_token": csrf, "body": "   "})
    assert r.status_code == 422 and _error(r.text, "error-note-body") == "this field is required"
    r = agent.post(f"{url}/notes", data={"csrf_token": csrf, "body": "Called the courier"}, follow_redirects=False)
    assert r.status_code == 303
    page = agent.get(f"{url}?done=note").text
    assert "Note added." in page and "Called the courier" in page

    before = _activity_count(db)
    r = agent.post(f"{url}/close", data={"csrf_token": csrf, "root_cause": " "})
    assert r.status_code == 422
    assert _error(r.text, "error-closed-contacted") == "choose yes or no"
    assert _error(r.text, "error-closed-recovered") == "choose yes or no"
    assert _error(r.text, "error-closed-root_cause") == "this field is required"
    assert _activity_count(db) == before and _case(db, case_id).status == "waiting_on_customer"
    r = agent.post(
        f"{url}/close",
        data={"csrf_token": csrf, "contacted": "yes", "root_cause": "late delivery", "recovered": "yes"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    closed = _case(db, case_id)
    assert closed.status == "closed" and closed.outcome == {
        "contacted": True,
        "root_cause": "late delivery",
        "recovered": True,
    }
    page = agent.get(url).text
    assert 'data-testid="form-close"' not in page and "root cause: late delivery" in page
    r = agent.post(f"{url}/replies", data={"csrf_token": csrf, "body": "Hello again"})
    assert r.status_code == 409 and "reopen it to reply" in _error(r.text, "error-reply")


def test_reply_form_queues_the_email_or_says_why_not(
    world: World, browser_as: Callable[[str], tuple[TestClient, str]], db: Database
) -> None:
    admin, csrf = browser_as("admin")
    r = admin.post(
        f"/cases/{world.cases['triggered']}/replies",
        data={"csrf_token": csrf, "body": "We are on it."},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = admin.get(r.headers["location"]).text
    assert "Reply queued" in page and "reply to ada@example.org" in page
    assert _case(db, world.cases["triggered"]).first_response_at is not None
    r = admin.post(f"/cases/{world.cases['billing']}/replies", data={"csrf_token": csrf, "body": "Hi"})
    assert (
        r.status_code == 422
        and _error(r.text, "error-reply") == "The case's customer has no email address to reply to."
    )
    r = admin.post(f"/cases/{world.cases['triggered']}/replies", data={"csrf_token": csrf, "body": ""})
    assert r.status_code == 422 and _error(r.text, "error-reply-body") == "this field is required"


def test_case_page_shows_trigger_timeline_and_customer(
    world: World, browser_as: Callable[[str], tuple[TestClient, str]]
) -> None:
    analyst, _ = browser_as("analyst")
    page = analyst.get(f"/cases/{world.cases['triggered']}").text
    trigger = page[page.index('data-testid="trigger"') : page.index("<h2>Timeline")]
    assert "How likely are you to recommend us?" in trigger and ">3<" in trigger and COMMENT in trigger
    assert 'data-testid="case-team">Care<' in page
    side = page[page.index('data-testid="customer-360"') :]
    assert str(escape(HOSTILE_NAME)) in side and "ada@example.org" in side
    assert side.count('data-testid="latest-feedback"') == 1
    assert 'data-kind="created"' in page
    # A pseudonymised external id is never shown as the customer's name.
    urgent = analyst.get(f"/cases/{world.cases['urgent']}").text
    assert HASH_ID not in urgent and "Customer #" in urgent
    inbox = analyst.get("/cases").text
    assert HASH_ID not in inbox


def test_hostile_strings_are_escaped(world: World, browser_as: Callable[[str], tuple[TestClient, str]]) -> None:
    admin, csrf = browser_as("admin")
    note = "<script>alert('note')</script>"
    admin.post(f"/cases/{world.cases['billing']}/notes", data={"csrf_token": csrf, "body": note})
    for page in (
        admin.get("/cases").text,
        admin.get(f"/cases/{world.cases['billing']}").text,
        admin.get(f"/cases/{world.cases['triggered']}").text,
    ):
        assert "<script>alert" not in page and "<img src=x" not in page
    assert str(escape(note)) in admin.get(f"/cases/{world.cases['billing']}").text
    assert str(escape(HOSTILE_TITLE)) in admin.get("/cases").text
    assert "&lt;script&gt;alert(" in admin.get("/cases").text  # the customer's name, escaped


def test_inbox_pages_and_offers_only_case_workers_as_owners(
    world: World, browser_as: Callable[[str], tuple[TestClient, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbox, "PAGE_SIZE", 3)
    admin, _ = browser_as("admin")
    first = admin.get("/cases?tab=all").text
    assert len(_row_ids(first)) == 3 and 'data-testid="next-page"' in first
    second = admin.get("/cases?tab=all&page=2").text
    assert set(_row_ids(first)) | set(_row_ids(second)) == set(world.cases.values())
    assert 'data-testid="next-page"' not in second
    bulk = first[first.index('data-testid="bulk-assign"') :]
    offered = re.findall(r'<option value="(\d+)">', bulk.split("</select>")[0])
    assert world.users["viewer"] not in {int(v) for v in offered}
    assert {world.users["agent"], world.users["agent2"], world.users["analyst"]} <= {int(v) for v in offered}
