"""Helpers to drive the hosted page like a browser without JavaScript: read hidden inputs, post forms."""

from __future__ import annotations

import html
import re
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from cem.db.session import Database
from cem.surveys import service
from tests.conftest import Workspace

HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def hidden_inputs(page: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in HIDDEN.findall(page)}


def publish(db: Database, workspace: Workspace, definition: dict[str, Any], slug: str = "cx") -> int:
    with db.unit_of_work() as session:
        survey = service.create_survey(session, workspace.principal(), name="CX", slug=slug, definition=definition)
        service.publish_survey(session, workspace.principal(), survey)
        return survey.id


def post_page(client: TestClient, url: str, page: str, answers: dict[str, Any], **extra: str) -> Response:
    """Submit the form currently shown in `page` with `answers` (form field names) as a no-JS browser."""
    data: dict[str, Any] = {**hidden_inputs(page), "action": "next", **extra}
    data.update(answers)
    return client.post(url, data=data, follow_redirects=False)
