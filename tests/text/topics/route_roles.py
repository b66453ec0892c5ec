"""Roles for the topic API and the text explorer pages (merged into tests/test_roles_matrix.py)."""

from __future__ import annotations

from tests.test_roles_matrix import R, Rule, W

API: dict[tuple[str, str], Rule] = {
    ("GET", "/api/v1/text/topics"): R,
    ("POST", "/api/v1/text/topics/discover"): W,
    ("POST", "/api/v1/text/topics/rules"): W,
    ("GET", "/api/v1/text/topics/{topic_id}"): R,
    ("GET", "/api/v1/text/topics/{topic_id}/verbatims"): R,
    ("PATCH", "/api/v1/text/topics/{topic_id}"): W,
    ("DELETE", "/api/v1/text/topics/{topic_id}"): W,
    ("POST", "/api/v1/text/topics/{topic_id}/merge"): W,
    ("POST", "/api/v1/text/topics/{topic_id}/split"): W,
    ("PUT", "/api/v1/text/topics/{topic_id}/rule"): W,
}

PAGES: dict[tuple[str, str], Rule] = {
    ("GET", "/text"): R,
    ("GET", "/text/topics/{topic_id}"): R,
    ("POST", "/text/topics/{topic_id}/rename"): W,
    ("POST", "/text/topics/{topic_id}/merge"): W,
    ("POST", "/text/topics/{topic_id}/split"): W,
    ("POST", "/text/topics/{topic_id}/delete"): W,
    ("POST", "/text/topics/{topic_id}/rule"): W,
    ("POST", "/text/topics/rules"): W,
    ("POST", "/text/topics/discover"): W,
}
