"""Privacy pages for the roles matrix: only roles with the privacy permission (admin) may erase."""

from __future__ import annotations

from cem.auth.permissions import Permission

P = Permission.privacy

PAGES = {
    ("GET", "/admin/privacy"): P,
    ("POST", "/admin/privacy/preview"): P,
    ("POST", "/admin/privacy/erase"): P,
}
