"""Bad input on the JSON API: each gets a clear error in the one shape and leaves stored data untouched."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select

from cem.app import create_app
from cem.config import Settings
from cem.db.base import Base
from cem.db.session import Database
from tests.conftest import Workspace
from tests.test_error_shape import assert_shape

Snapshot = Callable[[], tuple[dict[str, int], str]]

FEEDBACK = {
    "source_type": "survey",
    "source_name": "nps-q1",
    "submission_id": "sub-1",
    "customer": {"external_id": "c1", "email": "c1@example.com"},
    "field_id": "score",
    "field_type": "nps",
    "value": 9,
}
EVENT = {"customer": {"external_id": "c1"}, "type": "login", "occurred_at": "2024-05-01T10:00:00Z"}
INJECTIONS = [
    "'; DROP TABLE customer; --",
    'Robert"); DROP TABLE feedback_record;--',
    "' OR '1'='1",
    "<script>alert('x')</script>",
    "<img src=x onerror=alert(1)>",
    "{{ 7*7 }} ${7*7} %s %(x)s",
    "\\x00 \u202e ünïcødé 🙂 %_",
]


@pytest.fixture
def snapshot(db: Database) -> Snapshot:
    """Row counts per table and a checksum of every row of every table."""

    def take() -> tuple[dict[str, int], str]:
        counts: dict[str, int] = {}
        digest = hashlib.sha256()
        with db.unit_of_work(readonly=True) as session:
            for table in Base.metadata.sorted_tables:
                rows = session.execute(select(table).order_by(*table.primary_key.columns)).all()
                counts[table.name] = len(rows)
                digest.update(json.dumps([list(r) for r in rows], default=str, sort_keys=True).encode())
        return counts, digest.hexdigest()

    return take


@pytest.fixture
def seeded(admin_api: TestClient, snapshot: Snapshot) -> tuple[dict[str, int], str]:
    """Some stored data, and its snapshot: rejected requests must leave it exactly so."""
    assert admin_api.post("/api/v1/feedback", json=FEEDBACK).status_code == 200
    assert admin_api.post("/api/v1/events", json=EVENT).status_code == 200
    journey = {"key": "onb", "name": "Onboarding", "stages": [{"key": "s", "name": "S"}]}
    assert admin_api.post("/api/v1/journeys", json=journey).status_code == 201
    return snapshot()


def limited_client(settings: Settings, db: Database, workspace: Workspace, **limits: Any) -> Iterator[TestClient]:
    """The app with tighter limits, on the same database, authenticated as an admin token."""
    small = create_app(settings.model_copy(update=limits), db=db)
    with TestClient(small) as client:
        client.headers.update(workspace.headers("admin"))
        yield client


@pytest.fixture
def small_body(settings: Settings, db: Database, workspace: Workspace) -> Iterator[TestClient]:
    yield from limited_client(settings, db, workspace, max_body_bytes=2048)


@pytest.fixture
def small_batch(settings: Settings, db: Database, workspace: Workspace) -> Iterator[TestClient]:
    yield from limited_client(settings, db, workspace, max_bulk_records=3)


ENDPOINTS = [
    "/api/v1/feedback",
    "/api/v1/feedback/bulk",
    "/api/v1/customers",
    "/api/v1/customers/bulk",
    "/api/v1/events",
    "/api/v1/events/bulk",
    "/api/v1/journeys",
]


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("raw", [b"{", b'{"a": }', b"[1, 2", b"\xff\xfe", b"not json"])
def test_malformed_json(admin_api: TestClient, seeded: Any, snapshot: Snapshot, path: str, raw: bytes) -> None:
    r = admin_api.post(path, content=raw, headers={"content-type": "application/json"})
    body = assert_shape(r, 400)
    assert "JSON" in body["detail"] or "UTF-8" in body["detail"]
    assert snapshot() == seeded


WRONG_TYPES = [
    ("/api/v1/feedback", {**FEEDBACK, "value": "nine"}, "'nine' is not a number"),
    ("/api/v1/feedback", {**FEEDBACK, "value": 11}, "between 0 and 10"),
    ("/api/v1/feedback", {**FEEDBACK, "collected_at": "yesterday"}, "collected_at"),
    ("/api/v1/feedback", {**FEEDBACK, "source_type": "fax"}, "source_type"),
    ("/api/v1/feedback", {**FEEDBACK, "metadata": "x"}, "metadata"),
    ("/api/v1/customers", {"external_id": "c2", "attributes": ["a"]}, "attributes"),
    ("/api/v1/customers", {"external_id": 5}, "external_id"),
    ("/api/v1/customers", {"email": "not-an-email"}, "email"),
    ("/api/v1/events", {**EVENT, "occurred_at": "soon"}, "occurred_at"),
    ("/api/v1/events", {**EVENT, "value": "high"}, "value"),
    ("/api/v1/journeys", {"key": "k", "name": 123}, "name"),
    ("/api/v1/journeys", {"key": "has spaces", "name": "K"}, "key"),
    ("/api/v1/feedback", [FEEDBACK], None),
    ("/api/v1/customers", "c1", None),
]


@pytest.mark.parametrize(("path", "payload", "field"), WRONG_TYPES)
def test_wrong_types(
    admin_api: TestClient, seeded: Any, snapshot: Snapshot, path: str, payload: Any, field: str | None
) -> None:
    body = assert_shape(admin_api.post(path, json=payload), 422, code="validation_error")
    if field is not None:
        # The detail names the field (or, for cross-field checks, says what is wrong with the value).
        assert field in body["detail"]
        assert " " in field or any(field in e["loc"] for e in body["errors"])
    assert snapshot() == seeded


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/api/v1/feedback", {**FEEDBACK, "scroe": 1}),
        ("/api/v1/feedback/bulk", [FEEDBACK, {**FEEDBACK, "submission_id": "sub-2", "scroe": 1}]),
        ("/api/v1/customers", {"external_id": "c2", "nmae": "x"}),
        ("/api/v1/customers/bulk", [{"external_id": "c2", "nmae": "x"}]),
        ("/api/v1/events", {**EVENT, "kind": "x"}),
        ("/api/v1/events/bulk", [{**EVENT, "kind": "x"}]),
        ("/api/v1/journeys", {"key": "k", "name": "K", "colour": "red"}),
        ("/api/v1/feedback", {**FEEDBACK, "customer": {"external_id": "c9", "phone": "1"}}),
    ],
)
def test_unknown_fields(admin_api: TestClient, seeded: Any, snapshot: Snapshot, path: str, payload: Any) -> None:
    body = assert_shape(admin_api.post(path, json=payload), 422, code="validation_error")
    assert "not permitted" in body["detail"]
    assert snapshot() == seeded


@pytest.mark.parametrize("path", ["/api/v1/feedback", "/api/v1/customers/bulk", "/api/v1/events/bulk"])
def test_oversized_body_declared(small_body: TestClient, seeded: Any, snapshot: Snapshot, path: str) -> None:
    payload = json.dumps([{**FEEDBACK, "field_label": "x" * 3000}]).encode()
    r = small_body.post(path, content=payload, headers={"content-type": "application/json"})
    body = assert_shape(r, 413, code="payload_too_large")
    assert "0.00195312 MiB" in body["detail"] or "limit" in body["detail"]
    assert snapshot() == seeded


def test_oversized_body_streamed_without_length(small_body: TestClient, seeded: Any, snapshot: Snapshot) -> None:
    """A chunked body with no Content-Length is cut off once it passes the limit."""

    def chunks() -> Iterator[bytes]:
        yield b"["
        for i in range(50):
            yield json.dumps({**FEEDBACK, "submission_id": f"s{i}"}).encode() + b","
        yield json.dumps(FEEDBACK).encode() + b"]"

    r = small_body.post("/api/v1/feedback/bulk", content=chunks(), headers={"content-type": "application/json"})
    assert_shape(r, 413, code="payload_too_large")
    assert snapshot() == seeded


@pytest.mark.parametrize("path", ["/api/v1/feedback/bulk", "/api/v1/customers/bulk", "/api/v1/events/bulk"])
def test_too_many_records(small_batch: TestClient, seeded: Any, snapshot: Snapshot, path: str) -> None:
    item = {"feedback": FEEDBACK, "customers": {"external_id": "c1"}, "events": EVENT}[path.split("/")[3]]
    r = small_batch.post(path, json=[item] * 4)
    body = assert_shape(r, 413, code="payload_too_large")
    assert "limit is 3" in body["detail"]
    lines = "\n".join(json.dumps(item) for _ in range(4))
    r = small_batch.post(path, content=lines, headers={"content-type": "application/x-ndjson"})
    assert_shape(r, 413, code="payload_too_large")
    assert snapshot() == seeded


def test_empty_batch_is_rejected(admin_api: TestClient, seeded: Any, snapshot: Snapshot) -> None:
    body = assert_shape(admin_api.post("/api/v1/feedback/bulk", json=[]), 422, code="invalid_input")
    assert "no records" in body["detail"]
    assert snapshot() == seeded


def test_duplicate_submission_is_updated_not_duplicated(admin_api: TestClient, seeded: Any, snapshot: Snapshot) -> None:
    again = admin_api.post("/api/v1/feedback", json={**FEEDBACK, "value": 3}).json()
    assert again == {"accepted": 1, "created": 0, "updated": 1}
    counts, _ = snapshot()
    assert counts["feedback_record"] == seeded[0]["feedback_record"]
    (item,) = admin_api.get("/api/v1/feedback").json()["items"]
    assert item["value_number"] == 3


def test_duplicates_inside_one_batch_keep_the_last(admin_api: TestClient, seeded: Any, snapshot: Snapshot) -> None:
    batch = [{**FEEDBACK, "submission_id": "dup", "value": v} for v in (1, 5, 7)]
    assert admin_api.post("/api/v1/feedback/bulk", json=batch).json() == {"accepted": 3, "created": 1, "updated": 0}
    items = [i for i in admin_api.get("/api/v1/feedback").json()["items"] if i["submission_id"] == "dup"]
    assert [i["value_number"] for i in items] == [7]
    assert snapshot()[0]["feedback_record"] == seeded[0]["feedback_record"] + 1
    events = [{**EVENT, "external_id": "e-1", "value": v} for v in (1, 2)]
    assert admin_api.post("/api/v1/events/bulk", json=events).status_code == 200
    assert snapshot()[0]["event"] == seeded[0]["event"] + 1


@pytest.mark.parametrize(
    ("path", "payload", "loc"),
    [
        ("/api/v1/feedback", {**FEEDBACK, "customer": None, "customer_id": 999999}, [0, "customer_id"]),
        ("/api/v1/feedback", {**FEEDBACK, "touchpoint": "no-such-touchpoint"}, [0, "touchpoint"]),
        (
            "/api/v1/feedback/bulk",
            [FEEDBACK, {**FEEDBACK, "submission_id": "s2", "customer": None, "customer_id": 999999}],
            [1, "customer_id"],
        ),
        ("/api/v1/events", {**EVENT, "customer": None, "customer_id": 999999}, [0, "customer_id"]),
        ("/api/v1/events/bulk", [EVENT, EVENT, {**EVENT, "touchpoint": "ghost"}], [2, "touchpoint"]),
    ],
)
def test_unknown_references(
    admin_api: TestClient, seeded: Any, snapshot: Snapshot, path: str, payload: Any, loc: list[Any]
) -> None:
    body = assert_shape(admin_api.post(path, json=payload), 422, code="invalid_input")
    assert body["errors"][0]["loc"] == loc
    assert "Unknown" in body["detail"]
    assert snapshot() == seeded


@pytest.mark.parametrize("evil", INJECTIONS)
def test_injection_strings_are_stored_and_returned_verbatim(admin_api: TestClient, db: Database, evil: str) -> None:
    customer = {"external_id": evil, "email": "evil@example.com", "name": evil[:200], "attributes": {evil: evil}}
    created = admin_api.post("/api/v1/customers", json=customer)
    assert created.status_code == 200, created.text
    got = admin_api.get(f"/api/v1/customers/{created.json()['id']}").json()
    assert (got["external_id"], got["name"], got["attributes"]) == (evil, evil[:200], {evil: evil})
    record = {
        **FEEDBACK,
        "source_name": evil,
        "submission_id": evil,
        "field_id": evil,
        "field_label": evil,
        "field_type": "text",
        "value": evil,
        "metadata": {evil: [evil]},
        "customer": {"external_id": evil},
    }
    assert admin_api.post("/api/v1/feedback", json=record).status_code == 200
    (item,) = admin_api.get("/api/v1/feedback", params={"source_name": evil}).json()["items"]
    fields = ("source_name", "submission_id", "field_id", "field_label", "value_text")
    assert [item[f] for f in fields] == [evil] * 5
    assert item["metadata"] == {evil: [evil]}
    assert item["customer_id"] == got["id"]
    event = {**EVENT, "customer": {"external_id": evil}, "external_id": evil, "properties": {"note": evil}}
    assert admin_api.post("/api/v1/events", json=event).status_code == 200
    (stored_event,) = admin_api.get(f"/api/v1/customers/{got['id']}/events").json()
    assert (stored_event["external_id"], stored_event["properties"]) == (evil, {"note": evil})
    journey = {"key": "j1", "name": evil[:200], "description": evil}
    j = admin_api.post("/api/v1/journeys", json=journey).json()
    assert (j["name"], j["description"]) == (evil[:200], evil)
    # Searching with the string is just a search, too.
    assert admin_api.get("/api/v1/feedback", params={"q": evil}).status_code == 200
    assert admin_api.get("/api/v1/customers", params={"q": evil}).status_code == 200
    assert set(Base.metadata.tables) <= set(inspect(db.engine).get_table_names())
    counts = {
        t: len(admin_api.get(u).json()["items"]) for t, u in (("c", "/api/v1/customers"), ("f", "/api/v1/feedback"))
    }
    assert counts == {"c": 1, "f": 1}
