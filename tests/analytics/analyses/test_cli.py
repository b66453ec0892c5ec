"""`cem analyze ...`: the same answers as the API, as tables, CSV or JSON; readable errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cem.cli import app
from cem.config import Settings, get_settings
from cem.customers import service as customer_service
from cem.customers.schemas import CustomerRef, EventIn
from cem.feedback import service as feedback_service
from cem.feedback.schemas import FeedbackIn
from tests.analytics.analyses.test_drivers_api import _store, _survey
from tests.conftest import Workspace

START = datetime(2025, 6, 2, 9, tzinfo=UTC)
JOURNEY = {
    "key": "support",
    "name": "Support",
    "stages": [
        {"key": "contact", "name": "Contact", "touchpoints": [{"key": "phone", "name": "Phone", "channel": "phone"}]},
        {"key": "resolve", "name": "Resolve", "touchpoints": [{"key": "agent", "name": "Agent", "channel": "support"}]},
    ],
}


@pytest.fixture
def cli(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, workspace: Workspace, admin_api: TestClient
) -> Iterator[CliRunner]:
    """40 customers call; 30 get resolved 2 hours later and rate it (CSAT 1-5); a survey for key drivers."""
    assert admin_api.post("/api/v1/journeys", json=JOURNEY).status_code == 201
    events, records = [], []
    for i in range(40):
        who = CustomerRef(external_id=f"c{i}", attributes={"tier": "gold" if i % 2 else "basic"})
        events.append(EventIn(customer=who, touchpoint="phone", type="call", occurred_at=START, external_id=f"call{i}"))
        if i < 30:
            later = START + timedelta(hours=2)
            events.append(
                EventIn(customer=who, touchpoint="agent", type="resolved", occurred_at=later, external_id=f"r{i}")
            )
            records.append(
                FeedbackIn(
                    source_type="survey",
                    source_name="support",
                    submission_id=f"s{i}",
                    customer=who,
                    touchpoint="agent",
                    collected_at=later,
                    field_id="csat",
                    field_type="csat",
                    value=5 if i % 3 else 1,
                )
            )
    with workspace.db.unit_of_work() as session:
        customer_service.resolve_customers(
            session, workspace_id=workspace.id, refs=[e.customer for e in events if e.customer]
        )
        customer_service.ingest_events(session, actor=workspace.principal(), events=events)
        feedback_service.ingest_feedback(session, actor=workspace.principal(), records=records)
    _store(workspace, "relationship", _survey(80, seed=5))
    monkeypatch.setenv("CEM_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CEM_DATABASE_URL", settings.resolved_database_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def run(cli: CliRunner, *args: str) -> str:
    result = cli.invoke(app, ["analyze", *args, "--workspace", "acme"])
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_matches_the_api(cli: CliRunner, admin_api: TestClient) -> None:
    journey_id = admin_api.get("/api/v1/journeys").json()[0]["id"]
    funnel = json.loads(run(cli, "funnel", "--journey", "support", "--format", "json"))
    assert funnel == admin_api.get(f"/api/v1/analyses/journeys/{journey_id}/funnel").json()
    contact = funnel["stages"][0]
    assert (contact["reached"], contact["continued"], contact["drop_off"]) == (40, 30, 10)
    assert contact["median_hours"] == 2.0 and contact["p75_hours"] == 2.0
    # One segment: odd customers are gold (20 of them; 15 of those below 30 were resolved).
    gold = json.loads(run(cli, "funnel", "--journey", "support", "--segment", "customer.tier=gold", "--format", "json"))
    assert (gold["customers"], gold["stages"][0]["reached"], gold["stages"][0]["continued"]) == (20, 20, 15)
    params = {"segment": "customer.tier=gold"}
    assert gold == admin_api.get(f"/api/v1/analyses/journeys/{journey_id}/funnel", params=params).json()
    r = admin_api.get(f"/api/v1/analyses/journeys/{journey_id}/funnel", params={"segment": "touchpoint=phone"})
    assert r.status_code == 422 and "customer attributes only" in r.json()["detail"]

    table = run(cli, "stages", "--journey", "support", "--min-n", "10")
    assert "CSAT (top-2-box) by stage of Support" in table
    assert "not enough data" in table  # the contact stage has no ratings
    assert "agent" in table  # the resolve stage's top pain point
    stages = json.loads(run(cli, "stages", "--journey", "support", "--min-n", "10", "--format", "json"))
    assert stages["stages"][1]["value"] == pytest.approx(100 * 20 / 30)

    pains = run(cli, "pain-points", "--journey", "support", "--min-n", "10", "--format", "csv").splitlines()
    assert pains[0].startswith("touchpoint_key,stage_key,n,negative") and pains[1].startswith("agent,resolve,30,10,")

    compare = json.loads(
        run(cli, "compare", "csat", "--source", "customer", "--key", "tier", "--min-n", "5", "--format", "json")
    )
    params = {"metric": "csat", "variant_source": "customer", "variant_key": "tier", "min_n": 5}
    assert compare == admin_api.get("/api/v1/analyses/compare", params=params).json()

    drivers = run(
        cli,
        "drivers",
        "likelihood",
        "--driver",
        "price",
        "--driver",
        "support",
        "--driver",
        "quality",
        "--bootstrap",
        "20",
    )
    assert "Key drivers of likelihood" in drivers and "support" in drivers and "quadrant" in drivers

    saved = run(cli, "target", "csat", "90", "--stage", "resolve", "--journey", "support")
    assert "Target csat = 90 at stage resolve (support)" in saved
    run(cli, "target", "csat", "50", "--touchpoint", "phone")  # nothing rated there
    run(cli, "target", "csat", "30", "--touchpoint", "agent")
    gaps = json.loads(run(cli, "gaps", "--journey", "support", "--min-n", "10", "--format", "json"))["items"]
    assert [(g["key"], g["status"]) for g in gaps] == [
        ("resolve", "below"),
        ("agent", "above"),
        ("phone", "not_enough_data"),
    ]
    assert gaps[0]["perceived"] == pytest.approx(100 * 20 / 30) and gaps[0]["gap_upper"] < 0 < gaps[1]["gap_lower"]


BAD_INPUT = [
    (["funnel", "--journey", "nope"], "No journey 'nope'; journeys: support"),
    (["stages", "--journey", "support", "--format", "xml"], "Unknown format 'xml'"),
    (["stages", "--journey", "support", "--from", "June"], "--from: 'June' is not a date"),
    (["compare", "nps", "--source", "crm", "--key", "tier"], "variant_source"),
    (["drivers", "likelihood", "--driver", "likelihood"], "cannot also be a driver"),
    (
        ["target", "csat", "90", "--touchpoint", "phone", "--stage", "resolve"],
        "exactly one of --touchpoint or --stage",
    ),
    (["target", "csat", "90", "--stage", "resolve"], "--stage needs --journey"),
    (["target", "csat", "190", "--touchpoint", "phone"], "between 0 and 100"),
    (["target", "csat", "90", "--touchpoint", "fax"], "No touchpoint 'fax'"),
]


def test_cli_bad_input_is_one_readable_line(cli: CliRunner) -> None:
    for args, needle in BAD_INPUT:
        result = cli.invoke(app, ["analyze", *args, "--workspace", "acme"])
        assert result.exit_code == 2, (args, result.output)
        assert needle in result.output and "Traceback" not in result.output, (args, result.output)
