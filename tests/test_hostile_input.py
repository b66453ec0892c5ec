"""Input built to break the server: integers past 64 bits, numbers of hundreds of digits, lone surrogates and
nesting deep enough to exhaust Python's stack. Each is a 4xx in the one error shape and stores nothing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.openapi.utils import get_openapi
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cem.cli import app as cli_app
from cem.routes import api_router
from tests import test_bad_input
from tests.test_bad_input import FEEDBACK, Snapshot
from tests.test_error_shape import VALID_BODIES, assert_shape
from tests.web.helpers import login

# The stored data and its checksum before each bad request, shared with the other bad-input tests.
snapshot = test_bad_input.snapshot
seeded = test_bad_input.seeded

MAX_INT64 = 2**63 - 1  # SQLite INTEGER, PostgreSQL BIGINT
TOO_BIG = 2**63
TOO_SMALL = -(2**63) - 1
OPENAPI = get_openapi(title="cem", version="test", routes=api_router().routes)
NDJSON = {"content-type": "application/x-ndjson"}
JSON = {"content-type": "application/json"}


def _int_parameters() -> list[tuple[str, str, str, str]]:
    """(method, path, location, name) of every integer path or query parameter of the API."""
    found = []
    for path, operations in OPENAPI["paths"].items():
        for method, operation in operations.items():
            for param in operation.get("parameters", []):
                schema = param["schema"]
                types = [schema.get("type")] + [s.get("type") for s in schema.get("anyOf", [])]
                if "integer" in types and param["in"] in ("path", "query"):
                    found.append((method.upper(), path, param["in"], param["name"]))
    return found


def _url(path: str, location: str, name: str, value: int) -> str:
    filled = re.sub(r"\{(\w+)\}", lambda m: str(value) if m[1] == name else "1", path)
    return f"{filled}?{name}={value}" if location == "query" else filled


INT_PARAMETERS = _int_parameters()


def test_the_walk_finds_the_parameters() -> None:
    """Guards the parametrisation below: the API has dozens of integer parameters in paths and queries."""
    assert len(INT_PARAMETERS) > 40
    assert {loc for _, _, loc, _ in INT_PARAMETERS} == {"path", "query"}


@pytest.mark.parametrize("value", [TOO_BIG, TOO_SMALL], ids=["2^63", "-2^63-1"])
@pytest.mark.parametrize(("method", "path", "location", "name"), INT_PARAMETERS)
def test_integers_beyond_64_bits_are_refused_at_the_edge(
    app: Any, workspace: Any, method: str, path: str, location: str, name: str, value: int
) -> None:
    with TestClient(app, raise_server_exceptions=False) as client:
        client.headers.update(workspace.headers("admin"))
        r = client.request(method, _url(path, location, name, value), json=VALID_BODIES.get((method, path)))
    assert r.status_code in (400, 404, 422), (method, path, name, r.status_code, r.text[:300])
    body = assert_shape(r, r.status_code)
    if location == "query":  # refused because of this parameter, not only because of another one
        assert any(e["loc"] == ["query", name] for e in body["errors"]), body


def _integer_schemas(schema: dict[str, Any], where: str, seen: frozenset[str]) -> list[tuple[str, dict[str, Any]]]:
    components = OPENAPI["components"]["schemas"]
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return [] if name in seen else _integer_schemas(components[name], f"{where}<{name}>", seen | {name})
    found = [(where, schema)] if schema.get("type") == "integer" else []
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            found += _integer_schemas(sub, where, seen)
    for prop, sub in schema.get("properties", {}).items():
        found += _integer_schemas(sub, f"{where}.{prop}", seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            found += _integer_schemas(schema[key], f"{where}[]", seen)
    return found


# Integers the API reads as data rather than as numbers to store or compare as such: a feedback `value` is split
# into its typed columns by cem.feedback.schemas.typed_value, which refuses what no column holds.
UNBOUNDED_ON_PURPOSE = {"<FeedbackIn>.value"}


def test_every_integer_a_request_carries_is_bounded_to_64_bits() -> None:
    """Request bodies too: the OpenAPI document shows the bound of every integer field a client may send."""
    unbounded = []
    for path, operations in OPENAPI["paths"].items():
        for method, operation in operations.items():
            schemas = [(f"{param['in']}:{param['name']}", param["schema"]) for param in operation.get("parameters", [])]
            for media in operation.get("requestBody", {}).get("content", {}).values():
                schemas.append(("body", media.get("schema", {})))
            for where, schema in schemas:
                for field, integer in _integer_schemas(schema, where, frozenset()):
                    bounded = "enum" in integer or (
                        integer.get("maximum", TOO_BIG) <= MAX_INT64 and integer.get("minimum", TOO_SMALL) >= -TOO_BIG
                    )
                    if not bounded and not any(field.endswith(ok) for ok in UNBOUNDED_ON_PURPOSE):
                        unbounded.append(f"{method.upper()} {path} {field}")
    assert not unbounded, unbounded


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/api/v1/feedback", {**FEEDBACK, "customer": None, "customer_id": TOO_BIG}),
        ("/api/v1/feedback/bulk", [{**FEEDBACK, "customer": None, "customer_id": TOO_BIG}]),
        ("/api/v1/events", {"customer_id": TOO_BIG, "type": "login", "occurred_at": "2024-05-01T10:00:00Z"}),
        ("/api/v1/analyses/targets", {"stage_id": TOO_BIG, "metric": "nps", "target": 40}),
    ],
)
def test_integers_beyond_64_bits_in_bodies(
    admin_api: TestClient, seeded: Any, snapshot: Snapshot, path: str, payload: Any
) -> None:
    method = "PUT" if path.endswith("/targets") else "POST"
    body = assert_shape(admin_api.request(method, path, json=payload), 422)
    assert "less than or equal" in body["detail"], body
    assert snapshot() == seeded


@pytest.mark.parametrize("path", ["/api/v1/feedback", "/api/v1/feedback/bulk"])
def test_a_number_of_401_digits(admin_api: TestClient, seeded: Any, snapshot: Snapshot, path: str) -> None:
    record = {**FEEDBACK, "field_id": "amount", "field_type": "number", "value": 10**400}
    payload = [record] if path.endswith("/bulk") else record
    body = assert_shape(admin_api.post(path, json=payload), 422)
    assert "too large" in body["detail"]
    assert snapshot() == seeded


LONE_SURROGATE = '{"source_type": "survey", "source_name": "s", "submission_id": "x", "field_id": "comment", ' + (
    '"field_type": "text", "value": "broken \\ud800 text"}'
)


@pytest.mark.parametrize(
    ("path", "content", "headers"),
    [
        ("/api/v1/feedback", LONE_SURROGATE, JSON),
        ("/api/v1/feedback/bulk", f"[{LONE_SURROGATE}]", JSON),
        ("/api/v1/feedback/bulk", f"{LONE_SURROGATE}\n", NDJSON),
        ("/api/v1/customers", '{"external_id": "c\\udfff"}', JSON),
    ],
    ids=["one", "bulk", "ndjson", "customer"],
)
def test_a_lone_surrogate(
    admin_api: TestClient, seeded: Any, snapshot: Snapshot, path: str, content: str, headers: dict[str, str]
) -> None:
    body = assert_shape(admin_api.post(path, content=content, headers=headers), 400)
    assert "surrogate" in body["detail"]
    assert snapshot() == seeded


@pytest.mark.parametrize(
    ("path", "content", "headers"),
    [
        ("/api/v1/customers", '{"email": "n@example.com", "attributes": {"k\\u0000": {}}}', JSON),
        ("/api/v1/customers", '{"email": "n@example.com", "attributes": {"plan": "a\\u0000b"}}', JSON),
        ("/api/v1/feedback/bulk", "[" + LONE_SURROGATE.replace("\\ud800", "\\u0000") + "]", JSON),
    ],
    ids=["attribute-key", "attribute-value", "bulk"],
)
def test_a_nul_character_is_refused_before_it_reaches_the_store(
    admin_api: TestClient, seeded: Any, snapshot: Snapshot, path: str, content: str, headers: dict[str, str]
) -> None:
    """PostgreSQL keeps NUL neither in text nor in jsonb (schemathesis found the 500): refused on both stores alike."""
    body = assert_shape(admin_api.post(path, content=content, headers=headers), 400)
    assert "NUL character" in body["detail"]
    assert snapshot() == seeded


def test_an_escaped_backslash_before_u0000_is_ordinary_text(admin_api: TestClient) -> None:
    r = admin_api.post("/api/v1/customers", content='{"email": "b@example.com", "name": "a\\\\u0000"}', headers=JSON)
    assert r.status_code in (200, 201), r.text
    assert r.json()["name"] == "a\\u0000"


@pytest.mark.parametrize(
    ("path", "headers"),
    [("/api/v1/feedback/bulk", JSON), ("/api/v1/feedback/bulk", NDJSON), ("/api/v1/feedback", JSON)],
    ids=["bulk", "ndjson", "one"],
)
def test_100000_nested_brackets(
    admin_api: TestClient, seeded: Any, snapshot: Snapshot, path: str, headers: dict[str, str]
) -> None:
    content = "[" * 100_000 + "]" * 100_000
    body = assert_shape(admin_api.post(path, content=content, headers=headers), 400)
    assert "nested more than" in body["detail"]
    assert snapshot() == seeded


def _deep_surveyjs(depth: int) -> bytes:
    """A SurveyJS definition whose first page holds panels nested `depth` deep (built as text: json.dumps
    itself would overflow the stack)."""
    panel = '{"type": "panel", "name": "p", "elements": ['
    inner = '{"type": "text", "name": "q1", "title": "Why?"}'
    return (
        '{"title": "Deep", "pages": [{"name": "page1", "elements": [' + panel * depth + inner + "]}" * depth + "]}]}"
    ).encode()


def test_a_surveyjs_file_nested_50000_deep_over_the_api(admin_api: TestClient, seeded: Any, snapshot: Snapshot) -> None:
    files = {"file": ("deep.json", _deep_surveyjs(50_000), "application/json")}
    body = assert_shape(admin_api.post("/api/v1/surveys/import", files=files), 400)
    assert "nested more than" in body["detail"] and "deep.json" in body["detail"]
    assert snapshot() == seeded


def test_a_surveyjs_file_nested_50000_deep_with_the_cli(
    cli: CliRunner, tmp_path: Path, seeded: Any, snapshot: Snapshot
) -> None:
    path = tmp_path / "deep.json"
    path.write_bytes(_deep_surveyjs(50_000))
    result = cli.invoke(cli_app, ["surveys", "import", str(path), "--workspace", "acme"])
    assert result.exit_code != 0, (result.exit_code, result.output)
    assert "nested more than" in result.output, result.output
    assert snapshot() == seeded


def test_a_shallow_surveyjs_nesting_still_imports(admin_api: TestClient) -> None:
    """The limit leaves room for real definitions: panels inside panels a dozen deep import fine."""
    files = {"file": ("nested.json", _deep_surveyjs(12), "application/json")}
    r = admin_api.post("/api/v1/surveys/import", files=files)
    assert r.status_code == 201, r.text


def test_the_overflow_safety_net_on_pages(app: Any, workspace: Any) -> None:
    """Behind the bounded types: a page whose id reaches the database unbounded answers 422, not 500 (the
    OverflowError of sqlite3, NumericValueOutOfRange of PostgreSQL)."""
    user = login(app, workspace.user_email("admin"))
    user.client = TestClient(app, raise_server_exceptions=False, cookies=user.client.cookies)
    page = user.get(f"/customers/{TOO_BIG}")
    assert page.status_code in (404, 422), page.status_code
    assert "text/html" in page.headers["content-type"]
    as_json = user.client.get(f"/customers/{TOO_BIG}", headers={"accept": "application/json"})
    assert_shape(as_json, as_json.status_code)
    assert as_json.status_code in (404, 422)


@pytest.mark.parametrize(
    "url",
    ["/api/v1/feedback?q=a%00b", "/api/v1/customers?q=a%00b", "/api/v1/feedback?source_name=a%00b"],
    ids=["search", "customers", "filter"],
)
def test_a_nul_character_in_a_query_is_never_a_server_error(admin_api: TestClient, url: str) -> None:
    """PostgreSQL refuses NUL in a text parameter (a 500 before); SQLite simply matches nothing."""
    r = admin_api.get(url)
    if r.status_code == 200:
        assert r.json()["items"] == []
    else:
        assert "NUL character" in assert_shape(r, 422)["detail"]
