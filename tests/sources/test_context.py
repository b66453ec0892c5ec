"""Webhook context (channel, agent, team, language, collected_at from a JSON path or a constant) and row keys for
payloads without an id, over real HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from fastapi.testclient import TestClient

from cem.feedback.row_keys import PREFIX
from tests.sources.conftest import Source
from tests.sources.test_inbound import _ticket, feedback, post

TICKETS: dict[str, Any] = {
    "items_path": "tickets",
    "submission_id": "id",
    "collected_at": "updated_at",
    "channel": "via.channel",
    "agent": "assignee_id",
    "team_value": "Tier 2",
    "language_value": "en",
    "fields": [
        {"path": "satisfaction_rating.score", "field_id": "csat", "field_type": "csat"},
        {"path": "satisfaction_rating.comment", "field_id": "comment", "field_type": "text"},
    ],
}


def _assigned(ticket_id: int, channel: str, assignee: int | None) -> dict[str, Any]:
    ticket = _ticket(ticket_id, 4, "ok")
    ticket["via"] = {"channel": channel}
    ticket["assignee_id"] = assignee
    return ticket


def test_ticket_channel_path_and_team_constant(
    http: httpx.Client, make_source: Callable[..., Source], admin_api: TestClient
) -> None:
    source = make_source("zendesk", TICKETS, "ticket")
    payload = {"tickets": [_assigned(1, "Email", 361), _assigned(2, "web", 362), _assigned(3, "API", None)]}
    r = post(http, source, payload)
    assert r.status_code == 200, r.text
    rows = {(row["submission_id"], row["field_id"]): row for row in feedback(admin_api)}
    assert len(rows) == 6
    context = {sub: (row["channel"], row["agent"], row["team"], row["language"]) for (sub, _f), row in rows.items()}
    assert context == {
        "1": ("email", "361", "Tier 2", "en"),  # a numeric assignee id is stored as text
        "2": ("web", "362", "Tier 2", "en"),
        "3": ("api", None, "Tier 2", "en"),
    }
    groups = admin_api.get("/api/v1/metrics", params={"metric": "csat", "group_by": "channel", "min_n": 1})
    assert {row["segment"]["channel"]: row["n"] for row in groups.json()["rows"]} == {"email": 1, "web": 1, "api": 1}


def test_constants_for_every_record(
    http: httpx.Client, make_source: Callable[..., Source], admin_api: TestClient
) -> None:
    mapping = {
        "submission_id": "id",
        "channel_value": "Chat",
        "agent_value": "bot",
        "collected_at_value": "2024-07-01T12:00:00Z",
        "touchpoint_value": None,
        "fields": [{"path": "text", "field_id": "text", "field_type": "text"}],
    }
    source = make_source("chat", mapping, "chat")
    assert post(http, source, {"id": "c1", "text": "hi"}).status_code == 200
    (row,) = feedback(admin_api)
    assert (row["channel"], row["agent"], row["team"]) == ("chat", "bot", None)
    assert row["collected_at"].startswith("2024-07-01T12:00:00")


def test_bad_context_values_are_422_naming_the_path(
    http: httpx.Client, make_source: Callable[..., Source], admin_api: TestClient
) -> None:
    source = make_source("zendesk", TICKETS, "ticket")
    bad_channel = _assigned(2, "...", 1)
    bad_agent = _assigned(3, "web", 1)
    bad_agent["assignee_id"] = {"id": 7}
    r = post(http, source, {"tickets": [_assigned(1, "web", 1), bad_channel, bad_agent]})
    assert r.status_code == 422, r.text
    problems = {(e["record"], e["path"]) for e in r.json()["errors"]}
    assert problems == {(1, "via.channel"), (2, "assignee_id")}
    assert feedback(admin_api) == []


def test_row_key_paths_make_resends_idempotent(
    http: httpx.Client, make_source: Callable[..., Source], admin_api: TestClient
) -> None:
    mapping = {
        "row_key": ["author.name", "date"],
        "fields": [
            {"path": "stars", "field_id": "stars", "field_type": "rating"},
            {"path": "body", "field_id": "body", "field_type": "text"},
        ],
    }
    source = make_source("reviews", mapping)
    review = {"author": {"name": "Ana"}, "date": "2024-05-01", "stars": 4, "body": "Good"}
    assert post(http, source, review).json() == {"records": 1, "accepted": 2, "created": 2, "updated": 0}
    edited = {**review, "stars": 2, "body": "Changed my mind"}
    assert post(http, source, edited).json() == {"records": 1, "accepted": 2, "created": 0, "updated": 2}
    rows = feedback(admin_api)
    assert {row["submission_id"] for row in rows} == {rows[0]["submission_id"]}
    assert rows[0]["submission_id"].startswith(PREFIX)
    # no key value at all: nothing identifies the record
    r = post(http, source, {"stars": 5})
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == [0, "row_key"]
    assert len(feedback(admin_api)) == 2


def test_content_row_key_hashes_the_canonical_record(
    http: httpx.Client, make_source: Callable[..., Source], admin_api: TestClient
) -> None:
    mapping = {"row_key": "content", "fields": [{"path": "text", "field_id": "text", "field_type": "text"}]}
    source = make_source("tweets", mapping, "social")
    tweet = {"user": "@ana", "text": "Late again", "at": "2024-05-01T10:00:00Z"}
    reordered = {"at": tweet["at"], "text": tweet["text"], "user": tweet["user"]}
    assert post(http, source, tweet).json()["created"] == 1
    assert post(http, source, reordered).json() == {"records": 1, "accepted": 1, "created": 0, "updated": 1}
    assert post(http, source, {**tweet, "text": "Late again!"}).json()["created"] == 1
    assert len(feedback(admin_api)) == 2
