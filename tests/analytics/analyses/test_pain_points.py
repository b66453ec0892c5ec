"""Pain points: what counts as negative on each scale, texts by sentiment, topics, and the ranking."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from cem.analytics import stats
from cem.feedback import service as feedback_service
from cem.feedback.models import FeedbackRecord
from cem.feedback.schemas import FeedbackIn
from tests.conftest import Workspace

WHEN = datetime(2025, 7, 1, tzinfo=UTC)
JOURNEY = {
    "key": "claims",
    "name": "Claims",
    "stages": [
        {"key": "report", "name": "Report", "touchpoints": [{"key": "form", "name": "Form", "channel": "web"}]},
        {
            "key": "settle",
            "name": "Settle",
            "touchpoints": [
                {"key": "adjuster", "name": "Adjuster", "channel": "phone"},
                {"key": "payout", "name": "Payout", "channel": "email"},
            ],
        },
    ],
}
# touchpoint -> (field type, answers); negative: NPS 0-6, CES 1-3, bottom two of five, 0-4 of ten.
ANSWERS = {
    "form": ("ces", [1, 2, 3, 4, 5, 6, 7] * 6),  # 18 of 42 negative
    "adjuster": ("nps", [0, 3, 6, 7, 8, 9, 10] * 10),  # 30 of 70 negative
    "payout": ("rating", [1, 2, 4, 5, 7, 10] * 5),  # declared 1-10: 1, 2 and 4 negative (up to 4.6): 15 of 30
}


def _records() -> list[FeedbackIn]:
    records = []
    for tp, (field_type, values) in ANSWERS.items():
        for i, value in enumerate(values):
            records.append(
                FeedbackIn(
                    source_type="survey",
                    source_name="claims",
                    submission_id=f"{tp}-{i}",
                    touchpoint=tp,
                    collected_at=WHEN,
                    field_id=f"{tp}-score",
                    field_type=field_type,
                    scale="1-10" if field_type == "rating" else None,
                    value=value,
                )
            )
    for i in range(40):
        records.append(
            FeedbackIn(
                source_type="survey",
                source_name="claims",
                submission_id=f"adjuster-{i}",
                touchpoint="adjuster" if i < 30 else "payout",
                collected_at=WHEN,
                field_id="comment",
                field_type="text",
                value=f"comment {i}",
            )
        )
    return records


def test_negativity_per_scale_texts_and_topics(workspace: Workspace, admin_api: TestClient) -> None:
    journey_id = admin_api.post("/api/v1/journeys", json=JOURNEY).json()["id"]
    with workspace.db.unit_of_work() as session:
        feedback_service.ingest_feedback(session, actor=workspace.principal(), records=_records())
        # Text analytics' output: adjuster texts 0-19 negative about "waiting", the rest positive "friendly";
        # payout texts negative about "waiting" too.
        for i in range(40):
            negative = i < 20 or i >= 30
            session.execute(
                update(FeedbackRecord)
                .where(FeedbackRecord.submission_id == f"adjuster-{i}", FeedbackRecord.field_type == "text")
                .values(
                    sentiment_label="negative" if negative else "positive",
                    topics=["waiting"] if negative else ["friendly"],
                )
            )
    body = admin_api.get(f"/api/v1/analyses/journeys/{journey_id}/pain-points", params={"min_n": 20}).json()
    by_key = {p["touchpoint_key"]: p for p in body["items"]}
    assert (by_key["form"]["negative"], by_key["form"]["n"]) == (18, 42)
    assert (by_key["adjuster"]["negative"], by_key["adjuster"]["n"]) == (30 + 20, 70 + 30)
    assert (by_key["payout"]["negative"], by_key["payout"]["n"]) == (15 + 10, 30 + 10)
    assert [p["touchpoint_key"] for p in body["items"]] == ["adjuster", "payout", "form"]  # by n x share
    adjuster = by_key["adjuster"]
    share = stats.wilson(50, 100)
    assert (adjuster["negative_share"], adjuster["lower"], adjuster["upper"]) == pytest.approx(
        (share.value, share.lower, share.upper)
    )
    assert (adjuster["score"], adjuster["score_lower"]) == pytest.approx((50.0, share.lower))
    assert adjuster["stage_key"] == "settle"

    topics = {t["topic"]: t for t in body["topics"]}
    assert (topics["waiting"]["negative"], topics["waiting"]["n"]) == (30, 30)
    assert topics["waiting"]["touchpoint_key"] == "adjuster"  # 20 of its 30 negative mentions
    friendly = topics["friendly"]
    assert (friendly["negative"], friendly["n"], friendly["status"], friendly["score"]) == (
        0,
        10,
        "not_enough_data",
        None,
    )
    assert body["topics"][0]["topic"] == "waiting"

    few = admin_api.get(f"/api/v1/analyses/journeys/{journey_id}/pain-points", params={"min_n": 50}).json()
    form = next(p for p in few["items"] if p["touchpoint_key"] == "form")
    assert form["status"] == "not_enough_data" and form["score"] is None and form["negative"] == 18
    # Unranked (too few) go last, larger first.
    assert [p["touchpoint_key"] for p in few["items"]] == ["adjuster", "form", "payout"]

    stages = admin_api.get(f"/api/v1/analyses/journeys/{journey_id}/metrics", params={"metric": "nps"}).json()
    settle = stages["stages"][1]
    assert settle["top_pain_point"]["touchpoint_key"] == "adjuster"
    assert settle["n"] == 70 and settle["value"] == pytest.approx(100 * (20 - 30) / 70)
    assert stages["stages"][0]["top_pain_point"]["touchpoint_key"] == "form"  # the only touchpoint of its stage


def test_journey_metrics_refuse_customer_metrics(workspace: Workspace, admin_api: TestClient) -> None:
    journey_id = admin_api.post("/api/v1/journeys", json=JOURNEY).json()["id"]
    r = admin_api.get(f"/api/v1/analyses/journeys/{journey_id}/metrics", params={"metric": "churn_rate"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"]
