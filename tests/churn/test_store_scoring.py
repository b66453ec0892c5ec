"""Churn risk scored from the customers in the store: trained on those with a known outcome, stored with reasons,
shown on the customer 360 page."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cem.churn import service
from cem.churn.models import ChurnScore
from cem.customers.models import Customer
from cem.errors import InvalidInput
from tests.conftest import Workspace
from tests.web.helpers import login

HOSTILE = '<script>alert("x")</script>'


def _post_customers(client: TestClient, customers: list[dict[str, object]]) -> None:
    for start in range(0, len(customers), 1000):
        body = "\n".join(json.dumps(c) for c in customers[start : start + 1000])
        response = client.post("/api/v1/customers/bulk", content=body, headers={"Content-Type": "application/x-ndjson"})
        assert response.status_code in (200, 201, 202), response.text


def _telco(shared_data: Path) -> list[dict[str, object]]:
    with (shared_data / "telco-churn" / "WA_Fn-UseC_-Telco-Customer-Churn.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        {"external_id": row.pop("customerID"), "attributes": {**row, "note": HOSTILE if i == 0 else "ok"}}
        for i, row in enumerate(rows)
    ]


def test_customers_with_an_outcome_train_the_model_the_others_get_a_risk(
    workspace: Workspace, api: Callable[[str], TestClient], shared_data: Path
) -> None:
    customers = _telco(shared_data)
    _post_customers(api("analyst"), customers)
    # a reviewer from another source shares none of the subscribers' attributes: the model has nothing to say of them
    _post_customers(api("analyst"), [{"external_id": "reviewer-1", "attributes": {"city": "Recife"}}])
    with workspace.db.unit_of_work() as session:
        report = service.score_workspace(session, workspace.id)
    assert report.trained_on == 7043 and report.churned == 1869
    # the store's table gives the reference protocol's figure (attributes only: these customers have no events)
    assert 0.84 <= report.roc_auc < 0.87
    assert report.scored == 7043 - 1869  # customers who already left get no risk
    with workspace.db.unit_of_work(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(ChurnScore)) == report.scored
        riskiest = session.scalar(select(ChurnScore).order_by(ChurnScore.risk.desc()).limit(1))
        assert riskiest is not None and riskiest.risk > 0.5
        assert len(riskiest.reasons) == 3 and riskiest.reasons[0]["points"] > 0
        first = session.scalar(select(Customer.id).where(Customer.external_id == customers[0]["external_id"]))
    reader = api("viewer")
    model = reader.get("/api/v1/churn/model").json()
    assert model["customers"] == 7043 and "Contract = Two year" in model["features"]
    assert not any("churn" in f.lower() for f in model["features"])  # the answer never becomes a feature
    score = reader.get(f"/api/v1/churn/customers/{first}").json()
    assert 0 < score["risk"] < 1 and score["model"]["roc_auc"] == pytest.approx(report.roc_auc)
    # the customer 360 page shows the risk, its reasons and the model's figure; stored strings stay text
    page = login(workspace.client.app, workspace.user_email("viewer")).get(f"/customers/{first}")
    assert page.status_code == 200
    assert "Churn risk" in page.text and "ROC AUC" in page.text and " pts" in page.text
    assert HOSTILE not in page.text and "&lt;script&gt;" in page.text


def test_without_both_outcomes_the_message_says_what_is_needed(
    workspace: Workspace, api: Callable[[str], TestClient]
) -> None:
    _post_customers(
        api("analyst"), [{"external_id": f"c{i}", "attributes": {"plan": "a", "churned": False}} for i in range(30)]
    )
    with workspace.db.unit_of_work() as session, pytest.raises(InvalidInput, match="needs at least 10 who churned"):
        service.score_workspace(session, workspace.id)
    assert api("viewer").get("/api/v1/churn/model").status_code == 404
