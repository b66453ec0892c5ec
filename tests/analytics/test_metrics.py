"""The newer metrics and dimensions against values computed by hand in the test."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cem.analytics import service
from cem.analytics.schemas import MetricQuery, MetricRow
from cem.db.session import Database
from cem.distribution.models import Invitation
from cem.errors import InvalidInput
from cem.feedback.models import FeedbackRecord
from cem.surveys.models import Survey, SurveyResponse, SurveyVersion
from tests.conftest import Workspace

Z95 = 1.959963984540054
T95_DF3 = 3.182446305284263  # Student t, 97.5 % quantile, 3 degrees of freedom
AT = datetime(2026, 4, 10, 12, tzinfo=UTC)


def wilson(successes: int, n: int) -> tuple[float, float, float]:
    p = successes / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 / (1 + Z95**2 / n) * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n))
    return 100 * p, 100 * (centre - half), 100 * (centre + half)


def run(db: Database, ws: int, **raw: Any) -> list[MetricRow]:
    with db.unit_of_work(readonly=True) as session:
        return service.compute(session, workspace_id=ws, query=MetricQuery(min_n=1, **raw)).rows


def check(row: MetricRow, expected: tuple[float, float, float], n: int) -> None:
    assert row.n == n
    assert (row.value, row.lower, row.upper) == pytest.approx(expected, abs=1e-9)


def record(i: int, **fields: Any) -> dict[str, Any]:
    base = {
        "source_type": "review",
        "source_name": "store",
        "submission_id": f"m{i}",
        "field_id": "comment",
        "field_type": "text",
        "value": f"text {i}",
        "collected_at": AT.isoformat(),
    }
    return {**base, **fields}


def test_sentiment_metrics(admin_api: TestClient, db: Database, workspace: Workspace) -> None:
    scored = [("negative", -0.5), ("positive", 0.5), ("positive", 1.0), ("negative", 0.2)]
    r = admin_api.post("/api/v1/feedback/bulk", json=[record(i) for i in range(5)])
    assert r.status_code == 200, r.text
    with db.unit_of_work() as session:
        rows = session.scalars(select(FeedbackRecord).order_by(FeedbackRecord.id)).all()
        for stored, (label, score) in zip(rows, scored, strict=False):  # the fifth text stays unscored
            stored.sentiment_label, stored.sentiment_score = label, score
    (mean,) = run(db, workspace.id, metric="sentiment_mean")
    scores = [s for _, s in scored]
    avg = sum(scores) / 4
    sd = math.sqrt(sum((s - avg) ** 2 for s in scores) / 3)
    check(mean, (avg, avg - T95_DF3 * sd / 2, avg + T95_DF3 * sd / 2), 4)
    (negative,) = run(db, workspace.id, metric="sentiment_negative")
    check(negative, wilson(2, 4), 4)


def test_churn_rate_counts_flagged_customers(admin_api: TestClient, db: Database, workspace: Workspace) -> None:
    customers = [
        {"churned": True, "segment": "smb"},
        {"churned": False, "segment": "smb"},
        {"Churn": "Yes", "segment": "smb"},  # the original Telco column counts when `churned` is absent
        {"Churn": "No", "segment": "enterprise"},
        {"churned": False, "segment": "enterprise"},
        {"segment": "enterprise"},  # no flag: not counted
    ]
    records = [record(i, customer={"external_id": f"cu{i}", "attributes": attrs}) for i, attrs in enumerate(customers)]
    assert admin_api.post("/api/v1/feedback/bulk", json=records).status_code == 200
    (total,) = run(db, workspace.id, metric="churn_rate")
    check(total, wilson(2, 5), 5)
    enterprise, smb = run(db, workspace.id, metric="churn_rate", group_by=["segment"])
    assert (enterprise.segment, smb.segment) == ({"segment": "enterprise"}, {"segment": "smb"})
    check(enterprise, wilson(0, 2), 2)
    check(smb, wilson(2, 3), 3)
    with pytest.raises(InvalidInput, match="groups and filters by"):
        run(db, workspace.id, metric="churn_rate", group_by=["channel"])


def test_dimension_aliases_and_survey(admin_api: TestClient, db: Database, workspace: Workspace) -> None:
    nps = {"field_id": "nps", "field_type": "nps"}
    records = [
        record(0, value=10, source_type="survey", source_name="onboarding", **nps),
        record(1, value=0, source_type="survey", source_name="onboarding", **nps),
        record(2, value=9, source_type="review", source_name="store", **nps),
    ]
    assert admin_api.post("/api/v1/feedback/bulk", json=records).status_code == 200
    by_channel = run(db, workspace.id, metric="nps", group_by=["channel"])
    by_type = run(db, workspace.id, metric="nps", group_by=["source_type"])
    assert [(r.segment["channel"], r.value, r.n) for r in by_channel] == [("review", 100.0, 1), ("survey", 0.0, 2)]
    assert [(r.value, r.n) for r in by_channel] == [(r.value, r.n) for r in by_type]
    surveys = run(db, workspace.id, metric="nps", group_by=["survey"])
    # Answers from other sources have no survey: one row for them, with the key None.
    assert [(r.segment["survey"], r.n) for r in surveys] == [("onboarding", 2), (None, 1)]
    (question,) = run(db, workspace.id, metric="nps", filters=["question=nps", "source=onboarding"])
    assert (question.value, question.n) == (0.0, 2)


def test_response_and_completion_rates(db: Database, workspace: Workspace) -> None:
    with db.unit_of_work() as session:
        survey = Survey(workspace_id=workspace.id, slug="pulse", name="Pulse", status="live")
        session.add(survey)
        session.flush()
        version = SurveyVersion(survey_id=survey.id, number=1)
        session.add(version)
        session.flush()
        responses = []
        for i, status in enumerate(["completed", "completed", "completed", "started", "started"]):
            response = SurveyResponse(
                workspace_id=workspace.id,
                survey_id=survey.id,
                version_id=version.id,
                submission_id=f"s{i}",
                resume_key=f"key{i}",
                channel="email" if i < 3 else "link",
                status=status,
                started_at=AT + timedelta(hours=i),
            )
            session.add(response)
            responses.append(response)
        session.flush()
        # Six invitations: two answered, three sent and not answered, one never sent (not counted).
        for i in range(6):
            sent = None if i == 5 else AT
            answered = responses[i].id if i < 2 else None
            session.add(
                Invitation(
                    workspace_id=workspace.id,
                    survey_id=survey.id,
                    token=f"tok{i}",
                    status="sent" if sent else "pending",
                    sent_at=sent,
                    response_id=answered,
                )
            )
    (completion,) = run(db, workspace.id, metric="completion_rate")
    check(completion, wilson(3, 5), 5)
    email, link = run(db, workspace.id, metric="completion_rate", group_by=["channel"])
    check(email, wilson(3, 3), 3)
    check(link, wilson(0, 2), 2)
    (rate,) = run(db, workspace.id, metric="response_rate", group_by=["survey"])
    assert rate.segment == {"survey": "pulse"}
    check(rate, wilson(2, 5), 5)


def test_customer_metric_rejects_feedback_dimensions_over_the_api(admin_api: TestClient) -> None:
    r = admin_api.get("/api/v1/metrics", params={"metric": "completion_rate", "group_by": "touchpoint"})
    assert r.status_code == 422, r.text  # like every other bad group_by
    assert "survey, channel, language" in r.json()["detail"]
    assert set(r.json()) >= {"error", "detail", "status", "errors"}
