"""SLAs on a controllable clock: business hours with a lunch break in New York, a weekend, a holiday and a
paused period, with exact due times; the sweep warns before the breach and escalates at it (to the team lead,
priority raised, emails through a real SMTP server, sla.breached emitted); bad calendars and policies."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from cem import hooks
from cem.cases.calendar import Calendar, open_end
from cem.db.session import Database
from cem.jobs.queue import enqueue
from tests.cases.conftest import Inbox, nps_record
from tests.cases.test_firing import Recorder
from tests.distribution.conftest import Clock

NY = ZoneInfo("America/New_York")
HOURS = {d: [["09:00", "12:00"], ["13:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


def _friday() -> date:
    """A Friday at least a week ahead, so jobs queued by the real clock are due on the test's clock."""
    day = datetime.now(UTC).date() + timedelta(days=7)
    return day + timedelta(days=(4 - day.weekday()) % 7)


FRIDAY = _friday()
MONDAY, TUESDAY, WEDNESDAY = (FRIDAY + timedelta(days=n) for n in (3, 4, 5))


def local(day: date, hhmm: str) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=NY)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


@pytest.fixture
def recorder(app: object) -> Iterator[Recorder]:
    found = Recorder()
    hooks.installed().register(found)
    yield found
    hooks.installed().unregister(found)


@pytest.fixture
def setup(admin_api: TestClient, users: dict[str, int]) -> dict[str, Any]:
    calendar = admin_api.post(
        "/api/v1/business-calendars",
        json={
            "name": "New York office",
            "timezone": "America/New_York",
            "hours": HOURS,
            "holidays": [TUESDAY.isoformat()],
        },
    )
    assert calendar.status_code == 201, calendar.text
    team = admin_api.post(
        "/api/v1/teams", json={"name": "Care", "lead_user_id": users["analyst"], "member_ids": [users["agent"]]}
    ).json()
    urgent = {
        "name": "Urgent and high",
        "position": 0,
        "conditions": {"priorities": ["high", "urgent"]},
        "calendar_id": calendar.json()["id"],
        "first_response_minutes": 60,
        "resolution_minutes": 480,
        "warning_minutes": 15,
    }
    standard = {
        **urgent,
        "name": "Standard",
        "position": 1,
        "conditions": {},
        "first_response_minutes": 480,
        "resolution_minutes": 2400,
    }
    ids = [admin_api.post("/api/v1/slas", json=p).json()["id"] for p in (urgent, standard)]
    return {"team": team, "policies": ids, "calendar": calendar.json()}


def test_calendar_arithmetic_with_lunch_weekend_holiday_and_pause() -> None:
    cal = Calendar.from_config("America/New_York", HOURS, [TUESDAY.isoformat()])
    start = local(FRIDAY, "16:30")
    assert cal.add(start, 60) == local(MONDAY, "09:30")  # not Friday 17:30: the weekend waits
    assert cal.add(start, 480) == local(WEDNESDAY, "09:30")  # 30 min Fri + 7 h Mon, Tue is a holiday
    paused = [(local(MONDAY, "10:00"), local(MONDAY, "14:00"))]  # 3 business hours (lunch is not counted)
    assert cal.add(start, 480, paused) == local(WEDNESDAY, "13:30")
    assert cal.add(start, 480, [(local(MONDAY, "10:00"), open_end())]) is None  # still waiting: no due time
    assert cal.minutes_between(start, local(WEDNESDAY, "10:00"), paused) == 30 + 420 - 180 + 60
    assert cal.add(local(FRIDAY, "20:00"), 1) == local(MONDAY, "09:01")


