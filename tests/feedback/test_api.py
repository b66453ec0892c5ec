from __future__ import annotations

from fastapi.testclient import TestClient

RECORD = {
    "source_type": "review",
    "source_name": "shop",
    "submission_id": "s1",
    "customer": {"external_id": "c1", "email": "c1@example.com"},
    "field_id": "stars",
    "field_type": "rating",
    "value": 4,
}


def test_resend_updates_not_duplicates(admin_api: TestClient) -> None:
    assert admin_api.post("/api/v1/feedback", json=RECORD).json() == {
        "accepted": 1,
        "created": 1,
        "updated": 0,
    }
    again = admin_api.post("/api/v1/feedback", json={**RECORD, "value": 2, "customer": None}).json()
    assert again == {"accepted": 1, "created": 0, "updated": 1}
    items = admin_api.get("/api/v1/feedback").json()["items"]
    assert len(items) == 1
    assert items[0]["value_number"] == 2
    assert items[0]["customer_id"] is not None  # a re-send without customer keeps the link


def test_ndjson_bulk_and_fulltext(admin_api: TestClient) -> None:
    body = "\n".join(
        [
            '{"source_type":"review","source_name":"shop","submission_id":"a","field_id":"body","field_type":"text","value":"Entrega rápida, adorei"}',
            '{"source_type":"review","source_name":"shop","submission_id":"b","field_id":"body","field_type":"text","value":"Never again, refund please"}',
        ]
    )
    r = admin_api.post("/api/v1/feedback/bulk", content=body, headers={"content-type": "application/x-ndjson"})
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 2
    hits = admin_api.get("/api/v1/feedback", params={"q": "refund"}).json()["items"]
    assert [h["submission_id"] for h in hits] == ["b"]
    accent = admin_api.get("/api/v1/feedback", params={"q": "rapida"}).json()["items"]
    assert [h["submission_id"] for h in accent] == ["a"]


def test_bulk_with_one_bad_record_stores_nothing(admin_api: TestClient) -> None:
    bad = {**RECORD, "submission_id": "s2", "field_type": "nps", "value": 11}
    r = admin_api.post("/api/v1/feedback/bulk", json=[RECORD, bad])
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "validation_error"
    assert body["errors"][0]["loc"][0] == 1
    assert admin_api.get("/api/v1/feedback").json()["items"] == []


def test_malformed_json_is_400(admin_api: TestClient) -> None:
    r = admin_api.post("/api/v1/feedback", content="{bad", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"] == "malformed_json"
