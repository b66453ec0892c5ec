"""The dotted path grammar and the sample payload generator (pure functions, no database)."""

from __future__ import annotations

from typing import Any

import pytest

from cem.sources.examples import example_payload
from cem.sources.paths import Missing, PathSyntaxError, parse_path, resolve
from cem.sources.schemas import SourceMapping

DATA: dict[str, Any] = {
    "user": {"email": "a@b.c", "tags": ["x", "y"]},
    "items": [{"id": 7}, {"id": 8}],
    "a.b": 1,
    "0": "zero",
    "n": None,
}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("user.email", "a@b.c"),
        ("items.0.id", 7),
        ("items.-1.id", 8),
        ("user.tags.1", "y"),
        ("a\\.b", 1),
        ("0", "zero"),
        ("n", None),
        ("items", [{"id": 7}, {"id": 8}]),
    ],
)
def test_resolve(path: str, value: Any) -> None:
    assert resolve(DATA, parse_path(path)) == value


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("user.phone", "no key 'phone' at 'user.phone'"),
        ("items.5.id", "index 5 is out of range at 'items.5' (the list has 2 items)"),
        ("items.first", "'items' is a list; 'first' is not an index"),
        ("user.email.domain", "'user.email' is a string, not an object or list"),
        ("n.x", "'n' is null, not an object or list"),
    ],
)
def test_missing_says_where(path: str, reason: str) -> None:
    found = resolve(DATA, parse_path(path))
    assert isinstance(found, Missing)
    assert found.reason == reason


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "empty"),
        (" ", "empty"),
        ("a..b", "empty step"),
        (".a", "empty step"),
        ("a.", "empty step"),
        ("a\\b", "backslash"),
        ("a" * 301, "at most 300"),
        (".".join(["a"] * 33), "at most 32"),
    ],
)
def test_syntax_errors(path: str, message: str) -> None:
    with pytest.raises(PathSyntaxError, match=message):
        parse_path(path)


def test_example_payload_satisfies_its_mapping() -> None:
    mapping = {
        "items_path": "data.reviews",
        "submission_id": "id",
        "customer": {"email": "author.emails.0", "attributes": {"plan": "author.plan"}},
        "touchpoint_path": "where",
        "fields": [
            {"path": "scores.nps", "field_id": "nps", "field_type": "nps"},
            {"path": "answers.1.text", "field_id": "why", "field_type": "text"},
        ],
    }
    SourceMapping.model_validate(mapping)
    payload = example_payload(mapping)
    record = payload["data"]["reviews"][0]
    assert record["id"] == "1001"
    assert record["author"] == {"emails": ["jane@example.com"], "plan": "plan-gold"}
    assert record["scores"] == {"nps": 9}
    assert record["answers"][1] == {"text": "Quick delivery, friendly support."}
