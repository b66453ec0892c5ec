"""Roles of the survey routes (merged into tests/test_roles_matrix.py)."""

from __future__ import annotations

from cem.auth.permissions import Permission
from tests.test_roles_matrix import PUBLIC, Rule

R, W, SV = Permission.read, Permission.write, Permission.surveys

API: dict[tuple[str, str], Rule] = {
    ("GET", "/api/v1/surveys"): R,
    ("POST", "/api/v1/surveys"): SV,
    ("POST", "/api/v1/surveys/validate"): SV,
    ("GET", "/api/v1/surveys/{survey_id}"): R,
    ("PATCH", "/api/v1/surveys/{survey_id}"): SV,
    ("DELETE", "/api/v1/surveys/{survey_id}"): SV,
    ("POST", "/api/v1/surveys/{survey_id}/publish"): SV,
    ("POST", "/api/v1/surveys/{survey_id}/pause"): SV,
    ("POST", "/api/v1/surveys/{survey_id}/close"): SV,
    ("GET", "/api/v1/surveys/{survey_id}/versions"): R,
    ("GET", "/api/v1/surveys/{survey_id}/versions/{number}"): R,
    ("GET", "/api/v1/surveys/{survey_id}/responses"): R,
    ("POST", "/api/v1/surveys/{survey_id}/responses"): W,
    ("GET", "/api/v1/surveys/{survey_id}/responses/{response_id}"): R,
}

PAGES: dict[tuple[str, str], Rule] = {
    ("GET", "/s/{slug}"): PUBLIC,  # the hosted survey page: respondents need no account
    ("POST", "/s/{slug}"): PUBLIC,
    ("GET", "/surveys"): R,
    ("GET", "/surveys/new"): SV,
    ("POST", "/surveys"): SV,
    ("GET", "/surveys/{survey_id}"): R,
    ("POST", "/surveys/{survey_id}/settings"): SV,
    ("POST", "/surveys/{survey_id}/json"): SV,
    ("POST", "/surveys/{survey_id}/pages"): SV,
    ("POST", "/surveys/{survey_id}/pages/{page_id}"): SV,
    ("POST", "/surveys/{survey_id}/pages/{page_id}/questions"): SV,
    ("POST", "/surveys/{survey_id}/questions/{question_id}"): SV,
    ("POST", "/surveys/{survey_id}/endings"): SV,
    ("POST", "/surveys/{survey_id}/endings/{ending_id}"): SV,
    ("POST", "/surveys/{survey_id}/status"): SV,
    ("GET", "/surveys/{survey_id}/preview"): R,
    ("GET", "/surveys/{survey_id}/responses"): R,
    ("GET", "/surveys/{survey_id}/responses/{response_id}"): R,
}
