"""Roles of the closed-loop routes (merged into tests/test_roles_matrix.py)."""

from __future__ import annotations

from cem.auth.permissions import Permission
from tests.test_roles_matrix import Rule

R, CASES, LOOP = Permission.read, Permission.cases, Permission.loop

API: dict[tuple[str, str], Rule] = {
    ("GET", "/api/v1/alert-rules"): R,
    ("POST", "/api/v1/alert-rules"): LOOP,
    ("POST", "/api/v1/alert-rules/preview"): LOOP,
    ("GET", "/api/v1/alert-rules/{rule_id}"): R,
    ("PUT", "/api/v1/alert-rules/{rule_id}"): LOOP,
    ("DELETE", "/api/v1/alert-rules/{rule_id}"): LOOP,
    ("GET", "/api/v1/alert-rules/{rule_id}/firings"): R,
    ("GET", "/api/v1/teams"): R,
    ("POST", "/api/v1/teams"): LOOP,
    ("GET", "/api/v1/teams/{team_id}"): R,
    ("PATCH", "/api/v1/teams/{team_id}"): LOOP,
    ("DELETE", "/api/v1/teams/{team_id}"): LOOP,
    ("GET", "/api/v1/cases"): CASES,
    ("POST", "/api/v1/cases"): CASES,
    ("POST", "/api/v1/cases/bulk-assign"): CASES,
    ("GET", "/api/v1/cases/{case_id}"): CASES,
    ("PATCH", "/api/v1/cases/{case_id}"): CASES,
    ("POST", "/api/v1/cases/{case_id}/assign"): CASES,
    ("POST", "/api/v1/cases/{case_id}/notes"): CASES,
    ("POST", "/api/v1/cases/{case_id}/replies"): CASES,
    ("POST", "/api/v1/cases/{case_id}/close"): CASES,
}
API.update(
    {
        ("GET", "/api/v1/business-calendars"): R,
        ("POST", "/api/v1/business-calendars"): LOOP,
        ("GET", "/api/v1/business-calendars/{calendar_id}"): R,
        ("PUT", "/api/v1/business-calendars/{calendar_id}"): LOOP,
        ("DELETE", "/api/v1/business-calendars/{calendar_id}"): LOOP,
        ("GET", "/api/v1/slas"): R,
        ("POST", "/api/v1/slas"): LOOP,
        ("GET", "/api/v1/slas/{policy_id}"): R,
        ("PUT", "/api/v1/slas/{policy_id}"): LOOP,
        ("DELETE", "/api/v1/slas/{policy_id}"): LOOP,
    }
)
