"""Management API: roles, validation of mappings, secrets shown once, audit, bad inputs leave data untouched."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cem.auth.security import digest
from cem.db.session import Database
from cem.sources import signing
from cem.sources.models import InboundSource
from tests.sources.conftest import REVIEW_MAPPING

NEW = {"key": "trustpilot", "name": "Trustpilot", "source_type": "review", "mapping": REVIEW_MAPPING}


def test_create_returns_secret_once_and_stores_only_digest_and_ciphertext(
    admin_api: TestClient, db: Database, settings: Any
) -> None:
    r = admin_api.post("/api/v1/sources", json=NEW)
    assert r.status_code == 201, r.text
    created = r.json()
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    assert created["inbound_url"] == "http://testserver/api/v1/hooks/acme/trustpilot"
    assert created["mapping"]["fields"][0] == REVIEW_MAPPING["fields"][0]
    shown = admin_api.get(f"/api/v1/sources/{created['id']}").json()
    assert "secret" not in shown and "secret_hash" not in shown
    listed = admin_api.get("/api/v1/sources").json()
    assert [s["key"] for s in listed] == ["trustpilot"]
    assert "secret" not in listed[0]
    with db.unit_of_work(readonly=True) as session:
        row = session.scalars(select(InboundSource)).one()
    assert row.secret_hash == digest(secret)
    assert secret not in row.secret_encrypted
    assert signing.decrypt_secret(row.secret_encrypted, secret_key=settings.secret_key) == secret
    assert signing.decrypt_secret(row.secret_encrypted, secret_key="another-key") is None


@pytest.mark.parametrize(("role", "status"), [("viewer", 403), ("agent", 403), ("analyst", 201), ("admin", 201)])
def test_only_source_managers_create(api: Callable[..., TestClient], role: str, status: int) -> None:
    client = api(role)
    r = client.post("/api/v1/sources", json=NEW)
    assert r.status_code == status, r.text
    if status == 403:
        assert r.json()["error"] == "forbidden"
        assert client.get("/api/v1/sources").status_code == 403
        assert api("admin").get("/api/v1/sources").json() == []


def test_anonymous_is_401(client: TestClient, workspace: Any) -> None:
    assert client.get("/api/v1/sources").status_code == 401
    assert client.post("/api/v1/sources", json=NEW).json()["error"] == "unauthorized"


def _mapping(**changes: Any) -> dict[str, Any]:
    return {**REVIEW_MAPPING, **changes}


BAD_MAPPINGS = [
    (_mapping(submission_id="review..id"), ["mapping", "submission_id"], "empty step"),
    (_mapping(language="review.\\x"), ["mapping", "language"], "backslash"),
    (_mapping(fields=[]), ["mapping", "fields"], "at least 1"),
    (
        _mapping(fields=[{"path": "a", "field_id": "x", "field_type": "stars"}]),
        ["mapping", "fields", 0, "field_type"],
        "nps",
    ),
    (
        _mapping(fields=[{"path": "a", "field_id": "x", "field_type": "text"}] * 2),
        ["mapping"],
        "repeated: x",
    ),
    (_mapping(touchpoint="web", touchpoint_path="page"), ["mapping", "touchpoint"], "not both"),
    (_mapping(touchpoint_value="web", touchpoint="web"), ["mapping", "touchpoint_value"], "not both"),
    (_mapping(channel="review.via", channel_value="web"), ["mapping", "channel_value"], "not both"),
    (_mapping(team="review.group", team_value="care"), ["mapping", "team_value"], "not both"),
    (_mapping(collected_at_value="yesterday"), ["mapping", "collected_at_value"], "datetime"),
    (_mapping(channel_value="!!"), ["mapping", "channel_value"], "needs a letter or digit"),
    (_mapping(row_key=["review.title"]), ["mapping", "row_key"], "give submission_id or row_key, not both"),
    (_mapping(submission_id=None, row_key=[]), ["mapping", "row_key"], "at least one"),
    (_mapping(submission_id=None, row_key="everything"), ["mapping", "row_key"], '"content"'),
    (_mapping(submission_id=None, row_key=["review.id", "a..b"]), ["mapping", "row_key", "names", 1], "empty step"),
    (_mapping(touchpoint="not a key!"), ["mapping", "touchpoint"], "pattern"),
    (_mapping(extra_thing="x"), ["mapping", "extra_thing"], "Extra inputs"),
    ({k: v for k, v in REVIEW_MAPPING.items() if k != "submission_id"}, ["mapping"], "give submission_id"),
]


@pytest.mark.parametrize(("mapping", "loc", "msg"), BAD_MAPPINGS)
def test_invalid_mappings_are_422_with_location(
    admin_api: TestClient, mapping: dict[str, Any], loc: list[Any], msg: str
) -> None:
    r = admin_api.post("/api/v1/sources", json={**NEW, "mapping": mapping})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "validation_error"
    assert any(e["loc"] == loc and msg in e["msg"] for e in body["errors"]), body["errors"]
    assert admin_api.get("/api/v1/sources").json() == []


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"key": "Trust Pilot"}, ["key"]),
        ({"key": ""}, ["key"]),
        ({"source_type": "csv"}, ["source_type"]),
        ({"name": "  "}, ["name"]),
    ],
)
def test_invalid_source_fields(admin_api: TestClient, changes: dict[str, Any], loc: list[str]) -> None:
    r = admin_api.post("/api/v1/sources", json={**NEW, **changes})
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == loc


def test_duplicate_key_is_409(admin_api: TestClient) -> None:
    assert admin_api.post("/api/v1/sources", json=NEW).status_code == 201
    r = admin_api.post("/api/v1/sources", json={**NEW, "name": "Other"})
    assert r.status_code == 409
    assert "already exists" in r.json()["detail"]
    assert [s["name"] for s in admin_api.get("/api/v1/sources").json()] == ["Trustpilot"]


def test_patch_and_its_bad_inputs(admin_api: TestClient) -> None:
    source = admin_api.post("/api/v1/sources", json=NEW).json()
    url = f"/api/v1/sources/{source['id']}"
    new_mapping = _mapping(language=None, touchpoint="web")
    r = admin_api.patch(url, json={"name": "Trustpilot EU", "is_active": False, "mapping": new_mapping})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Trustpilot EU"
    assert r.json()["is_active"] is False
    assert r.json()["mapping"]["touchpoint"] == "web"
    assert "language" not in r.json()["mapping"]
    before = admin_api.get(url).json()
    for body, status in [
        ({"key": "other"}, 422),
        ({"source_type": "ticket"}, 422),
        ({"mapping": {"fields": []}}, 422),
        ({"name": ""}, 422),
        ({"nonsense": 1}, 422),
    ]:
        r = admin_api.patch(url, json=body)
        assert r.status_code == status, (body, r.text)
    assert "cannot change" in admin_api.patch(url, json={"key": "other"}).json()["detail"]
    assert admin_api.get(url).json() == before
    assert admin_api.patch("/api/v1/sources/999999", json={"name": "x"}).status_code == 404


def test_delete_and_rotate_and_audit(admin_api: TestClient) -> None:
    source = admin_api.post("/api/v1/sources", json=NEW).json()
    url = f"/api/v1/sources/{source['id']}"
    rotated = admin_api.post(f"{url}/rotate-secret")
    assert rotated.status_code == 200
    assert rotated.json()["secret"] != source["secret"]
    admin_api.patch(url, json={"name": "Renamed"})
    assert admin_api.delete(url).status_code == 204
    assert admin_api.get(url).status_code == 404
    assert admin_api.delete(url).status_code == 404
    assert admin_api.post(f"{url}/rotate-secret").status_code == 404
    actions = [e["action"] for e in admin_api.get("/api/v1/audit").json() if e["action"].startswith("source.")]
    assert actions == ["source.delete", "source.update", "source.rotate_secret", "source.create"]
    update = next(e for e in admin_api.get("/api/v1/audit", params={"action": "source.update"}).json())
    assert update["details"]["changed"] == ["name"]
    assert update["actor_type"] == "token"


def test_sources_are_per_workspace(admin_api: TestClient, db: Database) -> None:
    from cem.admin import service as admin_service
    from cem.auth.principal import system_principal
    from cem.sources import service
    from cem.sources.schemas import SourceCreate

    with db.unit_of_work() as session:
        other = admin_service.ensure_workspace(session, slug="globex", name="Globex")
        issued = service.create_source(
            session, actor=system_principal(other.id), source_in=SourceCreate.model_validate(NEW), secret_key="k"
        )
        other_id = issued.source.id
    assert admin_api.get("/api/v1/sources").json() == []
    assert admin_api.get(f"/api/v1/sources/{other_id}").status_code == 404
    assert admin_api.delete(f"/api/v1/sources/{other_id}").status_code == 404
    # The same key is free in another workspace.
    assert admin_api.post("/api/v1/sources", json=NEW).status_code == 201


def test_public_route_constant_matches_the_app(app: Any) -> None:
    from cem.sources.api import PUBLIC_ROUTES

    paths = app.openapi()["paths"]
    for method, path in PUBLIC_ROUTES:
        assert method.lower() in paths[path]
