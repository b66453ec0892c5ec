"""The closed loop's setup pages: the alert rule editor (condition rows, no JSON) with its 30-day preview, teams and
SLA policies with calendars; refusals in words located at their row, nothing stored; hostile strings escaped."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cem.cases import rule_form as rule_form_module
from cem.cases.models import AlertRule
from cem.db.session import Database
from tests.cases.conftest import nps_record
from tests.conftest import PASSWORD, Workspace

HOSTILE = '<script>alert("x")</script>'


def login(workspace: Workspace, role: str) -> tuple[TestClient, str]:
    browser = TestClient(workspace.client.app)
    r = browser.post("/login", data={"email": workspace.user_email(role), "password": PASSWORD})
    assert r.status_code == 200, r.text
    match = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/").text)
    assert match is not None
    return browser, match.group(1)


def _count(db: Database) -> int:
    with db.unit_of_work(readonly=True) as session:
        return int(session.scalar(select(func.count()).select_from(AlertRule)) or 0)


def row(i: int, field: str, op: str, value: str, *, key: str = "", group: int = 0) -> dict[str, str]:
    return {
        f"rows-{i}-field": field,
        f"rows-{i}-op": op,
        f"rows-{i}-value": value,
        f"rows-{i}-key": key,
        f"rows-{i}-group": str(group),
    }


def rule_form(csrf: str, *rows: dict[str, str], **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"csrf_token": csrf, "name": "Angry detractors", "active": "on", "match": "and"}
    data.update({"open_case": "on", "priority": "high", "team_id": "", "owner_id": "", "dedupe_hours": "72"})
    for r in rows:
        data.update(r)
    data.update(extra)
    return data


def test_build_a_rule_with_rows_then_edit_it(
    workspace: Workspace, admin_api: TestClient, db: Database, users: dict[str, int]
) -> None:
    team = admin_api.post("/api/v1/teams", json={"name": "Care", "member_ids": [users["agent"]]}).json()
    browser, csrf = login(workspace, "analyst")
    page = browser.get("/alert-rules/new")
    assert page.status_code == 200 and "Row 1" in page.text and "Row 2" not in page.text
    # "+ Add condition" without JavaScript: the form comes back with a second, empty row and what was typed.
    first = row(0, "score:nps", "<=", "6")
    grown = browser.post("/alert-rules/new", data=rule_form(csrf, first, do="add-row:0"))
    assert grown.status_code == 200 and "Row 2" in grown.text and 'value="Angry detractors"' in grown.text
    assert _count(db) == 0

    data = rule_form(
        csrf,
        first,
        row(1, "text", "contains", "refund"),
        team_id=str(team["id"]),
        emails="ops@example.org, cx@example.org",
    )
    created = browser.post("/alert-rules/new", data=data)
    assert created.status_code == 201, created.text
    assert "Rule created." in created.text
    [rule] = admin_api.get("/api/v1/alert-rules").json()
    assert rule["condition"] == {
        "op": "and",
        "conditions": [
            {"field": "score", "field_type": "nps", "op": "<=", "value": 6.0},
            {"field": "text", "op": "contains", "value": "refund"},
        ],
    }
    assert rule["actions"] == {
        "open_case": {"priority": "high", "team_id": team["id"], "owner_id": None},
        "email": ["ops@example.org", "cx@example.org"],
    }
    assert rule["dedupe_window_hours"] == 72
    listing = browser.get("/alert-rules").text
    assert "NPS score is at most 6 and Text contains “refund”" in listing
    assert "open a high case for Care" in listing and "never" in listing

    # Edit: ANY instead of ALL, the second row becomes a regular expression, a sub-group is added.
    edited = rule_form(
        csrf,
        first,
        row(1, "text", "matches", r"refund|charge ?back"),
        row(2, "customer_attribute", "is", "enterprise", key="plan", group=1),
        row(3, "sentiment_label", "is", "negative", group=1),
        **{"groups-1-op": "and", "match": "or", "name": "Detractors or refunds", "open_case": ""},
    )
    saved = browser.post(f"/alert-rules/{rule['id']}", data=edited)
    assert saved.status_code == 200, saved.text
    got = admin_api.get(f"/api/v1/alert-rules/{rule['id']}").json()
    assert got["name"] == "Detractors or refunds" and got["needs_enrichment"] is True
    assert got["condition"]["op"] == "or"
    assert got["condition"]["conditions"][1] == {"field": "text", "op": "matches", "value": r"refund|charge ?back"}
    assert got["condition"]["conditions"][2] == {
        "op": "and",
        "conditions": [
            {"field": "customer_attribute", "key": "plan", "op": "is", "value": "enterprise"},
            {"field": "sentiment_label", "op": "is", "value": "negative"},
        ],
    }
    assert got["actions"]["open_case"] is None
    # The stored rule reopens in the rows it was built from, and as read-only JSON under "Advanced".
    reopened = browser.get(f"/alert-rules/{rule['id']}").text
    assert 'name="rows-2-key" value="plan"' in reopened and "Advanced: the rule as JSON" in reopened


def test_preview_lists_what_the_rule_would_have_caught(
    workspace: Workspace, admin_api: TestClient, db: Database
) -> None:
    records = []
    for i, score in enumerate([2, 5, 9, 10, 8, 3] * 2):
        records.append(nps_record(f"s{i}", score, customer=f"c{i}"))
        comment = f"Comment {i}: " + ("they refused my refund" if score < 7 else "lovely staff")
        records.append(nps_record(f"s{i}", 0, customer=f"c{i}", field_id="why", field_type="text", value=comment))
    records.append(nps_record("evil", 1, customer="c9", field_id="why", field_type="text", value=HOSTILE))
    records.append(nps_record("evil", 0, customer="c9"))
    assert admin_api.post("/api/v1/feedback/bulk", json=records).status_code == 200
    browser, csrf = login(workspace, "admin")
    data = rule_form(csrf, row(0, "score:nps", "<=", "6"), row(1, "text", "contains", "refund"), do="preview")
    r = browser.post("/alert-rules/new", data=data)
    assert r.status_code == 200, r.text
    assert re.search(r"<strong>6</strong> of 13 submissions\s*\(46\.2 %\)", r.text)
    hits = re.findall(r'<tr data-testid="preview-hit">(.*?)</tr>', r.text, re.S)
    assert len(hits) == 6
    assert all("they refused my refund" in h and "nps" in h for h in hits)
    assert all(f"Comment {i}:" in r.text for i in (0, 1, 5, 6, 7, 11)) and "lovely staff" not in r.text
    assert _count(db) == 0  # testing stores nothing

    # A rule that catches nearly everyone warns, in the preview and when saved.
    everyone = rule_form(csrf, row(0, "score:nps", "<=", "10"), row(1, "source_name", "is", "relationship"))
    warned = browser.post("/alert-rules/new", data={**everyone, "do": "preview"})
    assert "13 of 13 submissions (100%)" in warned.text and "rule-warning" in warned.text
    saved = browser.post("/alert-rules/new", data=everyone)
    assert saved.status_code == 201 and "would open a case for nearly everyone" in saved.text
    # Hostile text in a hit is escaped.
    evil = browser.post("/alert-rules/new", data=rule_form(csrf, row(0, "text", "contains", "script"), do="preview"))
    assert HOSTILE not in evil.text and "&lt;script&gt;alert(" in evil.text


def test_bad_rows_say_which_row_in_words_and_store_nothing(workspace: Workspace, db: Database) -> None:
    browser, csrf = login(workspace, "admin")
    data = rule_form(
        csrf,
        row(0, "score:nps", "<=", "6"),
        row(1, "text", "matches", "refund(|"),
        row(2, "topic", "is", ""),
        row(3, "score:csat", "contains", "2"),
        row(4, "customer_attribute", "is", "enterprise"),
        row(5, "score:ces", ">=", "lots"),
        emails="not-an-address",
        dedupe_hours="0",
    )
    r = browser.post("/alert-rules/new", data=data)
    assert r.status_code == 422
    errors = re.findall(r'data-testid="row-error">([^<]*)<', r.text)
    assert errors[0].startswith("Row 2: the regular expression does not compile:")
    assert errors[1:] == [
        "Row 3: enter a value.",
        "Row 4: “contains” does not apply to CSAT score; use “is less than”, “is at most”, “equals”, "
        "“is not equal to”, “is at least”, “is more than”.",
        "Row 5: name the customer attribute.",
        "Row 6: “lots” is not a number.",
    ]
    assert "conditions.1" not in r.text and "loc" not in r.text
    assert "Email addresses: “not-an-address” is not a valid email address" in r.text
    assert "De-duplication window: enter whole hours" in r.text
    assert 'value="refund(|"' in r.text  # what was typed stays
    # A catastrophically slow pattern is refused the same way; testing it is refused too.
    slow = browser.post("/alert-rules/new", data=rule_form(csrf, row(0, "text", "matches", "(a+)+$"), do="preview"))
    assert slow.status_code == 422 and "Row 1: the regular expression is catastrophically slow" in slow.text
    none = browser.post("/alert-rules/new", data={"csrf_token": csrf, "name": "Empty", "dedupe_hours": "1"})
    assert none.status_code == 422 and "Add at least one condition." in none.text
    assert _count(db) == 0


def test_a_tree_deeper_than_the_rows_is_read_only(workspace: Workspace, admin_api: TestClient) -> None:
    leaf = {"field": "score", "field_type": "nps", "op": "<=", "value": 6}
    deep = {"op": "and", "conditions": [leaf, {"op": "or", "conditions": [leaf, {"conditions": [leaf]}]}]}
    rule = admin_api.post("/api/v1/alert-rules", json={"name": "Deep", "condition": deep}).json()
    browser, csrf = login(workspace, "admin")
    page = browser.get(f"/alert-rules/{rule['id']}").text
    assert "read-only-note" in page and "NPS score is at most 6 and (NPS score is at most 6 or NPS score" in page
    r = browser.post(f"/alert-rules/{rule['id']}", data=rule_form(csrf, name="Deeper"))
    assert r.status_code == 200, r.text
    got = admin_api.get(f"/api/v1/alert-rules/{rule['id']}").json()
    assert got["name"] == "Deeper" and got["condition"]["conditions"][1]["conditions"][1] == {
        "op": "and",
        "conditions": [{**leaf, "value": 6.0}],
    }


def test_teams_page(workspace: Workspace, admin_api: TestClient, users: dict[str, int]) -> None:
    browser, csrf = login(workspace, "admin")
    data = {"csrf_token": csrf, "name": HOSTILE, "lead_user_id": str(users["analyst"])}
    r = browser.post("/teams", data={**data, "member_ids": [str(users["agent"]), str(users["agent2"])]})
    assert r.status_code == 200, r.text  # followed the redirect to /teams
    assert HOSTILE not in r.text and "&lt;script&gt;" in r.text
    [team] = admin_api.get("/api/v1/teams").json()
    assert team["lead_user_id"] == users["analyst"]
    assert sorted(team["member_ids"]) == sorted([users["analyst"], users["agent"], users["agent2"]])
    renamed = browser.post(
        f"/teams/{team['id']}", data={"csrf_token": csrf, "name": "Care", "member_ids": [str(users["agent"])]}
    )
    assert renamed.status_code == 200
    got = admin_api.get(f"/api/v1/teams/{team['id']}").json()
    assert got["name"] == "Care" and got["lead_user_id"] is None and got["member_ids"] == [users["agent"]]
    outsider = browser.post("/teams", data={"csrf_token": csrf, "name": "Ghosts", "member_ids": ["999999"]})
    assert outsider.status_code == 422 and "not members of this workspace" in outsider.text
    duplicate = browser.post("/teams", data={"csrf_token": csrf, "name": "Care"})
    assert duplicate.status_code == 409 and "Care" in duplicate.text
    assert len(admin_api.get("/api/v1/teams").json()) == 1


def test_sla_policies_and_calendars(workspace: Workspace, admin_api: TestClient) -> None:
    browser, csrf = login(workspace, "admin")
    assert "Add a business-hours calendar first" in browser.get("/slas").text
    hours = {f"hours-{d}": "09:00-12:00, 13:00-17:00" for d in ("mon", "tue", "wed", "thu", "fri")}
    calendar = {
        "csrf_token": csrf,
        "name": "Lisbon office",
        "timezone": "Europe/Lisbon",
        "holidays": "2026-12-25\n2027-01-01",
    }
    bad = browser.post("/slas/calendars", data={**calendar, **hours, "hours-tue": "9 to 5"})
    assert bad.status_code == 422 and "Tuesday: “9 to 5” is not a period like 09:00-17:00." in bad.text
    zone = browser.post("/slas/calendars", data={**calendar, **hours, "timezone": "Mars/Olympus"})
    assert zone.status_code == 422 and "is not a known time zone" in zone.text
    assert admin_api.get("/api/v1/business-calendars").json() == []
    assert browser.post("/slas/calendars", data={**calendar, **hours}).status_code == 200
    [cal] = admin_api.get("/api/v1/business-calendars").json()
    assert cal["hours"]["mon"] == [["09:00", "12:00"], ["13:00", "17:00"]] and cal["holidays"] == [
        "2026-12-25",
        "2027-01-01",
    ]

    policy = {
        "csrf_token": csrf, "name": "Urgent", "position": "1", "active": "on", "calendar_id": str(cal["id"]),
        "first_response_hours": "1", "first_response_minutes": "30", "resolution_hours": "8",
        "warning_minutes": "10", "priorities": ["urgent", "high"], "attribute_key": "plan", "attribute_value": HOSTILE,
    }  # fmt: skip
    missing = browser.post("/slas", data={**policy, "resolution_hours": ""})
    assert missing.status_code == 422 and "Resolution target: enter hours and/or minutes." in missing.text
    created = browser.post("/slas", data=policy)
    assert created.status_code == 200, created.text
    assert HOSTILE not in created.text and "1 h 30 min" in created.text
    [got] = admin_api.get("/api/v1/slas").json()
    assert (got["first_response_minutes"], got["resolution_minutes"], got["update_minutes"]) == (90, 480, None)
    assert got["conditions"]["priorities"] == ["urgent", "high"]
    assert got["conditions"]["customer_attribute"] == {"key": "plan", "value": HOSTILE}
    edit = browser.get(f"/slas/{got['id']}")
    assert 'name="first_response_minutes" value="30"' in edit.text
    changed = browser.post(f"/slas/{got['id']}", data={**policy, "update_hours": "2", "priorities": []})
    assert changed.status_code == 200
    after = admin_api.get(f"/api/v1/slas/{got['id']}").json()
    assert after["update_minutes"] == 120 and after["conditions"]["priorities"] == []
    in_use = browser.post(f"/slas/calendars/{cal['id']}/delete", data={"csrf_token": csrf})
    assert in_use.status_code == 409 and "SLA policies use this calendar" in in_use.text


def test_only_loop_managers_see_the_setup_pages(workspace: Workspace) -> None:
    for role, allowed in (("viewer", False), ("agent", False), ("analyst", True), ("admin", True)):
        browser, _ = login(workspace, role)
        home = browser.get("/").text
        assert ('href="/alert-rules"' in home) is allowed, role
        for path in ("/alert-rules", "/alert-rules/new", "/teams", "/slas"):
            assert (browser.get(path).status_code == 200) is allowed, (role, path)


def test_hostile_rule_strings_are_escaped_everywhere(workspace: Workspace, admin_api: TestClient) -> None:
    condition = {
        "op": "or",
        "conditions": [
            {"field": "text", "op": "contains", "value": HOSTILE},
            {"field": "customer_attribute", "key": "plan", "value": HOSTILE},
        ],
    }
    rule = admin_api.post("/api/v1/alert-rules", json={"name": HOSTILE, "description": HOSTILE, "condition": condition})
    assert rule.status_code == 201, rule.text
    browser, _ = login(workspace, "admin")
    for path in ("/alert-rules", f"/alert-rules/{rule.json()['id']}"):
        page = browser.get(path).text
        assert HOSTILE not in page and "&lt;script&gt;alert(" in page, path


def test_rows_round_trip_and_read_in_words() -> None:
    posted = {
        "match": "or",
        **row(0, "source_type", "in", "survey, api"),
        **row(1, "sentiment_score", "<", "-0.4"),
        **row(2, "score_field", ">=", "4", key="q_effort", group=1),
        **row(3, "topic", "is_not", "billing", group=1),
        "groups-1-op": "and",
    }
    form = rule_form_module.parse(posted)
    condition, problems = rule_form_module.to_condition(form)
    assert not problems and condition is not None
    stored = condition.model_dump(mode="json", exclude_none=True)
    assert stored["conditions"][0] == {"field": "source_type", "op": "in", "value": ["survey", "api"]}
    assert rule_form_module.summary(stored) == (
        "Source type is one of survey, api or Sentiment score is less than -0.4 or "
        "(answer to “q_effort” is at least 4 and Topic is not billing)"
    )
    again = rule_form_module.from_condition(stored)
    assert again is not None and again.rows == form.rows and again.group_ops == {1: "and"}
    out_of_range = rule_form_module.parse(row(0, "sentiment_score", ">", "3"))
    assert rule_form_module.to_condition(out_of_range)[1].all() == ["Row 1: a sentiment score lies between -1 and 1."]
