"""Roles of the survey interchange routes (merged into tests/test_roles_matrix.py)."""

from __future__ import annotations

from cem.auth.permissions import Permission
from tests.test_roles_matrix import PUBLIC, Rule

API: dict[tuple[str, str], Rule] = {
    ("POST", "/api/v1/surveys/import"): Permission.surveys,
    ("POST", "/api/v1/surveys/{survey_id}/responses/import"): Permission.imports,
    ("GET", "/api/v1/surveys/{survey_id}/export.surveyjs.json"): Permission.read,
    ("GET", "/api/v1/surveys/{survey_id}/responses.csv"): Permission.export,
    ("GET", "/api/v1/surveys/{survey_id}/responses.xlsx"): Permission.export,
}

PAGES: dict[tuple[str, str], Rule] = {}

__all__ = ["API", "PAGES", "PUBLIC"]
