"""Dashboards routes for the roles matrix: everyone reads (and exports aggregates); analysts and admins manage."""

from __future__ import annotations

from cem.auth.permissions import Permission

R, D = Permission.read, Permission.dashboards

API = {
    ("GET", "/api/v1/dashboards"): R,
    ("POST", "/api/v1/dashboards"): D,
    ("GET", "/api/v1/dashboards/overview"): R,
    ("GET", "/api/v1/dashboards/overview/export"): R,
    ("GET", "/api/v1/dashboards/journey/export"): R,
    ("GET", "/api/v1/dashboards/drivers/export"): R,
    ("GET", "/api/v1/dashboards/{dashboard_id}"): R,
    ("PATCH", "/api/v1/dashboards/{dashboard_id}"): D,
    ("DELETE", "/api/v1/dashboards/{dashboard_id}"): D,
    ("GET", "/api/v1/dashboards/{dashboard_id}/widgets/{widget_id}/data"): R,
    ("GET", "/api/v1/dashboards/{dashboard_id}/widgets/{widget_id}/export"): R,
}

PAGES = {
    ("GET", "/dashboards"): R,
    ("POST", "/dashboards"): D,
    ("GET", "/dashboards/overview"): R,
    ("GET", "/dashboards/journey"): R,
    ("GET", "/dashboards/drivers"): R,
    ("GET", "/dashboards/{dashboard_id}"): R,
    ("POST", "/dashboards/{dashboard_id}/edit"): D,
    ("POST", "/dashboards/{dashboard_id}/delete"): D,
    ("POST", "/dashboards/{dashboard_id}/widgets"): D,
    ("POST", "/dashboards/{dashboard_id}/widgets/{widget_id}/arrange"): D,
}
