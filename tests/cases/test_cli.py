"""`cem cases list [--overdue] [--team T]` on the test database, with readable errors."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cem.cli import app
from tests.distribution.conftest import Clock


def test_cases_list_overdue_and_team(
    cli: CliRunner, admin_api: TestClient, users: dict[str, int], clock: Clock
) -> None:
    hours = {d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    calendar_id = admin_api.post(
        "/api/v1/business-calendars", json={"name": "Always", "timezone": "UTC", "hours": hours}
    ).json()["id"]
    policy = {"name": "All", "calendar_id": calendar_id, "first_response_minutes": 60, "resolution_minutes": 600}
    assert admin_api.post("/api/v1/slas", json=policy).status_code == 201
    team = admin_api.post("/api/v1/teams", json={"name": "Care", "member_ids": [users["agent"]]}).json()
    late = admin_api.post("/api/v1/cases", json={"title": "Late <b>one</b>", "team_id": team["id"]}).json()
    clock.advance(hours=2)
    fresh = admin_api.post("/api/v1/cases", json={"title": "Fresh one"}).json()
    r = cli.invoke(app, ["cases", "list", "--workspace", "acme"])
    assert r.exit_code == 0, r.output
    lines = r.output.strip().splitlines()
    assert lines[0].split()[:4] == ["ID", "STATUS", "PRIORITY", "SLA"]
    assert [int(line.split()[0]) for line in lines[1:]] == [fresh["id"], late["id"]]
    assert "breached" in lines[2] and "Late <b>one</b>" in lines[2]
    overdue = cli.invoke(app, ["cases", "list", "--overdue", "--workspace", "acme", "--format", "json"])
    assert [c["id"] for c in json.loads(overdue.output)] == [late["id"]]
    by_team = cli.invoke(app, ["cases", "list", "--team", "Care", "--workspace", "acme", "--format", "json"])
    assert [c["id"] for c in json.loads(by_team.output)] == [late["id"]]
    missing = cli.invoke(app, ["cases", "list", "--team", "Nobody", "--workspace", "acme"])
    assert missing.exit_code == 2 and "No team is named 'Nobody'" in missing.output
    bad = cli.invoke(app, ["cases", "list", "--status", "lost", "--workspace", "acme"])
    assert bad.exit_code == 2 and "Unknown status lost" in bad.output
