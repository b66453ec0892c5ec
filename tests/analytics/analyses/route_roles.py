"""Roles for the analyses routes: reading needs data:read; setting experience targets is journey management."""

from __future__ import annotations

from cem.auth.permissions import Permission

R, J = Permission.read, Permission.journeys

API = {
    ("GET", "/api/v1/analyses/journeys/{journey_id}/metrics"): R,
    ("GET", "/api/v1/analyses/journeys/{journey_id}/funnel"): R,
    ("GET", "/api/v1/analyses/journeys/{journey_id}/pain-points"): R,
    ("GET", "/api/v1/analyses/compare"): R,
    ("GET", "/api/v1/analyses/drivers"): R,
    ("GET", "/api/v1/analyses/targets"): R,
    ("PUT", "/api/v1/analyses/targets"): J,
    ("DELETE", "/api/v1/analyses/targets/{target_id}"): J,
    ("GET", "/api/v1/analyses/gaps"): R,
}
PAGES: dict[tuple[str, str], Permission] = {}