def test_case_sla_due_times_pause_and_escalation(
    admin_api: TestClient,
    as_user: Callable[[str], TestClient],
    users: dict[str, int],
    setup: dict[str, Any],
    clock: Clock,
    db: Database,
    run_jobs: Callable[[], int],
    smtp: Inbox,
    recorder: Recorder,
) -> None:
    admin_api.post("/api/v1/feedback/bulk", json=[nps_record("s1", 2, customer="c1")])
    customer_id = admin_api.get("/api/v1/customers").json()["items"][0]["id"]
    clock.now = local(FRIDAY, "16:30").astimezone(UTC)
    body = {
        "title": "Refund",
        "customer_id": customer_id,
        "priority": "high",
        "team_id": setup["team"]["id"],
        "owner_id": users["agent"],
    }
    case = admin_api.post("/api/v1/cases", json=body).json()
    assert case["sla"] == {
        "policy_id": setup["policies"][0],
        "state": "running",
        "first_response_due_at": iso(local(MONDAY, "09:30")),
        "update_due_at": None,
        "resolution_due_at": iso(local(WEDNESDAY, "09:30")),
        "escalated": False,
    }
    normal = admin_api.post("/api/v1/cases", json={"title": "Question"}).json()
    assert normal["sla"]["policy_id"] == setup["policies"][1]
    assert admin_api.patch(f"/api/v1/cases/{normal['id']}", json={"status": "resolved"}).json()["sla"]["state"] == "met"
    url = f"/api/v1/cases/{case['id']}"
    agent = as_user("agent")
    clock.now = local(MONDAY, "09:15").astimezone(UTC)
    agent.post(f"{url}/notes", json={"body": "Looking into it"})
    assert agent.get(url).json()["first_response_at"] is None  # an internal note is no response
    assert agent.post(f"{url}/replies", json={"body": "We are on it."}).status_code == 201
    clock.now = local(MONDAY, "10:00").astimezone(UTC)
    paused = agent.patch(url, json={"status": "waiting_on_customer"}).json()
    assert paused["sla"]["state"] == "paused" and paused["sla"]["resolution_due_at"] is None
    clock.now = local(MONDAY, "14:00").astimezone(UTC)
    resumed = agent.patch(url, json={"status": "open"}).json()
    assert resumed["sla"]["state"] == "running"
    assert resumed["sla"]["resolution_due_at"] == iso(local(WEDNESDAY, "13:30"))  # + the 3 paused business hours

    def sweep_at(moment: datetime) -> dict[str, Any]:
        clock.now = moment.astimezone(UTC)
        with db.unit_of_work() as session:
            enqueue(session, "cases.sla_sweep", dedupe_key=f"test-sweep:{moment.isoformat()}")
        run_jobs()
        return admin_api.get(url).json()

    assert sweep_at(local(WEDNESDAY, "13:00"))["activity"][-1]["kind"] == "status"  # nothing due yet
    warned = sweep_at(local(WEDNESDAY, "13:16"))
    assert warned["activity"][-1]["kind"] == "sla_warning" and warned["sla"]["state"] == "running"
    assert [m["Subject"] for m in smtp.to("agent@acme.example")][-1] == f"Case #{case['id']} is about to breach its SLA"
    assert sweep_at(local(WEDNESDAY, "13:20"))["activity"][-1]["kind"] == "sla_warning"  # warned once
    escalated = sweep_at(local(WEDNESDAY, "13:31"))
    assert escalated["sla"]["state"] == "breached" and escalated["sla"]["escalated"] is True
    assert (escalated["owner_id"], escalated["priority"]) == (users["analyst"], "urgent")
    assert [a["kind"] for a in escalated["activity"][-3:]] == ["sla_breached", "assigned", "escalated"]
    breached = [d for t, d in recorder.events if t == "sla.breached"]
    assert (
        len(breached) == 1 and breached[0]["case_id"] == case["id"] and breached[0]["escalated_to"] == users["analyst"]
    )
    subject = f"Case #{case['id']} breached its SLA and was escalated"
    assert subject in [m["Subject"] for m in smtp.to("analyst@acme.example")]
    assert subject in [m["Subject"] for m in smtp.to("agent@acme.example")]
    sweep_at(local(WEDNESDAY, "15:00"))
    assert len([d for t, d in recorder.events if t == "sla.breached"]) == 1  # escalated once
    overdue = admin_api.get("/api/v1/cases", params={"overdue": "true"}).json()["items"]
    assert [c["id"] for c in overdue] == [case["id"]]
    # The lead now owns it; the agent still sees it through the team.
    assert agent.get(url).status_code == 200
    resolved = agent.patch(url, json={"status": "resolved"}).json()
    assert resolved["sla"]["state"] == "breached"  # resolved late stays breached
    assert admin_api.get("/api/v1/cases", params={"overdue": "true"}).json()["items"] == []


def test_a_case_resolved_in_time_meets_its_sla(admin_api: TestClient, setup: dict[str, Any], clock: Clock) -> None:
    clock.now = local(MONDAY, "09:00").astimezone(UTC)
    case = admin_api.post("/api/v1/cases", json={"title": "Quick", "priority": "urgent"}).json()
    clock.now = local(MONDAY, "11:00").astimezone(UTC)
    done = admin_api.patch(f"/api/v1/cases/{case['id']}", json={"status": "resolved"}).json()
    assert done["sla"]["state"] == "met" and done["sla"]["resolution_due_at"] == iso(local(WEDNESDAY, "10:00"))


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"timezone": "Mars/Olympus"}, ["timezone"]),
        ({"hours": {"mon": [["17:00", "09:00"]]}}, ["hours"]),
        ({"hours": {"mon": [["09:00", "13:00"], ["12:00", "17:00"]]}}, ["hours"]),
        ({"hours": {"funday": [["09:00", "17:00"]]}}, ["hours", "funday"]),
        ({"hours": {"mon": [["9am", "5pm"]]}}, ["hours", "mon", 0, 0]),
        ({"holidays": ["next tuesday"]}, ["holidays", 0]),
        ({"colour": "red"}, ["colour"]),
    ],
)
def test_bad_calendars_are_located(admin_api: TestClient, body: dict[str, Any], loc: list[Any]) -> None:
    good = {"name": "Office", "timezone": "America/New_York", "hours": HOURS}
    r = admin_api.post("/api/v1/business-calendars", json={**good, **body})
    assert r.status_code == 422, r.text
    assert any(e["loc"][: len(loc)] == loc for e in r.json()["errors"]), r.json()
    assert admin_api.get("/api/v1/business-calendars").json() == []


def test_bad_policies_are_located(admin_api: TestClient, setup: dict[str, Any]) -> None:
    good = {
        "name": "P",
        "calendar_id": setup["calendar"]["id"],
        "first_response_minutes": 60,
        "resolution_minutes": 600,
    }
    cases = [
        ({"calendar_id": 999_999}, ["calendar_id"]),
        ({"conditions": {"team_ids": [999_999]}}, ["conditions", "team_ids", 0]),
        ({"conditions": {"priorities": ["asap"]}}, ["conditions", "priorities", 0]),
        ({"first_response_minutes": 0}, ["first_response_minutes"]),
        ({"resolution_minutes": "soon"}, ["resolution_minutes"]),
    ]
    for patch, loc in cases:
        r = admin_api.post("/api/v1/slas", json={**good, **patch})
        assert r.status_code == 422, (patch, r.text)
        assert r.json()["errors"][0]["loc"] == loc, r.json()
    assert len(admin_api.get("/api/v1/slas").json()) == 2
    assert admin_api.delete(f"/api/v1/business-calendars/{setup['calendar']['id']}").status_code == 409
