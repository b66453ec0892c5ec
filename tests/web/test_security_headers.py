"""Security headers on every kind of response: app pages deny framing and inline script, hosted survey pages may be
framed by any site (the widget), the API and the widget script carry the same protections, the widget keeps CORS."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from cem.db.session import Database
from tests.conftest import Workspace
from tests.distribution.conftest import two_page_nps
from tests.responses.hosted_helpers import publish
from tests.web.helpers import WebUser

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "cem" / "web" / "templates"


def policy(response: Response) -> dict[str, list[str]]:
    """The Content-Security-Policy header as {directive: [sources]}."""
    header = response.headers.get("content-security-policy")
    assert header, f"{response.request.url.path} has no Content-Security-Policy"
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def assert_script_rules(response: Response) -> dict[str, list[str]]:
    """Scripts only from our origin, none inline or evaluated, no plugins, no foreign <base>; nosniff."""
    csp = policy(response)
    assert csp["script-src"] == ["'self'"]
    assert csp["default-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"]
    assert "'unsafe-inline'" not in csp["style-src"]  # <style> blocks refused; style attributes have their own rule
    assert response.headers["x-content-type-options"] == "nosniff"
    return csp


def assert_app_headers(response: Response) -> None:
    csp = assert_script_rules(response)
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_app_pages_deny_framing_and_inline_script(web: Callable[[str], WebUser], client: TestClient) -> None:
    admin = web("admin")
    for url in ("/", "/dashboards/overview", "/feedback", "/admin"):
        response = admin.get(url)
        assert response.status_code == 200, url
        assert_app_headers(response)
    assert_app_headers(client.get("/login"))
    assert_app_headers(client.get("/no-such-page", headers={"accept": "text/html"}))


def test_api_responses_carry_the_headers(admin_api: TestClient, client: TestClient) -> None:
    assert_app_headers(admin_api.get("/api/v1/feedback"))
    assert_app_headers(client.get("/api/v1/feedback"))  # 401 in the one error shape, headers all the same
    assert_app_headers(client.get("/healthz"))


def test_hosted_survey_pages_may_be_framed_by_any_site_and_send_no_referrer(
    client: TestClient, db: Database, workspace: Workspace
) -> None:
    publish(db, workspace, two_page_nps(), slug="post-nps")
    for url in ("/s/post-nps", "/s/post-nps?channel=widget&embed=1", "/s/no-such-survey", "/i/not-a-token"):
        response = client.get(url)
        csp = assert_script_rules(response)
        assert csp["frame-ancestors"] == ["*"], url
        # An ending may redirect the respondent's form post to the owner's site: no form-action here.
        assert "form-action" not in csp
        assert response.headers["referrer-policy"] == "no-referrer"  # resume keys are in these URLs


def test_the_builder_preview_may_be_framed_by_our_own_origin_only(
    web: Callable[[str], WebUser], db: Database, workspace: Workspace
) -> None:
    survey_id = publish(db, workspace, two_page_nps(), slug="post-nps")
    response = web("admin").get(f"/surveys/{survey_id}/preview")
    assert response.status_code == 200
    assert assert_script_rules(response)["frame-ancestors"] == ["'self'"]


def test_the_widget_script_and_its_api_keep_working_from_other_origins(
    client: TestClient, admin_api: TestClient, db: Database, workspace: Workspace
) -> None:
    survey_id = publish(db, workspace, two_page_nps(), slug="post-nps")
    r = admin_api.put(
        f"/api/v1/surveys/{survey_id}/channels",
        json={"widget_enabled": True, "allowed_origins": ["https://shop.example"]},
    )
    assert r.status_code == 200, r.text
    script = client.get("/static/js/widget.js")
    assert script.status_code == 200
    # nosniff makes browsers insist on a JavaScript type for a <script src> on another site.
    assert script.headers["x-content-type-options"] == "nosniff"
    assert script.headers["content-type"].split(";")[0] in ("text/javascript", "application/javascript")
    assert "cross-origin-resource-policy" not in script.headers  # would stop other sites loading it
    config = client.get("/api/v1/widget/post-nps", headers={"origin": "https://shop.example"})
    assert config.status_code == 200, config.text
    assert config.headers["access-control-allow-origin"] == "https://shop.example"
    assert config.headers["x-content-type-options"] == "nosniff"


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
STYLE_BLOCK = re.compile(r"<style\b", re.I)


# Email bodies are read in mail clients, never served under the policy: they are not checked.
WEB_TEMPLATES = sorted(
    p.relative_to(TEMPLATES).as_posix()
    for p in TEMPLATES.rglob("*.html")
    if "email" not in p.relative_to(TEMPLATES).parts
)


@pytest.mark.parametrize("template", WEB_TEMPLATES)
def test_templates_hold_no_inline_script_handler_or_style_block(template: str) -> None:
    """The policy refuses these, so a template with one would break in the browser."""
    text = (TEMPLATES / template).read_text(encoding="utf-8")
    assert not INLINE_SCRIPT.search(text), "inline <script>: move it to a file under static/js"
    assert not EVENT_HANDLER.search(text), "inline event handler: use a data- attribute handled in static/js"
    assert not STYLE_BLOCK.search(text), "<style> block: move it to a file under static/css"
