"""Roles of the outbound webhook routes (merged into tests/test_roles_matrix.py): admin only, since a subscription
sends the workspace's feedback to any URL."""

from __future__ import annotations

from cem.auth.permissions import Permission
from tests.test_roles_matrix import Rule

WH = Permission.webhooks

API: dict[tuple[str, str], Rule] = {
    ("GET", "/api/v1/webhooks"): WH,
    ("POST", "/api/v1/webhooks"): WH,
    ("GET", "/api/v1/webhooks/{subscription_id}"): WH,
    ("PATCH", "/api/v1/webhooks/{subscription_id}"): WH,
    ("DELETE", "/api/v1/webhooks/{subscription_id}"): WH,
    ("POST", "/api/v1/webhooks/{subscription_id}/rotate-secret"): WH,
    ("POST", "/api/v1/webhooks/{subscription_id}/test"): WH,
    ("GET", "/api/v1/webhooks/deliveries"): WH,
    ("GET", "/api/v1/webhooks/deliveries/{delivery_id}"): WH,
    ("POST", "/api/v1/webhooks/deliveries/{delivery_id}/redeliver"): WH,
}

PAGES: dict[tuple[str, str], Rule] = {
    ("GET", "/webhooks"): WH,
    ("POST", "/webhooks"): WH,
    ("GET", "/webhooks/{subscription_id}"): WH,
    ("POST", "/webhooks/{subscription_id}"): WH,
    ("POST", "/webhooks/{subscription_id}/rotate"): WH,
    ("POST", "/webhooks/{subscription_id}/test"): WH,
    ("POST", "/webhooks/{subscription_id}/delete"): WH,
    ("GET", "/webhooks/deliveries/{delivery_id}"): WH,
    ("POST", "/webhooks/deliveries/{delivery_id}/redeliver"): WH,
}
