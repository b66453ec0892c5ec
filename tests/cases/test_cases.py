"""Cases over the API: status transitions, assignment inside the workspace and team, notes, replies emailed to
the customer through a real SMTP server, closing with its outcome, and what agents may see."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cem.cases.models import Case, CaseActivity
from cem.db.session import Database
from tests.cases.conftest import Inbox, nps_record
from tests.distribution.conftest import links_in


def _customer(admin_api: TestClient, external_id: str = "c1") -> int:
    admin_api.post("/api/v1/feedback/bulk", json=[nps_record("s1", 2, customer=external_id)])
    found = admin_api.get("/api/v1/customers").json()["items"]
    return int(next(c["id"] for c in found if c["external_id"] == external_id))


def _case(client: TestClient, **body: Any) -> dict[str, Any]:
    r = client.post("/api/v1/cases", json={"title": "Parcel lost", **body})
    assert r.status_code == 201, r.text
    return r.json()


def _count(db: Database, model: type) -> int:
    with db.unit_of_work(readonly=True) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_status_transitions_and_timeline(admin_api: TestClient) -> None:
    case = _case(admin_api, tags=["delivery"])
    url = f"/api/v1/cases/{case['id']}"
    assert admin_api.patch(url, json={"status": "waiting_on_customer"}).json()["status"] == "waiting_on_customer"
    assert (
        admin_api.patch(url, json={"status": "open", "priority": "urgent", "tags": ["delivery", "vip"]}).status_code
        == 200
    )
    r = admin_api.patch(url, json={"status": "new"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["status"]
    assert "may become: resolved, waiting_on_customer" in r.json()["detail"]
    r = admin_api.patch(url, json={"status": "escalated"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"][0] == "status"
    r = admin_api.patch(url, json={"status": "closed"})
    assert r.status_code == 422 and "close" in r.json()["errors"][0]["msg"]
    assert admin_api.patch(url, json={"priority": "critical"}).status_code == 422
    assert admin_api.patch(url, json={"owner": 1}).status_code == 422
    detail = admin_api.get(url).json()
    assert [a["kind"] for a in detail["activity"]] == ["created", "status", "status", "priority", "tags"]
    assert detail["tags"] == ["delivery", "vip"] and detail["priority"] == "urgent"


def test_close_requires_the_outcome_and_reopens(admin_api: TestClient, db: Database) -> None:
    case = _case(admin_api)
    url = f"/api/v1/cases/{case['id']}"
    r = admin_api.post(f"{url}/close", json={"contacted": "maybe", "root_cause": "delivery"})
    assert r.status_code == 422
    assert {tuple(e["loc"]) for e in r.json()["errors"]} == {("contacted",), ("recovered",)}
    assert admin_api.get(url).json()["status"] == "new"
    r = admin_api.post(f"{url}/close", json={"contacted": True, "root_cause": "delivery", "recovered": True})
    closed = r.json()
    assert closed["status"] == "closed" and closed["outcome"] == {
        "contacted": True,
        "root_cause": "delivery",
        "recovered": True,
    }
    assert closed["closed_at"] is not None and closed["activity"][-1]["kind"] == "closed"
    assert (
        admin_api.post(f"{url}/close", json={"contacted": True, "root_cause": "x", "recovered": True}).status_code
        == 409
    )
    reopened = admin_api.patch(url, json={"status": "open"}).json()
    assert reopened["status"] == "open" and reopened["outcome"] is None and reopened["closed_at"] is None


def test_notes_are_internal_and_replies_reach_the_customer(
    admin_api: TestClient, db: Database, smtp: Inbox, run_jobs: Callable[[], int]
) -> None:
    customer_id = _customer(admin_api)
    case = _case(admin_api, customer_id=customer_id)
    url = f"/api/v1/cases/{case['id']}"
    admin_api.post(f"{url}/notes", json={"body": "Called the courier <b>twice</b>"})
    assert admin_api.get(url).json()["first_response_at"] is None  # a note is not a response
    r = admin_api.post(f"{url}/replies", json={"body": "Sorry! A new parcel <b>ships</b> today."})
    assert r.status_code == 201, r.text
    replied = r.json()
    assert replied["status"] == "open" and replied["first_response_at"] is not None
    run_jobs()
    [message] = smtp.to("c1@example.org")
    assert message["Subject"] == "Re: Parcel lost" and message["X-CEM-Case"] == str(case["id"])
    text, html = links_in(message)
    assert "A new parcel <b>ships</b> today." in text and "&lt;b&gt;ships&lt;/b&gt;" in html
    assert smtp.to("c1@example.org") and not any("courier" in links_in(m)[0] for _, m in smtp.messages)
    reply = next(a for a in admin_api.get(url).json()["activity"] if a["kind"] == "reply")
    assert reply["kind"] == "reply" and reply["data"]["delivery"] == "sent" and reply["data"]["to"] == "c1@example.org"
    run_jobs()
    assert len(smtp.to("c1@example.org")) == 1


def test_reply_without_an_address_is_refused(admin_api: TestClient, db: Database) -> None:
    case = _case(admin_api)
    before = _count(db, CaseActivity)
    r = admin_api.post(f"/api/v1/cases/{case['id']}/replies", json={"body": "Hello"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["case_id"]
    assert _count(db, CaseActivity) == before


def test_assignment_must_stay_inside_workspace_and_team(
    admin_api: TestClient, db: Database, users: dict[str, int]
) -> None:
    team = admin_api.post(
        "/api/v1/teams", json={"name": "Care", "lead_user_id": users["analyst"], "member_ids": [users["agent"]]}
    ).json()
    assert sorted(team["member_ids"]) == sorted([users["analyst"], users["agent"]])
    case = _case(admin_api)
    url = f"/api/v1/cases/{case['id']}/assign"
    r = admin_api.post(url, json={"team_id": team["id"], "owner_id": users["agent2"]})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["owner_id"]
    r = admin_api.post(url, json={"owner_id": 987_654})
    assert r.status_code == 422 and "not members of this workspace" in r.json()["detail"]
    r = admin_api.post(url, json={"team_id": 987_654})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["team_id"]
    assert admin_api.get(f"/api/v1/cases/{case['id']}").json()["owner_id"] is None
    r = admin_api.post(url, json={"team_id": team["id"], "owner_id": users["agent"]})
    assert (r.json()["owner_id"], r.json()["team_id"]) == (users["agent"], team["id"])
    r = admin_api.post("/api/v1/teams", json={"name": "Ghosts", "member_ids": [987_654]})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["member_ids"]


def test_bulk_assign_is_all_or_nothing(admin_api: TestClient, db: Database, users: dict[str, int]) -> None:
    ids = [_case(admin_api)["id"] for _ in range(3)]
    r = admin_api.post("/api/v1/cases/bulk-assign", json={"case_ids": [*ids, 999_999], "owner_id": users["agent"]})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["case_ids", 3]
    with db.unit_of_work(readonly=True) as session:
        assert set(session.scalars(select(Case.owner_id))) == {None}
    r = admin_api.post("/api/v1/cases/bulk-assign", json={"case_ids": ids, "owner_id": users["agent"]})
    assert r.status_code == 200 and r.json()["updated"] == ids
    with db.unit_of_work(readonly=True) as session:
        assert set(session.scalars(select(Case.owner_id))) == {users["agent"]}


def test_agents_see_their_own_and_their_teams_cases_only(
    admin_api: TestClient, as_user: Callable[[str], TestClient], users: dict[str, int], api: Callable[[str], TestClient]
) -> None:
    team = admin_api.post("/api/v1/teams", json={"name": "Care", "member_ids": [users["agent"]]}).json()
    mine = _case(admin_api, owner_id=users["agent"])["id"]
    teams = _case(admin_api, team_id=team["id"])["id"]
    other = _case(admin_api, owner_id=users["agent2"])["id"]
    nobody = _case(admin_api)["id"]
    agent = as_user("agent")
    seen = [c["id"] for c in agent.get("/api/v1/cases").json()["items"]]
    assert sorted(seen) == sorted([mine, teams])
    assert agent.get(f"/api/v1/cases/{other}").status_code == 404
    assert agent.patch(f"/api/v1/cases/{nobody}", json={"status": "open"}).status_code == 404
    assert (
        agent.post(
            "/api/v1/cases/bulk-assign", json={"case_ids": [mine, other], "owner_id": users["agent"]}
        ).status_code
        == 422
    )
    own = _case(agent)  # an agent's hand-made case is its own
    assert own["owner_id"] == users["agent"]
    assert sorted(c["id"] for c in as_user("agent2").get("/api/v1/cases").json()["items"]) == [other]
    assert len(admin_api.get("/api/v1/cases").json()["items"]) == 5
    assert api("viewer").get("/api/v1/cases").status_code == 403
    # Filters and paging
    page = admin_api.get("/api/v1/cases", params={"limit": 2}).json()
    rest = admin_api.get("/api/v1/cases", params={"limit": 10, "cursor": page["next_cursor"]}).json()
    assert len(page["items"]) == 2 and len(rest["items"]) == 3 and rest["next_cursor"] is None
    assert [c["id"] for c in admin_api.get("/api/v1/cases", params={"team_id": team["id"]}).json()["items"]] == [teams]
    assert admin_api.get("/api/v1/cases", params={"status": "bogus"}).status_code == 422
