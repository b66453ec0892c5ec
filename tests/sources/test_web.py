"""The /sources pages: who sees what, forms with CSRF, the secret shown once, readable errors, escaping."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import PASSWORD, Workspace
from tests.sources.conftest import REVIEW_MAPPING


def login(workspace: Workspace, role: str) -> tuple[TestClient, str]:
    """A browser-like client logged in as `role`, and its CSRF token."""
    browser = TestClient(workspace.client.app)
    r = browser.post("/login", data={"email": f"{role}@acme.example", "password": PASSWORD})
    assert r.status_code == 200, r.text
    page = browser.get("/sources")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match is not None
    return browser, match.group(1)


def form(csrf: str, **fields: str) -> dict[str, str]:
    base = {"key": "shop", "name": "Shop reviews", "source_type": "review", "mapping": json.dumps(REVIEW_MAPPING)}
    return {**base, **fields, "csrf_token": csrf}


def sources(admin_api: TestClient) -> list[dict[str, Any]]:
    return admin_api.get("/api/v1/sources").json()


def test_create_shows_secret_once_with_url_and_curl(workspace: Workspace, admin_api: TestClient) -> None:
    browser, csrf = login(workspace, "analyst")
    empty = browser.get("/sources")
    assert "No sources yet." in empty.text
    assert '"submission_id": "review.id"' in empty.text.replace("&#34;", '"')  # the example mapping is prefilled
    r = browser.post("/sources", data=form(csrf))
    assert r.status_code == 201, r.text
    secret = re.search(r"export CEM_SOURCE_SECRET='(whsec_[^']+)'", r.text)
    assert secret is not None
    assert "http://testserver/api/v1/hooks/acme/shop" in r.text
    assert "X-CEM-Signature: sha256=$SIG" in r.text
    assert "--data-binary @payload.json" in r.text
    (created,) = sources(admin_api)
    detail = browser.get(f"/sources/{created['id']}")
    assert detail.status_code == 200
    assert secret.group(1) not in detail.text
    assert "http://testserver/api/v1/hooks/acme/shop" in detail.text
    listing = browser.get("/sources")
    assert f'href="/sources/{created["id"]}"' in listing.text


def test_example_payload_in_curl_is_accepted(workspace: Workspace, admin_api: TestClient) -> None:
    browser, csrf = login(workspace, "admin")
    page = browser.post("/sources", data=form(csrf)).text
    secret = re.search(r"export CEM_SOURCE_SECRET='(whsec_[^']+)'", page)
    payload = re.search(r"Example payload.*?<pre class=\"code\">(.*?)</pre>", page, re.S)
    assert secret is not None and payload is not None
    body = payload.group(1).replace("&#34;", '"').replace("&#39;", "'").replace("&amp;", "&")
    r = workspace.client.post(
        "/api/v1/hooks/acme/shop", content=body.encode(), headers={"x-cem-secret": secret.group(1)}
    )
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 2


def test_viewer_sees_list_but_cannot_manage(workspace: Workspace, admin_api: TestClient) -> None:
    admin_api.post(
        "/api/v1/sources", json={"key": "s1", "name": "S1", "source_type": "chat", "mapping": REVIEW_MAPPING}
    )
    browser, csrf = login(workspace, "viewer")
    page = browser.get("/sources")
    assert page.status_code == 200
    assert "S1" in page.text
    assert "Create source" not in page.text
    source_id = sources(admin_api)[0]["id"]
    detail = browser.get(f"/sources/{source_id}")
    assert "Rotate secret" not in detail.text
    assert browser.post("/sources", data=form(csrf, key="s2")).status_code == 403
    assert browser.post(f"/sources/{source_id}/rotate", data={"csrf_token": csrf}).status_code == 403
    assert len(sources(admin_api)) == 1


def test_forms_need_the_csrf_token(workspace: Workspace, admin_api: TestClient) -> None:
    browser, _csrf = login(workspace, "analyst")
    r = browser.post("/sources", data=form("wrong"))
    assert r.status_code == 403
    assert "CSRF" in r.text
    assert sources(admin_api) == []


def test_bad_forms_show_readable_errors_and_store_nothing(workspace: Workspace, admin_api: TestClient) -> None:
    browser, csrf = login(workspace, "analyst")
    broken = browser.post("/sources", data=form(csrf, mapping="{not json"))
    assert broken.status_code == 422
    assert "The mapping is not valid JSON (line 1, column 2" in broken.text
    assert "{not json" in broken.text  # what was typed is kept
    invalid = browser.post("/sources", data=form(csrf, key="Bad Key", mapping=json.dumps({"fields": []})))
    assert invalid.status_code == 422
    assert "key: String should match pattern" in invalid.text
    assert "mapping.fields: List should have at least 1 item" in invalid.text
    unnamed = {"fields": [{"path": "text", "field_id": "text", "field_type": "text"}]}
    anonymous = browser.post("/sources", data=form(csrf, mapping=json.dumps(unnamed)))
    assert anonymous.status_code == 422
    assert "give submission_id (a path) or row_key (paths or &#34;content&#34;)" in anonymous.text
    assert browser.post("/sources", data=form(csrf)).status_code == 201
    duplicate = browser.post("/sources", data=form(csrf))
    assert duplicate.status_code == 409
    assert "already exists" in duplicate.text
    assert len(sources(admin_api)) == 1


def test_toggle_rotate_and_remap(workspace: Workspace, admin_api: TestClient) -> None:
    browser, csrf = login(workspace, "analyst")
    browser.post("/sources", data=form(csrf))
    (source,) = sources(admin_api)
    base = f"/sources/{source['id']}"
    off = browser.post(f"{base}/active", data={"csrf_token": csrf, "active": "false"}, follow_redirects=False)
    assert off.status_code == 303
    assert sources(admin_api)[0]["is_active"] is False
    assert "Activate" in browser.get(base).text
    rotated = browser.post(f"{base}/rotate", data={"csrf_token": csrf})
    assert rotated.status_code == 200
    assert "Secret rotated." in rotated.text and "export CEM_SOURCE_SECRET=" in rotated.text
    bad = browser.post(f"{base}/mapping", data={"csrf_token": csrf, "name": "X", "mapping": '{"fields": 1}'})
    assert bad.status_code == 422
    assert "Nothing was changed" in bad.text
    assert sources(admin_api)[0]["name"] == "Shop reviews"
    remap = {**REVIEW_MAPPING, "language": None}
    good = browser.post(
        f"{base}/mapping",
        data={"csrf_token": csrf, "name": "Shop", "mapping": json.dumps(remap)},
        follow_redirects=False,
    )
    assert good.status_code == 303
    assert sources(admin_api)[0]["name"] == "Shop"
    assert "language" not in sources(admin_api)[0]["mapping"]
    assert browser.get("/sources/999999").status_code == 404


def test_stored_text_is_escaped(workspace: Workspace, admin_api: TestClient) -> None:
    mapping = {**REVIEW_MAPPING, "metadata": {"<img src=x onerror=alert(1)>": "review.title"}}
    body = {"key": "xss", "name": "<script>alert('x')</script>", "source_type": "review", "mapping": mapping}
    assert admin_api.post("/api/v1/sources", json=body).status_code == 201
    browser, _csrf = login(workspace, "viewer")
    listing = browser.get("/sources").text
    assert "<script>alert('x')</script>" not in listing
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in listing
    detail = browser.get(f"/sources/{sources(admin_api)[0]['id']}").text
    assert "<img src=x" not in detail
    assert "&lt;img src=x onerror=alert(1)&gt;" in detail


def test_anonymous_is_sent_to_login(client: TestClient, workspace: Workspace) -> None:
    r = client.get("/sources", headers={"accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/sources"
