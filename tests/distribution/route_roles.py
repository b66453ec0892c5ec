"""Roles of the survey distribution routes (merged into tests/test_roles_matrix.py)."""

from __future__ import annotations

from cem.auth.permissions import Permission
from tests.test_roles_matrix import PUBLIC, Rule

R, SUR = Permission.read, Permission.surveys

API: dict[tuple[str, str], Rule] = {
    ("GET", "/api/v1/contact-rules"): R,
    ("PUT", "/api/v1/contact-rules"): SUR,
    ("GET", "/api/v1/audiences"): R,
    ("POST", "/api/v1/audiences"): SUR,
    ("POST", "/api/v1/audiences/preview"): R,
    ("GET", "/api/v1/audiences/{audience_id}"): R,
    ("PATCH", "/api/v1/audiences/{audience_id}"): SUR,
    ("DELETE", "/api/v1/audiences/{audience_id}"): SUR,
    ("POST", "/api/v1/audiences/{audience_id}/preview"): R,
    ("GET", "/api/v1/surveys/{survey_id}/channels"): R,
    ("PUT", "/api/v1/surveys/{survey_id}/channels"): SUR,
    ("GET", "/api/v1/surveys/{survey_id}/triggers"): R,
    ("POST", "/api/v1/surveys/{survey_id}/triggers"): SUR,
    ("DELETE", "/api/v1/surveys/{survey_id}/triggers/{trigger_id}"): SUR,
    ("GET", "/api/v1/surveys/{survey_id}/distributions"): R,
    ("POST", "/api/v1/surveys/{survey_id}/distributions"): SUR,
    ("GET", "/api/v1/distributions/{distribution_id}"): R,
    ("GET", "/api/v1/surveys/{survey_id}/distribution-report"): R,
    # The website widget: public, limited by the survey's allowed origins (CORS) and the contact rules.
    ("GET", "/api/v1/widget/{survey_slug}"): PUBLIC,
    ("POST", "/api/v1/widget/{survey_slug}/display"): PUBLIC,
}

PAGES: dict[tuple[str, str], Rule] = {
    ("GET", "/audiences"): R,
    ("POST", "/audiences"): SUR,
    ("GET", "/audiences/{audience_id}"): R,
    ("POST", "/audiences/{audience_id}/edit"): SUR,
    ("POST", "/audiences/{audience_id}/delete"): SUR,
    ("GET", "/contact-rules"): R,
    ("POST", "/contact-rules"): SUR,
    ("GET", "/surveys/{survey_id}/distribution"): R,
    ("POST", "/surveys/{survey_id}/distribution/send"): SUR,
    ("POST", "/surveys/{survey_id}/distribution/channels"): SUR,
    ("POST", "/surveys/{survey_id}/distribution/triggers"): SUR,
    # Personal links: the unguessable token is the credential (no login).
    ("GET", "/i/{token}"): PUBLIC,
    ("GET", "/u/{token}"): PUBLIC,
    ("POST", "/u/{token}"): PUBLIC,
    ("POST", "/u/{token}/resubscribe"): PUBLIC,
}
