"""A/B comparison (NPS adjusted-Wald z, proportions z) with hand-computed figures; experience targets CRUD."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from statistics import NormalDist

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from cem.analytics import stats
from cem.analytics.analyses.gaps import one_sample_p
from cem.auth.models import AuditLog
from cem.customers import service as customer_service
from cem.customers.schemas import CustomerRef, EventIn
from cem.feedback import service as feedback_service
from cem.feedback.models import FeedbackRecord
from cem.feedback.schemas import FeedbackIn
from tests.conftest import Workspace

Z95 = NormalDist().inv_cdf(0.975)
WHEN = datetime(2025, 5, 1, tzinfo=UTC)
# flow -> NPS answers (0-10): flow b converts detractors into promoters.
ANSWERS = {
    "a": [10] * 20 + [8] * 15 + [3] * 25,
    "b": [10] * 35 + [7] * 15 + [2] * 10,
}


def _adjusted(scores: list[int]) -> tuple[float, float, float]:
    """NPS, adjusted NPS' and Var' (Rocks 2016), written out."""
    n = len(scores)
    promoters = sum(s >= 9 for s in scores)
    detractors = sum(s <= 6 for s in scores)
    p, d = (promoters + 0.75) / (n + 3), (detractors + 0.75) / (n + 3)
    return 100 * (promoters - detractors) / n, 100 * (p - d), 10_000 * (p + d - (p - d) ** 2) / (n + 3)


@pytest.fixture
def onboarding(workspace: Workspace) -> Workspace:
    """Customers in two onboarding flows (attribute and event), each answering NPS and a CSAT question."""
    records, events, customers = [], [], []
    for flow, scores in ANSWERS.items():
        for i, score in enumerate(scores):
            who = f"{flow}-{i}"
            customers.append(CustomerRef(external_id=who, attributes={"flow": flow}))
            # Everyone was first put in the other flow, then moved: the latest event is the variant.
            for k, seen in enumerate(("b" if flow == "a" else "a", flow)):
                events.append(
                    EventIn(
                        customer=CustomerRef(external_id=who),
                        type="onboarding.completed",
                        occurred_at=WHEN - timedelta(days=10 - k),
                        properties={"flow": seen},
                        external_id=f"{who}-{k}",
                    )
                )
            common = {"source_type": "survey", "source_name": "onboarding", "submission_id": who, "collected_at": WHEN}
            records.append(
                FeedbackIn(
                    **common, customer=CustomerRef(external_id=who), field_id="nps", field_type="nps", value=score
                )
            )
            satisfied = 5 if score >= 7 else 2
            records.append(
                FeedbackIn(
                    **common,
                    customer=CustomerRef(external_id=who),
                    field_id="csat",
                    field_type="csat",
                    value=satisfied,
                    metadata={"cohort": flow},
                )
            )
    actor = workspace.principal()
    with workspace.db.unit_of_work() as session:
        customer_service.resolve_customers(session, workspace_id=workspace.id, refs=customers)
        customer_service.ingest_events(session, actor=actor, events=events)
        feedback_service.ingest_feedback(session, actor=actor, records=records)
    return workspace


@pytest.mark.parametrize(
    "variant",
    [
        {"variant_source": "customer", "variant_key": "flow"},
        {"variant_source": "event", "variant_key": "flow", "event_type": "onboarding.completed"},
    ],
)
def test_nps_between_onboarding_flows(onboarding: Workspace, admin_api: TestClient, variant: dict[str, str]) -> None:
    body = admin_api.get("/api/v1/analyses/compare", params={"metric": "nps", **variant}).json()
    assert body["control"] == "a"
    for v in body["variants"]:
        nps, centre, var = _adjusted(ANSWERS[v["variant"]])
        assert v["n"] == 60
        assert v["value"] == pytest.approx(nps)
        assert v["lower"] == pytest.approx(centre - Z95 * math.sqrt(var))
        assert v["upper"] == pytest.approx(centre + Z95 * math.sqrt(var))
    (comp,) = body["comparisons"]
    nps_a, centre_a, var_a = _adjusted(ANSWERS["a"])
    nps_b, centre_b, var_b = _adjusted(ANSWERS["b"])
    z = (centre_b - centre_a) / math.sqrt(var_a + var_b)
    assert comp["test"] == "z_adjusted_wald"
    assert comp["difference"] == pytest.approx(nps_b - nps_a)
    assert comp["p_value"] == pytest.approx(2 * (1 - NormalDist().cdf(abs(z))))
    assert comp["lower"] == pytest.approx(centre_b - centre_a - Z95 * math.sqrt(var_a + var_b))
    assert comp["significant"] is (comp["p_value"] < 0.05)
    assert body["unassigned"] == 0


def test_csat_share_between_cohorts_from_feedback_metadata(onboarding: Workspace, admin_api: TestClient) -> None:
    params = {"metric": "csat", "variant_source": "feedback", "variant_key": "cohort", "control": "b"}
    body = admin_api.get("/api/v1/analyses/compare", params=params).json()
    shares = {flow: sum(s >= 7 for s in scores) / len(scores) for flow, scores in ANSWERS.items()}
    values = {v["variant"]: v["value"] for v in body["variants"]}
    assert values == pytest.approx({k: 100 * v for k, v in shares.items()})
    (comp,) = body["comparisons"]
    se = math.sqrt(sum(p * (1 - p) / 60 for p in shares.values()))
    z = (shares["a"] - shares["b"]) / se
    assert comp["test"] == "z_proportion" and comp["variant"] == "a"
    assert comp["p_value"] == pytest.approx(2 * (1 - NormalDist().cdf(abs(z))))
    # A filter narrows the records before they are split: no CSAT in another source.
    none = admin_api.get("/api/v1/analyses/compare", params={**params, "filter": "source_name=elsewhere"})
    assert none.status_code == 422 and "'b' has no records" in none.json()["detail"]


BAD_COMPARISONS: list[tuple[dict[str, str], int, str]] = [
    ({"metric": "nope", "variant_source": "customer", "variant_key": "flow"}, 404, "Unknown metric"),
    ({"metric": "nps", "variant_source": "event", "variant_key": "flow"}, 422, "event_type is required"),
    ({"metric": "nps", "variant_source": "event", "variant_key": "flow", "event_type": "x.y"}, 422, "No events"),
    ({"metric": "nps", "variant_source": "customer", "variant_key": "flow", "control": "c"}, 422, "'c'"),
    ({"metric": "nps", "variant_source": "customer", "variant_key": "flow", "filter": "colour=red"}, 422, "colour"),
    ({"metric": "nps", "variant_source": "crm", "variant_key": "flow"}, 422, "variant_source"),
    (
        {
            "metric": "nps",
            "variant_source": "customer",
            "variant_key": "f",
            "date_from": "2025-02-01",
            "date_to": "2025-01-01",
        },
        422,
        "date_from is after date_to",
    ),
]


def test_bad_comparisons(onboarding: Workspace, admin_api: TestClient) -> None:
    for params, status, needle in BAD_COMPARISONS:
        r = admin_api.get("/api/v1/analyses/compare", params=params)
        assert r.status_code == status, (params, r.text)
        body = r.json()
        assert set(body) == {"error", "detail", "status", "errors"}
        assert needle in body["detail"] or needle in str(body["errors"]), (params, body)


def _touchpoint(admin_api: TestClient) -> tuple[int, int]:
    journey = {
        "key": "onboarding",
        "name": "Onboarding",
        "stages": [
            {"key": "setup", "name": "Setup", "touchpoints": [{"key": "wizard", "name": "Wizard", "channel": "app"}]}
        ],
    }
    body = admin_api.post("/api/v1/journeys", json=journey).json()
    stage = body["stages"][0]
    return stage["id"], stage["touchpoints"][0]["id"]


def test_targets_are_set_replaced_listed_and_removed(workspace: Workspace, admin_api: TestClient, api: object) -> None:
    stage_id, tp_id = _touchpoint(admin_api)
    first = admin_api.put("/api/v1/analyses/targets", json={"touchpoint_id": tp_id, "metric": "csat", "target": 80})
    assert first.status_code == 200, first.text
    again = admin_api.put(
        "/api/v1/analyses/targets", json={"touchpoint_id": tp_id, "metric": "csat", "target": 85, "note": "Q3 goal"}
    ).json()
    assert again["id"] == first.json()["id"] and again["target"] == 85 and again["note"] == "Q3 goal"
    assert (again["scope"], again["key"], again["journey_key"]) == ("touchpoint", "wizard", "onboarding")
    stage = admin_api.put("/api/v1/analyses/targets", json={"stage_id": stage_id, "metric": "nps", "target": 30}).json()
    listed = admin_api.get("/api/v1/analyses/targets").json()
    assert [(t["scope"], t["metric"], t["target"]) for t in listed] == [
        ("touchpoint", "csat", 85),
        ("stage", "nps", 30),
    ]

    bad = [
        ({"touchpoint_id": tp_id, "stage_id": stage_id, "metric": "csat", "target": 1}, 422, "exactly one"),
        ({"metric": "csat", "target": 1}, 422, "exactly one"),
        ({"touchpoint_id": 999999, "metric": "csat", "target": 1}, 404, "999999"),
        ({"stage_id": 999999, "metric": "csat", "target": 1}, 404, "999999"),
        ({"touchpoint_id": tp_id, "metric": "nps", "target": 150}, 422, "between -100 and 100"),
        ({"touchpoint_id": tp_id, "metric": "csat", "target": -5}, 422, "between 0 and 100"),
        ({"touchpoint_id": tp_id, "metric": "feedback_volume", "target": 5}, 422, "count"),
        ({"touchpoint_id": tp_id, "metric": "nope", "target": 5}, 404, "Unknown metric"),
        ({"touchpoint_id": tp_id, "metric": "churn_rate", "target": 5}, 422, "not measured on feedback"),
        ({"touchpoint_id": tp_id, "metric": "csat", "target": "high"}, 422, "target"),
    ]
    for payload, status, needle in bad:
        r = admin_api.put("/api/v1/analyses/targets", json=payload)
        assert r.status_code == status, (payload, r.text)
        assert needle in r.json()["detail"] or needle in str(r.json()["errors"]), r.json()
    assert admin_api.get("/api/v1/analyses/targets").json() == listed  # nothing changed by bad input

    viewer = api("viewer")  # type: ignore[operator]
    assert (
        viewer.put("/api/v1/analyses/targets", json={"stage_id": stage_id, "metric": "nps", "target": 1}).status_code
        == 403
    )
    assert viewer.get("/api/v1/analyses/targets").status_code == 200

    assert admin_api.delete(f"/api/v1/analyses/targets/{stage['id']}").json() == {"deleted": stage["id"]}
    assert admin_api.delete(f"/api/v1/analyses/targets/{stage['id']}").status_code == 404
    assert len(admin_api.get("/api/v1/analyses/targets").json()) == 1
    with workspace.db.unit_of_work(readonly=True) as session:
        actions = list(session.scalars(select(AuditLog.action).where(AuditLog.entity_type == "experience_target")))
    assert actions == ["experience_target.set"] * 3 + ["experience_target.delete"]

    gaps = admin_api.get("/api/v1/analyses/gaps").json()["items"]
    assert [(g["key"], g["status"], g["n"]) for g in gaps] == [("wizard", "not_enough_data", 0)]
    assert admin_api.get("/api/v1/analyses/gaps", params={"journey_id": 999999}).status_code == 404
    assert admin_api.get("/api/v1/analyses/gaps", params={"metric": "nope"}).status_code == 404


def test_journey_analyses_of_an_unknown_journey_are_404(admin_api: TestClient) -> None:
    for part in ("metrics", "funnel", "pain-points"):
        r = admin_api.get(f"/api/v1/analyses/journeys/999999/{part}")
        assert r.status_code == 404 and "999999" in r.json()["detail"]
    r = admin_api.get("/api/v1/analyses/journeys/1/metrics", params={"metric": "nope"})
    assert r.status_code == 404


def test_gap_p_values_use_each_metric_test() -> None:
    """One-sample tests against the promise, recomputed from the reported interval exactly as written here."""
    normal = NormalDist()
    # CSAT 70 % of 100 against 80 %: z = (0.7 - 0.8) / sqrt(0.7 * 0.3 / 100).
    est = stats.wilson(70, 100)
    assert est.value is not None
    z = (0.7 - 0.8) / math.sqrt(0.21 / 100)
    assert one_sample_p("csat", est.value, est.lower, est.upper, 100, 80, 0.95) == pytest.approx(2 * normal.cdf(z))
    # NPS: the adjusted-Wald centre and variance against 40.
    nps, centre, var = _adjusted(ANSWERS["a"])
    lower, upper = centre - Z95 * math.sqrt(var), centre + Z95 * math.sqrt(var)
    z = (centre - 40) / math.sqrt(var)
    assert one_sample_p("nps", nps, lower, upper, 60, 40, 0.95) == pytest.approx(2 * (1 - normal.cdf(abs(z))))
    # Mean rating 4.1 (sd 1, n 50) against 4.5: t with 49 degrees of freedom.
    half = stats.t_quantile(0.975, 49) * 1 / math.sqrt(50)
    t = (4.1 - 4.5) / (1 / math.sqrt(50))
    expected = 2 * (1 - stats.t_cdf(abs(t), 49))
    assert one_sample_p("rating_mean", 4.1, 4.1 - half, 4.1 + half, 50, 4.5, 0.95) == pytest.approx(expected)
    assert one_sample_p("rating_mean", None, None, None, 10, 4.5, 0.95) is None


def test_only_the_named_variants(onboarding: Workspace, admin_api: TestClient) -> None:
    params = {"metric": "nps", "variant_source": "customer", "variant_key": "flow", "variant": ["b"], "control": "b"}
    body = admin_api.get("/api/v1/analyses/compare", params=params).json()
    assert [v["variant"] for v in body["variants"]] == ["b"] and body["comparisons"] == []
    params["variant"] = ["b", "c"]  # a named variant without records is shown empty, never dropped
    body = admin_api.get("/api/v1/analyses/compare", params=params).json()
    empty = next(v for v in body["variants"] if v["variant"] == "c")
    assert (empty["n"], empty["status"], empty["value"]) == (0, "not_enough_data", None)
    assert body["comparisons"][0]["p_value"] is None


def test_date_range_limits_the_compared_records(onboarding: Workspace, admin_api: TestClient) -> None:
    base = {"metric": "nps", "variant_source": "customer", "variant_key": "flow"}
    inside = admin_api.get(
        "/api/v1/analyses/compare", params={**base, "date_from": "2025-05-01", "date_to": "2025-05-01"}
    )
    assert [v["n"] for v in inside.json()["variants"]] == [60, 60]
    before = admin_api.get("/api/v1/analyses/compare", params={**base, "date_to": "2025-04-30"}).json()
    assert (before["variants"], before["comparisons"], before["control"]) == ([], [], None)


def test_sentiment_metrics_by_variant_and_customer_metrics_refused(
    onboarding: Workspace, admin_api: TestClient
) -> None:
    """Metrics on other columns of the record (text analytics' sentiment) split the same way."""
    with onboarding.db.unit_of_work() as session:
        for flow in ("a", "b"):
            for i in range(60):
                negative = flow == "a" and i < 30
                session.execute(
                    update(FeedbackRecord)
                    .where(FeedbackRecord.submission_id == f"{flow}-{i}", FeedbackRecord.field_id == "csat")
                    .values(
                        sentiment_label="negative" if negative else "positive",
                        sentiment_score=-0.5 if negative else 0.5,
                    )
                )
    base = {"variant_source": "customer", "variant_key": "flow"}
    share = admin_api.get("/api/v1/analyses/compare", params={**base, "metric": "sentiment_negative"}).json()
    assert [(v["variant"], v["n"], v["value"]) for v in share["variants"]] == [("a", 60, 50.0), ("b", 60, 0.0)]
    assert share["comparisons"][0]["test"] == "z_proportion"
    mean = admin_api.get("/api/v1/analyses/compare", params={**base, "metric": "sentiment_mean"}).json()
    assert [(v["variant"], v["value"]) for v in mean["variants"]] == [("a", 0.0), ("b", 0.5)]
    assert mean["comparisons"][0]["test"] == "welch_t" and mean["comparisons"][0]["difference"] == 0.5
    # Churn counts customers: nobody here carries a churn flag, and feedback metadata cannot split customers.
    churn = admin_api.get("/api/v1/analyses/compare", params={**base, "metric": "churn_rate"}).json()
    assert churn["variants"] == [] and churn["unassigned"] == 0
    by_meta = {"metric": "churn_rate", "variant_source": "feedback", "variant_key": "cohort"}
    r = admin_api.get("/api/v1/analyses/compare", params=by_meta)
    assert r.status_code == 422 and "counts customers" in r.json()["detail"]
    r = admin_api.get("/api/v1/analyses/compare", params={**base, "metric": "churn_rate", "filter": "touchpoint=x"})
    assert r.status_code == 422 and "customer attributes only" in r.json()["detail"]
