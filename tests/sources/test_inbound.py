"""The public inbound endpoint, exercised over real HTTP (uvicorn on loopback, httpx client)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.sources.conftest import REVIEW_MAPPING, Source

REVIEW: dict[str, Any] = {
    "event": "service-review-created",
    "review": {
        "id": "r-100",
        "createdAt": "2024-05-01T10:30:00Z",
        "stars": 2,
        "title": "Late parcel",
        "text": "Arrived a week late.",
        "language": "en",
        "tags": ["delivery"],
    },
    "consumer": {"id": "cons-9", "email": "Jane@Example.com", "displayName": "Jane", "countryCode": "PT"},
}


def post(http: httpx.Client, source: Source, payload: Any, **headers: str) -> httpx.Response:
    sent = {"content-type": "application/json", "x-cem-secret": source.secret, **headers}
    return http.post(source.path, content=json.dumps(payload).encode(), headers=sent)


def feedback(admin_api: TestClient) -> list[dict[str, Any]]:
    return admin_api.get("/api/v1/feedback", params={"limit": 500}).json()["items"]


def test_valid_secret_maps_nested_review(
    http: httpx.Client, make_source: Callable[..., Source], admin_api: TestClient
) -> None:
    source = make_source()
    r = post(http, source, REVIEW)
    assert r.status_code == 200, r.text
    assert r.json() == {"records": 1, "accepted": 2, "created": 2, "updated": 0}
    rows = {row["field_id"]: row for row in feedback(admin_api)}
    assert rows["stars"]["value_number"] == 2
    assert rows["text"]["value_text"] == "Arrived a week late."
    stars = rows["stars"]
    assert (stars["source_type"], stars["source_name"], stars["submission_id"]) == ("review", "reviews", "r-100")
    assert stars["collected_at"].startswith("2024-05-01T10:30:00")
    assert stars["language"] == "en"
    assert stars["metadata"] == {"title": "Late parcel", "tags": ["delivery"]}
    customer = admin_api.get(f"/api/v1/customers/{stars['customer_id']}").json()
    assert customer["external_id"] == "cons-9"
    assert customer["attributes"] == {"country": "PT"}


def test_resend_updates_never_duplicates(
    http: httpx.Client, make_source: Callable[..., Source], admin_api: TestClient
) -> None:
    source = make_source()
    assert post(http, source, REVIEW).json()["created"] == 2
    again = post(http, source, REVIEW)
    assert again.json() == {"records": 1, "accepted": 2, "created": 0, "updated": 2}
    edited = {**REVIEW, "review": {**REVIEW["review"], "stars": 5}}
    assert post(http, source, edited).json()["updated"] == 2
    rows = feedback(admin_api)
    assert len(rows) == 2
    assert next(r for r in rows if r["field_id"] == "stars")["value_number"] == 5


def test_wrong_or_missing_secret_is_401_and_stores_nothing(
    http: httpx.Client, make_source: Callable[..., Source], admin_api: TestClient
) -> None:
    source = make_source()
    wrong = post(http, source, REVIEW, **{"x-cem-secret": source.secret + "x"})
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "unauthorized"
    assert "X-CEM-Secret" in wrong.json()["detail"]
    missing = http.post(source.path, json=REVIEW)
    assert missing.status_code == 401
    assert set(missing.json()) == {"error", "detail", "status", "errors"}
    # A bearer token of an admin is not a source secret.
    token = admin_api.headers["authorization"]
    assert http.post(source.path, json=REVIEW, headers={"authorization": token}).status_code == 401
    assert feedback(admin_api) == []


def test_hmac_signature(http: httpx.Client, make_source: Callable[..., Source], admin_api: TestClient) -> None:
    source = make_source()
    body = json.dumps(REVIEW, indent=1).encode()
    signature = "sha256=" + hmac.new(source.secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"content-type": "application/json", "x-cem-signature": signature}
    ok = http.post(source.path, content=body, headers=headers)
    assert ok.status_code == 200, ok.text
    assert ok.json()["created"] == 2
    tampered = body.replace(b'"stars": 2', b'"stars": 5')
    bad = http.post(source.path, content=tampered, headers=headers)
    assert bad.status_code == 401
    assert "X-CEM-Signature does not match" in bad.json()["detail"]
    malformed = http.post(source.path, content=body, headers={**headers, "x-cem-signature": "md5=abc"})
    assert malformed.status_code == 401
    assert "sha256=" in malformed.json()["detail"]
    assert next(r for r in feedback(admin_api) if r["field_id"] == "stars")["value_number"] == 2


def test_unknown_source_and_workspace_are_404(http: httpx.Client, make_source: Callable[..., Source]) -> None:
    source = make_source()
    r = http.post("/api/v1/hooks/acme/nope", json=REVIEW, headers={"x-cem-secret": source.secret})
    assert r.status_code == 404
    assert r.json()["error"] == "not_found"
    r = http.post("/api/v1/hooks/ghost/reviews", json=REVIEW, headers={"x-cem-secret": source.secret})
    assert r.status_code == 404


def test_inactive_source_is_403_and_stores_nothing(
    http: httpx.Client, make_source: Callable[..., Source], admin_api: TestClient
) -> None:
    source = make_source()
    assert admin_api.patch(f"/api/v1/sources/{source.id}", json={"is_active": False}).status_code == 200
    r = post(http, source, REVIEW)
    assert r.status_code == 403
    assert "inactive" in r.json()["detail"]
    # The secret is checked first: a stranger learns nothing about the source's state.
    assert post(http, source, REVIEW, **{"x-cem-secret": "guess"}).status_code == 401
    assert feedback(admin_api) == []
    admin_api.patch(f"/api/v1/sources/{source.id}", json={"is_active": True})
    assert post(http, source, REVIEW).status_code == 200


def test_rotated_secret_replaces_the_old_one(
    http: httpx.Client, make_source: Callable[..., Source], admin_api: TestClient
) -> None:
    source = make_source()
    rotated = admin_api.post(f"/api/v1/sources/{source.id}/rotate-secret").json()
    assert rotated["secret"] != source.secret
    assert post(http, source, REVIEW).status_code == 401
    new = Source(id=source.id, key=source.key, secret=rotated["secret"], path=source.path)
    assert post(http, new, REVIEW).status_code == 200
    body = json.dumps(REVIEW).encode()
    signature = "sha256=" + hmac.new(new.secret.encode(), body, hashlib.sha256).hexdigest()
    signed = http.post(source.path, content=body, headers={"x-cem-signature": signature})
    assert signed.status_code == 200, signed.text


ZENDESK_MAPPING: dict[str, Any] = {
    "items_path": "tickets",
    "submission_id": "id",
    "collected_at": "updated_at",
    "customer": {"external_id": "requester.id", "email": "requester.email"},
    "touchpoint": "support-ticket",
    "metadata": {"channel": "via.channel", "first_comment": "comments.0.body", "last_tag": "tags.-1"},
    "fields": [
        {"path": "satisfaction_rating.score", "field_id": "csat", "field_type": "csat", "label": "CSAT"},
        {"path": "satisfaction_rating.comment", "field_id": "comment", "field_type": "text"},
        {"path": "custom_fields.0.value", "field_id": "reason", "field_type": "choice"},
    ],
}


def _ticket(ticket_id: int, score: Any, comment: str | None) -> dict[str, Any]:
    return {
        "id": ticket_id,
        "updated_at": "2024-06-02T08:00:00+02:00",
        "requester": {"id": 5000 + ticket_id, "email": f"user{ticket_id}@example.com"},
        "via": {"channel": "email"},
        "tags": ["vip", "refund"],
        "comments": [{"body": "My order is broken"}, {"body": "Thanks"}],
        "satisfaction_rating": {"score": score, "comment": comment},
        "custom_fields": [{"id": 1, "value": "Damaged item"}],
    }


def _touchpoint(admin_api: TestClient) -> int:
    journey = {
        "key": "support",
        "name": "Support",
        "stages": [
            {
                "key": "help",
                "name": "Help",
                "touchpoints": [{"key": "support-ticket", "name": "Ticket", "channel": "support"}],
            }
        ],
    }
    r = admin_api.post("/api/v1/journeys", json=journey)
    assert r.status_code == 201, r.text
    return int(r.json()["stages"][0]["touchpoints"][0]["id"])


def test_items_list_with_numeric_ids_indices_and_touchpoint(
    http: httpx.Client, make_source: Callable[..., Source], admin_api: TestClient
) -> None:
    touchpoint_id = _touchpoint(admin_api)
    source = make_source("zendesk", ZENDESK_MAPPING, "ticket")
    payload = {"count": 3, "tickets": [_ticket(1, 4, "Solved fast"), _ticket(2, 1, None), _ticket(3, None, None)]}
    r = post(http, source, payload)
    assert r.status_code == 200, r.text
    # Ticket 3 has no rating and no comment: only its reason is stored; a null comment is skipped.
    assert r.json() == {"records": 3, "accepted": 6, "created": 6, "updated": 0}
    rows = feedback(admin_api)
    by_key = {(row["submission_id"], row["field_id"]): row for row in rows}
    assert by_key[("1", "csat")]["value_number"] == 4
    assert by_key[("1", "comment")]["value_text"] == "Solved fast"
    assert by_key[("3", "reason")]["value_text"] == "Damaged item"
    assert ("2", "comment") not in by_key
    assert {row["touchpoint_id"] for row in rows} == {touchpoint_id}
    assert by_key[("1", "csat")]["metadata"] == {
        "channel": "email",
        "first_comment": "My order is broken",
        "last_tag": "refund",
    }
    assert by_key[("1", "csat")]["collected_at"].startswith("2024-06-02T06:00:00")
    customers = admin_api.get("/api/v1/customers").json()["items"]
    assert sorted(c["external_id"] for c in customers) == ["5001", "5002", "5003"]


def test_top_level_array_is_a_batch(
    http: httpx.Client, make_source: Callable[..., Source], admin_api: TestClient
) -> None:
    source = make_source()
    second = {**REVIEW, "review": {**REVIEW["review"], "id": "r-101", "text": None}}
    r = post(http, source, [REVIEW, second])
    assert r.json() == {"records": 2, "accepted": 3, "created": 3, "updated": 0}


def test_invalid_values_are_422_listing_each_problem_and_store_nothing(
    http: httpx.Client, make_source: Callable[..., Source], admin_api: TestClient
) -> None:
    mapping = {**REVIEW_MAPPING, "fields": [{"path": "review.score", "field_id": "nps", "field_type": "nps"}]}
    source = make_source("nps", mapping, "survey")
    good = {**REVIEW, "review": {**REVIEW["review"], "score": 9}}
    bad = {**REVIEW, "review": {**REVIEW["review"], "id": "r-2", "score": 11}}
    no_id = {"review": {"score": 5}, "consumer": REVIEW["consumer"]}
    bad_email = {
        **REVIEW,
        "review": {**REVIEW["review"], "id": "r-3", "score": 3},
        "consumer": {"email": "not-an-email"},
    }
    r = post(http, source, [good, bad, no_id, bad_email])
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "invalid_input"
    assert body["detail"].startswith("3 of 4 records could not be mapped; nothing was stored.")
    problems = {(e["record"], e["path"]) for e in body["errors"]}
    assert problems == {(1, "review.score"), (2, "review.id"), (3, "consumer.email")}
    nps = next(e for e in body["errors"] if e["record"] == 1)
    assert "between 0 and 10" in nps["msg"]
    assert feedback(admin_api) == []
    assert admin_api.get("/api/v1/customers").json()["items"] == []


def test_unknown_touchpoint_is_422(
    http: httpx.Client, make_source: Callable[..., Source], admin_api: TestClient
) -> None:
    mapping = {**REVIEW_MAPPING, "touchpoint_path": "review.page"}
    source = make_source("tp", mapping)
    r = post(http, source, {**REVIEW, "review": {**REVIEW["review"], "page": "checkout"}})
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"loc": [0, "touchpoint"], "record": 0, "path": "review.page", "msg": "no touchpoint has the key 'checkout'"}
    ]
    assert feedback(admin_api) == []
    assert admin_api.get("/api/v1/customers").json()["items"] == []


def test_wrong_shapes_are_422(http: httpx.Client, make_source: Callable[..., Source]) -> None:
    source = make_source("zendesk", ZENDESK_MAPPING, "ticket")
    no_items = post(http, source, {"count": 0})
    assert no_items.status_code == 422
    assert no_items.json()["errors"][0]["path"] == "tickets"
    empty = post(http, source, {"tickets": []})
    assert empty.status_code == 422
    assert "no records" in empty.json()["detail"]
    scalar = post(http, source, {"tickets": [1, "x"]})
    assert [e["msg"] for e in scalar.json()["errors"]] == ["a record must be a JSON object"] * 2
    nested = post(http, source, {"tickets": [{**_ticket(1, 4, "ok"), "satisfaction_rating": {"score": {"v": 1}}}]})
    assert nested.status_code == 422
    assert nested.json()["errors"][0]["path"] == "satisfaction_rating.score"


def test_injection_strings_are_stored_verbatim(
    http: httpx.Client, make_source: Callable[..., Source], admin_api: TestClient
) -> None:
    source = make_source()
    nasty = "'; DROP TABLE feedback_record; -- <script>alert(1)</script> {{7*7}} ${jndi:ldap://x} \u202e 😀"
    payload = {**REVIEW, "review": {**REVIEW["review"], "id": "r-'\"; --", "text": nasty, "title": "<b>t</b>"}}
    assert post(http, source, payload).status_code == 200
    row = next(r for r in feedback(admin_api) if r["field_id"] == "text")
    assert row["value_text"] == nasty
    assert row["submission_id"] == "r-'\"; --"
    assert row["metadata"]["title"] == "<b>t</b>"


def test_delivery_is_audited_as_webhook(
    http: httpx.Client, make_source: Callable[..., Source], admin_api: TestClient
) -> None:
    source = make_source()
    post(http, source, REVIEW)
    entries = admin_api.get("/api/v1/audit", params={"action": "feedback.ingest"}).json()
    assert len(entries) == 1
    assert entries[0]["actor_type"] == "webhook"
    assert entries[0]["actor_label"] == "webhook:reviews"
    assert entries[0]["details"] == {"accepted": 2, "created": 2, "updated": 0}


def test_bad_bodies(http: httpx.Client, make_source: Callable[..., Source], admin_api: TestClient) -> None:
    source = make_source()
    broken = http.post(source.path, content=b'{"review": ', headers={"x-cem-secret": source.secret})
    assert broken.status_code == 400
    assert "Malformed JSON" in broken.json()["detail"]
    form = http.post(source.path, content=b"a=1", headers={"x-cem-secret": source.secret, "content-type": "text/plain"})
    assert form.status_code == 415
    latin = http.post(source.path, content='{"x": "é"}'.encode("latin-1"), headers={"x-cem-secret": source.secret})
    assert latin.status_code == 400
    assert feedback(admin_api) == []


def test_body_and_batch_limits(small_live_url: str, make_source: Callable[..., Source], admin_api: TestClient) -> None:
    source = make_source()
    with httpx.Client(base_url=small_live_url, timeout=30) as small:
        big = {**REVIEW, "review": {**REVIEW["review"], "text": "x" * 5000}}
        too_big = post(small, source, big)
        assert too_big.status_code == 413
        assert too_big.json()["error"] == "payload_too_large"
        many = [{**REVIEW, "review": {**REVIEW["review"], "id": f"r{i}"}} for i in range(4)]
        too_many = post(small, source, many)
        assert too_many.status_code == 413
        assert "limit is 3" in too_many.json()["detail"]
    assert feedback(admin_api) == []


def test_later_fields_are_validated_too(
    http: httpx.Client, make_source: Callable[..., Source], admin_api: TestClient
) -> None:
    fields = [
        {"path": "review.text", "field_id": "text", "field_type": "text"},
        {"path": "review.score", "field_id": "nps", "field_type": "nps"},
        {"path": "review.when", "field_id": "when", "field_type": "date"},
    ]
    source = make_source("multi", {**REVIEW_MAPPING, "fields": fields}, "survey")
    payload = {**REVIEW, "review": {**REVIEW["review"], "score": 11, "when": "yesterday"}}
    r = post(http, source, payload)
    assert r.status_code == 422
    assert [(e["path"], e["msg"]) for e in r.json()["errors"]] == [
        ("review.score", "a nps value must be between 0 and 10"),
        ("review.when", "'yesterday' is not an ISO date (YYYY-MM-DD)"),
    ]
    assert feedback(admin_api) == []
    fixed = {**REVIEW, "review": {**REVIEW["review"], "score": "7", "when": "2024-05-02"}}
    assert post(http, source, fixed).json()["created"] == 3
    rows = {row["field_id"]: row for row in feedback(admin_api)}
    assert rows["nps"]["value_number"] == 7
    assert rows["when"]["value_date"] == "2024-05-02"
    assert rows["nps"]["customer_id"] == rows["text"]["customer_id"] is not None
