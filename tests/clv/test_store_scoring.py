"""Lifetime value scored from purchase events in the store: the same fit as the paper, stored per customer."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cem.clv import service
from cem.clv.models import CustomerValue
from cem.customers.models import Customer
from cem.errors import InvalidInput
from cem.jobs.models import Job
from cem.jobs.worker import Worker
from tests.conftest import Workspace

END_OF_CALIBRATION = datetime(1997, 9, 30, 23, 59, tzinfo=UTC)


def _post_events(client: TestClient, events: list[dict[str, object]]) -> None:
    for start in range(0, len(events), 1000):
        body = "\n".join(json.dumps(e) for e in events[start : start + 1000])
        response = client.post("/api/v1/events/bulk", content=body, headers={"Content-Type": "application/x-ndjson"})
        assert response.status_code in (200, 201, 202), response.text


def _cdnow_events(shared_data: Path) -> list[dict[str, object]]:
    events = []
    for n, line in enumerate((shared_data / "cdnow" / "CDNOW_sample.txt").read_text().splitlines()):
        _master, sample_id, day, _cds, value = line.split()
        when = datetime.strptime(day, "%Y%m%d").replace(hour=12, tzinfo=UTC)
        events.append(
            {
                "customer": {"external_id": f"cdnow-{int(sample_id)}"},
                "type": "purchase",
                "occurred_at": when.isoformat(),
                "value": float(value),
                "external_id": f"cdnow-tx-{n}",
            }
        )
    return events


def test_purchase_events_give_the_papers_fit_and_stored_scores(
    workspace: Workspace, api: Callable[[str], TestClient], shared_data: Path
) -> None:
    writer = api("analyst")
    _post_events(writer, _cdnow_events(shared_data))
    with workspace.db.unit_of_work() as session:
        # purchases arriving queue one debounced rescore, however many batches they came in
        queued = session.scalar(select(func.count()).select_from(Job).where(Job.name == "clv.score"))
        assert queued == 1
        report = service.score_workspace(session, workspace.id, now=END_OF_CALIBRATION)
    assert report.customers == 2357
    # the store builds the paper's summary from the events, so the fit is the paper's BG/NBD
    assert report.params["r"] == pytest.approx(0.2426, rel=0.005)
    assert report.params["alpha"] == pytest.approx(4.4136, rel=0.005)
    assert report.params["a"] == pytest.approx(0.7929, rel=0.005)
    assert report.params["b"] == pytest.approx(2.4259, rel=0.005)
    assert report.spend_params is not None and report.spend_params["p"] == pytest.approx(6.25, rel=0.01)
    with workspace.db.unit_of_work(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(CustomerValue)) == 2357
    reader = api("viewer")
    model = reader.get("/api/v1/clv/model").json()
    assert model["customers"] == 2357 and model["repeat_buyers"] == 946
    with workspace.db.unit_of_work(readonly=True) as session:  # the paper's customer 1: x=2, t_x=30.43
        customer_id = session.scalar(select(Customer.id).where(Customer.external_id == "cdnow-1"))
    response = reader.get(f"/api/v1/clv/customers/{customer_id}")
    assert response.status_code == 200, response.text
    value = response.json()
    assert 0 < value["p_alive"] <= 1 and value["clv"] > 0 and value["frequency"] == 2, value


def test_too_few_customers_is_a_clear_message(workspace: Workspace, api: Callable[[str], TestClient]) -> None:
    _post_events(
        api("analyst"),
        [
            {"customer": {"external_id": "a"}, "type": "purchase", "occurred_at": "2026-01-01T10:00:00Z", "value": 5},
        ],
    )
    with workspace.db.unit_of_work() as session, pytest.raises(InvalidInput, match="at least 20 customers"):
        service.score_workspace(session, workspace.id)
    response = api("viewer").get("/api/v1/clv/model")
    assert response.status_code == 404 and "POST /api/v1/clv/score" in response.json()["detail"]


def test_no_purchases_is_a_clear_message(workspace: Workspace) -> None:
    with workspace.db.unit_of_work() as session, pytest.raises(InvalidInput, match="no purchase events"):
        service.score_workspace(session, workspace.id, now=datetime.combine(date(2026, 1, 1), datetime.min.time(), UTC))


def test_scoring_jobs_run_from_the_api_and_release_the_write_lock_while_fitting(
    workspace: Workspace, api: Callable[[str], TestClient], shared_data: Path
) -> None:
    """POST /clv/score and /churn/score queue jobs; the worker runs them (the fitting between a read transaction and
    a short write one) and the results are readable."""
    _post_events(api("analyst"), _cdnow_events(shared_data)[:3000])
    _post_customers_with_outcome(api("analyst"))
    writer = api("analyst")
    for path in ("/api/v1/clv/score", "/api/v1/churn/score"):
        response = writer.post(path)
        assert response.status_code == 202, response.text
    Worker(workspace.db).run_until_idle()
    reader = api("viewer")
    assert reader.get("/api/v1/clv/model").json()["customers"] > 500
    assert reader.get("/api/v1/churn/model").json()["customers"] == 40


def _post_customers_with_outcome(client: TestClient) -> None:
    body = [
        {"external_id": f"t{i}", "attributes": {"plan": "monthly" if i % 2 else "yearly", "churned": i % 2 == 1}}
        for i in range(40)
    ]
    response = client.post("/api/v1/customers/bulk", json=body)
    assert response.status_code in (200, 201, 202), response.text
