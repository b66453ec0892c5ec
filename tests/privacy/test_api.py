from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from cem.db.session import Database
from tests.conftest import PASSWORD
from tests.privacy.conftest import ANN, JOANN, People, traces


def test_export_over_api(admin_api: TestClient, people: People) -> None:
    r = admin_api.post("/api/v1/privacy/export", json={"email": ANN})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["found"] is True
    assert [c["email"] for c in body["tables"]["customer"]] == [ANN]
    assert [u["email"] for u in body["tables"]["app_user"]] == [ANN]
    audit = admin_api.get("/api/v1/audit", params={"action": "privacy.export"}).json()
    assert len(audit) == 1 and ANN not in str(audit)


def test_privacy_needs_the_privacy_permission(api: Callable[[str], TestClient], people: People) -> None:
    for role in ("viewer", "agent", "analyst"):
        for path in ("/api/v1/privacy/export", "/api/v1/privacy/erase"):
            r = api(role).post(path, json={"email": ANN, "confirm": True})
            assert r.status_code == 403, (role, path)
            assert r.json()["error"] == "forbidden"
    assert traces(people.workspace.db, ANN)


def test_erase_requires_confirmation_and_a_valid_email(admin_api: TestClient, db: Database, people: People) -> None:
    before = traces(db, ANN)
    for body, loc in (
        ({"email": ANN}, ["confirm"]),
        ({"email": ANN, "confirm": False}, ["confirm"]),
        ({"email": "not-an-email", "confirm": True}, ["email"]),
        ({"email": ANN, "confirm": True, "cascade": "all"}, ["cascade"]),
    ):
        r = admin_api.post("/api/v1/privacy/erase", json=body)
        assert r.status_code == 422, body
        assert r.json()["errors"][0]["loc"] == loc
    assert "confirm" in admin_api.post("/api/v1/privacy/erase", json={"email": ANN}).json()["detail"]
    assert traces(db, ANN) == before


def test_erase_over_api(admin_api: TestClient, db: Database, people: People) -> None:
    r = admin_api.post("/api/v1/privacy/erase", json={"email": ANN.upper(), "confirm": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["deleted"]["customer"] == 1
    assert body["total"] == sum(body["deleted"].values()) + sum(body["anonymised"].values())
    emails = [c["email"] for c in admin_api.get("/api/v1/customers").json()["items"]]
    assert emails == [JOANN]
    assert admin_api.get("/api/v1/feedback", params={"q": "zebrafish"}).json()["items"] == []
    assert len(admin_api.get("/api/v1/feedback", params={"q": "kangaroo"}).json()["items"]) == 1
    (entry,) = admin_api.get("/api/v1/audit", params={"action": "privacy.erase"}).json()
    assert entry["actor_type"] == "token"
    assert entry["details"]["deleted"]["customer"] == 1
    assert traces(db, ANN) == {}
    # Ann's own token died with her account.
    r = TestClient(admin_api.app).get("/api/v1/me", headers={"Authorization": f"Bearer {people.ann_token}"})
    assert r.status_code == 401


def test_erasing_yourself_is_refused(client: TestClient, people: People) -> None:
    login = client.post("/login", data={"email": "admin@acme.example", "password": PASSWORD}, follow_redirects=False)
    assert login.status_code == 303
    csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', client.get("/").text)
    assert csrf is not None
    r = client.post(
        "/api/v1/privacy/erase",
        json={"email": "admin@acme.example", "confirm": True},
        headers={"X-CSRF-Token": csrf.group(1)},
    )
    assert r.status_code == 409
    assert "your own account" in r.json()["detail"]
    assert traces(people.workspace.db, "admin@acme.example")
