"""schemathesis over the whole OpenAPI document: no server errors, and every response is the one the document
describes (its status code is listed for the operation, its body matches that status code's schema).

One test, all operations as subtests, on one workspace with the synthetic demo program (journey, customers,
events, feedback) plus a published survey with a response, a source and an import mapping, so that generated
ids (small integers first) hit real rows. Bounded in time: a few examples per operation, no shrinking.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cem.admin import service as admin_service
from cem.auth.models import ApiToken
from cem.auth.principal import system_principal
from cem.config import Settings
from cem.db.session import Database
from cem.demo.service import build_demo
from tests.sources.conftest import REVIEW_MAPPING

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MAX_EXAMPLES = 8  # per operation and phase; ~2-3 minutes for all operations on 2 cores


class Credentials:
    """The admin token the generated requests carry; issued again if a generated DELETE /tokens/{id} revoked it."""

    def __init__(self, db: Database, workspace_id: int) -> None:
        self.db = db
        self.workspace_id = workspace_id
        self.token_id, self.secret = self._issue()

    def _issue(self) -> tuple[int, str]:
        with self.db.unit_of_work() as session:
            actor = system_principal(self.workspace_id, label="schemathesis")
            issued = admin_service.create_token(session, actor=actor, name="schemathesis", role="admin")
            session.flush()
            return issued.token.id, issued.secret

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"}

    def renew_if_revoked(self) -> None:
        with self.db.unit_of_work(readonly=True) as session:
            token = session.get(ApiToken, self.token_id)
            revoked = token is None or token.revoked_at is not None
        if revoked:
            self.token_id, self.secret = self._issue()


def _seed_extras(client: TestClient) -> None:
    """What the demo program does not hold: a published survey with a response, a source, an import mapping."""
    survey = client.post("/api/v1/surveys", json={"name": "CX pulse"})
    assert survey.status_code == 201, survey.text
    survey_id = survey.json()["id"]
    assert client.post(f"/api/v1/surveys/{survey_id}/publish").status_code == 200
    question = survey.json()["definition"]["pages"][0]["questions"][0]["id"]
    answered = client.post(f"/api/v1/surveys/{survey_id}/responses", json={"answers": {question: 9}})
    assert answered.status_code in (200, 201), answered.text
    source = {
        "key": "trustpilot",
        "name": "Trustpilot",
        "source_type": "review",
        "mapping": REVIEW_MAPPING,
    }
    assert client.post("/api/v1/sources", json=source).status_code == 201
    mapping = {"submission_id": "submission_id", "fields": [{"column": "nps", "field_type": "nps"}]}
    assert client.post("/api/v1/import-mappings", json={"name": "nps", "mapping": mapping}).status_code == 201


@pytest.fixture
def demo_credentials(app: FastAPI, db: Database, settings: Settings, tmp_path: Path) -> Credentials:
    build_demo(db, settings=settings, data=tmp_path / "no-data")  # a missing folder: the synthetic program
    with db.unit_of_work() as session:
        workspace_id = admin_service.ensure_workspace(session, slug="demo", name="Demo").id
    credentials = Credentials(db, workspace_id)
    with TestClient(app) as client:
        client.headers.update(credentials.headers)
        _seed_extras(client)
    return credentials


@pytest.fixture
def api_schema(app: FastAPI, demo_credentials: Credentials) -> Any:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    schema.config.generation.update(max_examples=MAX_EXAMPLES, no_shrink=True, deterministic=True)
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_every_operation_answers_as_documented(case: Any, demo_credentials: Credentials) -> None:
    case.call_and_validate(headers=demo_credentials.headers, checks=CHECKS)
    if case.operation.path == "/api/v1/tokens/{token_id}":
        demo_credentials.renew_if_revoked()
