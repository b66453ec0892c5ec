"""Text analytics routes (TXT-A) for the roles matrix.

Everyone reads search results and settings; agents and up correct labels and train (a trained model only replaces
the default when it beats it on the same folds); admins change PII redaction and emotion examples. Personal data in
text is shown unmasked only to roles with pii:read (admin).
"""

from __future__ import annotations

from cem.auth.permissions import Permission

R, W, A = Permission.read, Permission.write, Permission.admin

API = {
    ("GET", "/api/v1/text/search"): R,
    ("GET", "/api/v1/feedback/{record_id}/similar"): R,
    ("PUT", "/api/v1/feedback/{record_id}/label"): W,
    ("GET", "/api/v1/text/corrections"): R,
    ("GET", "/api/v1/text/models"): R,
    ("POST", "/api/v1/text/models/train"): W,
    ("GET", "/api/v1/text/settings/pii"): R,
    ("PUT", "/api/v1/text/settings/pii"): A,
    ("GET", "/api/v1/text/settings/emotions"): R,
    ("PUT", "/api/v1/text/settings/emotions"): A,
}

PAGES: dict[tuple[str, str], Permission] = {}

PAGES.update(
    {
        ("GET", "/text/search"): R,
        ("POST", "/text/label/{record_id}"): W,
        ("GET", "/text/model"): R,
        ("POST", "/text/model/train"): W,
        ("POST", "/text/model/pii"): A,
        ("POST", "/text/model/emotions"): A,  # the form of PUT /api/v1/text/settings/emotions, same role
    }
)
