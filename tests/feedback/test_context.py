"""The API's per-record context: channel (normalised), agent and team stored, filtered, exported and grouped."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient

TICKET = {
    "source_type": "ticket",
    "source_name": "helpdesk",
    "submission_id": "T-1",
    "customer": {"external_id": "c1", "email": "c1@example.com"},
    "field_id": "csat",
    "field_type": "csat",
    "value": 4,
    "channel": " PHONE ",
    "agent": "maria.s",
    "team": "Billing",
}


def _post(client: TestClient, records: list[dict[str, Any]]) -> None:
    r = client.post("/api/v1/feedback/bulk", json=records)
    assert r.status_code == 200, r.text


def test_api_record_keeps_channel_agent_and_team(admin_api: TestClient) -> None:
    _post(
        admin_api,
        [
            TICKET,
            {**TICKET, "submission_id": "T-2", "channel": "Chat", "agent": "li.w", "value": 2},
            {**TICKET, "submission_id": "T-3", "channel": None, "agent": None, "team": None, "value": 5},
        ],
    )
    items = {r["submission_id"]: r for r in admin_api.get("/api/v1/feedback").json()["items"]}
    assert {sub: (r["channel"], r["agent"], r["team"]) for sub, r in items.items()} == {
        "T-1": ("phone", "maria.s", "Billing"),
        "T-2": ("chat", "li.w", "Billing"),
        "T-3": (None, None, None),
    }
    # The explorer filter and the analytics dimension agree: a record without a channel has its source type.
    for channel, expected in (("Phone", {"T-1"}), ("ticket", {"T-3"}), ("chat", {"T-2"})):
        found = admin_api.get("/api/v1/feedback", params={"channel": channel}).json()["items"]
        assert {r["submission_id"] for r in found} == expected, channel
    by_agent = admin_api.get("/api/v1/feedback", params={"agent": "li.w", "team": "Billing"}).json()["items"]
    assert [r["submission_id"] for r in by_agent] == ["T-2"]
    metric = admin_api.get("/api/v1/metrics", params={"metric": "csat", "group_by": ["team", "channel"], "min_n": 1})
    cells = {(row["segment"]["team"], row["segment"]["channel"]): row["n"] for row in metric.json()["rows"]}
    assert cells == {("Billing", "phone"): 1, ("Billing", "chat"): 1, (None, "ticket"): 1}


def test_export_csv_and_privacy_export_include_the_context(admin_api: TestClient) -> None:
    _post(admin_api, [TICKET])
    text = admin_api.get("/api/v1/feedback/export.csv").text
    (row,) = csv.DictReader(io.StringIO(text))
    assert (row["channel"], row["agent"], row["team"]) == ("phone", "maria.s", "Billing")
    person = admin_api.post("/api/v1/privacy/export", json={"email": "c1@example.com"}).json()
    (record,) = person["tables"]["feedback_record"]
    assert (record["channel"], record["agent"], record["team"]) == ("phone", "maria.s", "Billing")


def test_bad_context_is_a_located_error_and_stores_nothing(admin_api: TestClient) -> None:
    for changes, loc in (
        ({"channel": "???"}, [1, "channel"]),
        ({"channel": "x" * 65}, [1, "channel"]),
        ({"agent": "a" * 201}, [1, "agent"]),
        ({"team": ""}, [1, "team"]),
        ({"agent": 7}, [1, "agent"]),
    ):
        r = admin_api.post("/api/v1/feedback/bulk", json=[TICKET, {**TICKET, "submission_id": "T-9", **changes}])
        assert r.status_code == 422, (changes, r.text)
        assert r.json()["errors"][0]["loc"] == loc, (changes, r.json())
    assert admin_api.get("/api/v1/feedback").json()["items"] == []
    bad_filter = admin_api.get("/api/v1/feedback", params={"channel": "--"})
    assert bad_filter.status_code == 422 and bad_filter.json()["errors"][0]["loc"][-1] == "channel"
