"""Erasure and export by external id or customer id (API and admin page), and the mentions report."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select, text

from cem.customers.models import Customer
from cem.db.session import Database
from tests.privacy.conftest import fts_hits
from tests.test_roles_matrix import login

TWEETER = {"external_id": "twitter:jetsetjane", "name": "Jane Q Public", "attributes": {"handle": "jetsetjane"}}


def _seed(api: TestClient) -> None:
    """A customer known only by an external id (the demo's tweets), and a ticket of someone else naming her."""
    records = [
        {
            "source_type": "social",
            "source_name": "twitter",
            "submission_id": "t-1",
            "customer": TWEETER,
            "field_id": "text",
            "field_type": "text",
            "value": "my luggage went to xylocarpa instead",
        },
        {
            "source_type": "ticket",
            "source_name": "desk",
            "submission_id": "k-1",
            "customer": {"external_id": "crm:7", "name": "Bo Berg"},
            "field_id": "body",
            "field_type": "text",
            "value": "Spoke to Jane Q Public about it; @jetsetjane said thanks. Janet Publicity is unrelated.",
        },
    ]
    assert api.post("/api/v1/feedback/bulk", json=records).status_code == 200


def _ticket(db: Database) -> str:
    with db.unit_of_work(readonly=True) as session:
        return str(session.execute(text("SELECT value_text FROM feedback_record WHERE field_id = 'body'")).scalar_one())


def test_export_and_erase_by_external_id_over_api(admin_api: TestClient, db: Database) -> None:
    _seed(admin_api)
    body = admin_api.post("/api/v1/privacy/export", json={"external_id": "twitter:jetsetjane"}).json()
    assert body["found"] is True and body["email"] is None
    assert body["identifier"] == {"kind": "external_id", "value": "twitter:jetsetjane"}
    assert [c["name"] for c in body["tables"]["customer"]] == ["Jane Q Public"]

    r = admin_api.post("/api/v1/privacy/erase", json={"external_id": "twitter:jetsetjane", "confirm": True})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["deleted"]["customer"] == 1 and report["deleted"]["feedback_record"] == 1
    (mention,) = report["mentions"]
    assert mention["kinds"] == ["handle", "name"] and report["redacted"] == 0
    assert (
        "Jane Q" not in mention["excerpt"]
        and "jetsetjane" not in mention["excerpt"]
        and "[redacted]" in mention["excerpt"]
    )
    assert "Jane Q Public" in _ticket(db)  # listed, not changed without redact_mentions
    with db.unit_of_work(readonly=True) as session:
        assert fts_hits(session, "xylocarpa") == 0


def test_erase_by_customer_id_redacts_mentions(admin_api: TestClient, db: Database) -> None:
    _seed(admin_api)
    with db.unit_of_work(readonly=True) as session:
        customer_id = session.scalars(select(Customer.id).where(Customer.external_id == TWEETER["external_id"])).one()
    r = admin_api.post(
        "/api/v1/privacy/erase", json={"customer_id": customer_id, "confirm": True, "redact_mentions": True}
    )
    assert r.status_code == 200, r.text
    assert r.json()["redacted"] == 1
    assert _ticket(db) == "Spoke to [redacted] about it; [redacted] said thanks. Janet Publicity is unrelated."
    with db.unit_of_work(readonly=True) as session:
        assert fts_hits(session, "jetsetjane") == 0 and fts_hits(session, "Janet") == 1


def test_bad_identifiers_are_refused_in_the_error_shape(admin_api: TestClient) -> None:
    _seed(admin_api)
    for body in (
        {"confirm": True},
        {"email": "a@b.example", "external_id": "x", "confirm": True},
        {"customer_id": 2**63, "confirm": True},
        {"customer_id": 0, "confirm": True},
    ):
        r = admin_api.post("/api/v1/privacy/erase", json=body)
        assert r.status_code == 422, body
        assert set(r.json()) >= {"error", "detail", "status", "errors"}
    r = admin_api.post("/api/v1/privacy/erase", json={"external_id": "twitter:nobody", "confirm": True})
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = admin_api.post("/api/v1/privacy/erase", json={"customer_id": 999999, "confirm": True})
    assert r.status_code == 404


def test_admin_page_previews_then_erases(client: TestClient, admin_api: TestClient, db: Database) -> None:
    _seed(admin_api)
    csrf = login(client, "admin@acme.example")
    assert "Erase a person" in client.get("/admin/privacy").text
    form = {"csrf_token": csrf, "kind": "external_id", "value": "twitter:jetsetjane"}
    preview = client.post("/admin/privacy/preview", data=form)
    assert preview.status_code == 200
    assert 'data-testid="erasure-preview"' in preview.text and "feedback_record" in preview.text
    assert "handle, name" in preview.text and "Spoke to [redacted]" in preview.text
    with db.unit_of_work(readonly=True) as session:  # nothing changed yet
        assert session.scalar(select(Customer.id).where(Customer.external_id == "twitter:jetsetjane")) is not None

    unconfirmed = client.post("/admin/privacy/erase", data=form)
    assert unconfirmed.status_code == 422 and "cannot be undone" in unconfirmed.text
    done = client.post("/admin/privacy/erase", data={**form, "confirm": "yes", "redact_mentions": "yes"})
    assert done.status_code == 200 and 'data-testid="erasure-report"' in done.text
    assert "Mentions replaced in 1 record(s)" in done.text
    assert _ticket(db).startswith("Spoke to [redacted]")
    with db.unit_of_work(readonly=True) as session:
        assert session.scalar(select(Customer.id).where(Customer.external_id == "twitter:jetsetjane")) is None

    missing = client.post("/admin/privacy/preview", data={**form, "value": "twitter:jetsetjane"})
    assert missing.status_code == 404 and "Nobody with this identifier" in missing.text
    bad = client.post("/admin/privacy/preview", data={**form, "kind": "customer_id", "value": "abc"})
    assert bad.status_code == 422 and "whole number" in bad.text
