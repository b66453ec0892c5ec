"""Journey analyses on the real Olist data: late deliveries score clearly lower, funnel, pain points, gaps.

A sample keeps it fast: every late delivery, every third other order (with their customers, items, payments
and reviews), loaded through the demo's own loader as `cem demo` does.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from statistics import mean, median, variance

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cem.analytics import stats
from cem.customers.models import Event
from cem.db.session import Database
from cem.demo import olist
from cem.demo.loader import store_batch
from cem.demo.program import JOURNEY_KEY, ensure_journey
from cem.demo.sources import CsvTable
from cem.feedback.models import FeedbackRecord
from cem.journeys.models import Journey, JourneyStage, Touchpoint
from tests.conftest import Workspace


@dataclass
class Loaded:
    journey_id: int
    scores: dict[str, list[float]]  # "true"/"false" (delivered late) -> review scores, from the CSV files


def _sample(tables: olist.OlistTables) -> olist.OlistTables:
    orders = tables.orders
    keep: set[str] = set()
    for i, row in enumerate(orders.rows):
        late = (
            row["order_status"] == "delivered"
            and row["order_delivered_customer_date"]
            and row["order_estimated_delivery_date"]
            and row["order_delivered_customer_date"] > row["order_estimated_delivery_date"]
        )
        if late or i % 3 == 0:
            keep.add(row["order_id"])
    people = {r["customer_id"] for r in orders.rows if r["order_id"] in keep}

    def only(table: CsvTable, column: str, allowed: set[str]) -> CsvTable:
        pairs = [(line, row) for line, row in table if row[column] in allowed]
        return CsvTable(table.name, [r for _, r in pairs], [line for line, _ in pairs])

    # Reviews of kept orders only; the expected figures below are computed from these same rows.
    reviews = only(tables.reviews, "order_id", keep)
    return olist.OlistTables(
        orders=only(orders, "order_id", keep),
        customers=only(tables.customers, "customer_id", people),
        items=only(tables.items, "order_id", keep),
        payments=only(tables.payments, "order_id", keep),
        reviews=reviews,
    )


def _expected_scores(tables: olist.OlistTables) -> dict[str, list[float]]:
    """Review score by whether any reviewed order arrived after its estimate, straight from the CSV rows."""
    orders = {r["order_id"]: r for r in tables.orders.rows}
    by_review: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in tables.reviews.rows:
        by_review[r["review_id"]].append(r)
    scores: dict[str, list[float]] = {"true": [], "false": []}
    for rows in by_review.values():
        lateness = []
        for r in rows:
            o = orders[r["order_id"]]
            if (
                o["order_status"] == "delivered"
                and o["order_delivered_customer_date"]
                and o["order_estimated_delivery_date"]
            ):
                lateness.append(o["order_delivered_customer_date"] > o["order_estimated_delivery_date"])
        if lateness:
            scores["true" if any(lateness) else "false"].append(float(rows[0]["review_score"]))
    return scores


@pytest.fixture
def loaded(workspace: Workspace, shared_data: Path) -> Iterator[Loaded]:
    tables = _sample(olist.read_tables(shared_data / olist.FOLDER))
    actor = workspace.principal()
    with workspace.db.unit_of_work() as session:
        journey_id = ensure_journey(session, actor=actor)
    store_batch(workspace.db, actor=actor, batch=olist.retail_batch(tables, source_name="olist"))
    yield Loaded(journey_id=journey_id, scores=_expected_scores(tables))


def test_journey_analyses_on_the_real_olist_sample(loaded: Loaded, admin_api: TestClient, db: Database) -> None:
    """One load, every analysis (loading dominates the time)."""
    _late_deliveries_score_clearly_lower_with_the_interval(loaded, admin_api)
    _the_same_split_from_the_delivery_event(loaded, admin_api)
    _funnel_counts_drop_off_and_time_between_stages(loaded, admin_api, db)
    _stage_metrics_pain_points_and_gaps(loaded, admin_api)


def _welch_p(a: list[float], b: list[float]) -> float:
    va, vb = variance(a) / len(a), variance(b) / len(b)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    t = (mean(a) - mean(b)) / math.sqrt(va + vb)
    return 2 * (1 - stats.t_cdf(abs(t), df))


def _late_deliveries_score_clearly_lower_with_the_interval(loaded: Loaded, admin_api: TestClient) -> None:
    late, on_time = loaded.scores["true"], loaded.scores["false"]
    assert len(late) > 300 and len(on_time) > 1000  # every late delivery of the subset is in the sample
    r = admin_api.get(
        "/api/v1/analyses/compare",
        params={
            "metric": "rating_mean",
            "variant_source": "feedback",
            "variant_key": "delivered_late",
            "control": "false",
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    variants = {v["variant"]: v for v in body["variants"]}
    assert variants["true"]["n"] == len(late) and variants["false"]["n"] == len(on_time)
    assert variants["true"]["value"] == pytest.approx(mean(late), abs=1e-9)
    assert variants["false"]["value"] == pytest.approx(mean(on_time), abs=1e-9)
    (comparison,) = body["comparisons"]
    assert comparison["test"] == "welch_t" and comparison["variant"] == "true"
    assert comparison["difference"] == pytest.approx(mean(late) - mean(on_time), abs=1e-9)
    # Clearly lower: the whole interval of the difference lies more than a point below zero.
    assert comparison["upper"] < -1.0 and comparison["lower"] < comparison["difference"] < comparison["upper"]
    assert variants["true"]["upper"] < variants["false"]["lower"]
    assert comparison["p_value"] == pytest.approx(_welch_p(late, on_time), abs=1e-12)
    assert comparison["p_value"] < 1e-12 and comparison["significant"] is True
    assert body["unassigned"] > 0  # reviews of orders that never arrived have no lateness


def _the_same_split_from_the_delivery_event(loaded: Loaded, admin_api: TestClient) -> None:
    """Variant from an event property: the customer's latest order.delivered event, on_time true/false."""
    params = {
        "metric": "rating_mean",
        "variant_source": "event",
        "event_type": "order.delivered",
        "variant_key": "on_time",
    }
    body = admin_api.get("/api/v1/analyses/compare", params=params).json()
    values = {v["variant"]: v for v in body["variants"]}
    assert set(values) == {"false", "true"}
    (comparison,) = body["comparisons"]
    assert comparison["control"] == "false"  # alphabetical first when no control is named
    assert comparison["difference"] > 1.0 and comparison["lower"] > 1.0  # on time minus late
    # Customers mostly place one order, so the event split is close to the per-review split.
    assert values["false"]["value"] == pytest.approx(mean(loaded.scores["true"]), abs=0.1)


def _stage_sets(db: Database) -> tuple[list[str], dict[int, dict[str, list[object]]]]:
    """customer -> stage key -> times of their events and feedback there, from the stored rows."""
    with db.unit_of_work(readonly=True) as session:
        stages = list(
            session.execute(
                select(Touchpoint.id, JourneyStage.key, JourneyStage.position)
                .join(JourneyStage, JourneyStage.id == Touchpoint.stage_id)
                .join(Journey, Journey.id == JourneyStage.journey_id)
                .where(Journey.key == JOURNEY_KEY)
            )
        )
        stage_of = {tp: key for tp, key, _ in stages}
        order = [key for key, _ in sorted({(k, p) for _, k, p in stages}, key=lambda kp: kp[1])]
        times: dict[int, dict[str, list[object]]] = defaultdict(lambda: defaultdict(list))
        for cid, tp, at in session.execute(select(Event.customer_id, Event.touchpoint_id, Event.occurred_at)):
            if tp in stage_of:
                times[cid][stage_of[tp]].append(at)
        rows = select(FeedbackRecord.customer_id, FeedbackRecord.touchpoint_id, FeedbackRecord.collected_at)
        for cid, tp, at in session.execute(rows):
            if tp in stage_of and cid is not None:
                times[cid][stage_of[tp]].append(at)
    return order, times


def _funnel_counts_drop_off_and_time_between_stages(loaded: Loaded, admin_api: TestClient, db: Database) -> None:
    order, times = _stage_sets(db)
    body = admin_api.get(f"/api/v1/analyses/journeys/{loaded.journey_id}/funnel").json()
    assert (
        [s["key"] for s in body["stages"]]
        == order
        == [
            "purchase",
            "payment-approval",
            "shipping",
            "delivery",
            "review",
        ]
    )
    assert body["customers"] == len(times)
    for i, stage in enumerate(body["stages"]):
        here = {c for c, by in times.items() if order[i] in by}
        assert stage["reached"] == len(here)
        if i + 1 == len(order):
            assert stage["continued"] is None and stage["median_hours"] is None
            continue
        nxt = order[i + 1]
        both = {c for c in here if nxt in times[c]}
        assert (stage["continued"], stage["drop_off"]) == (len(both), len(here) - len(both))
        rate = stats.wilson(len(here) - len(both), len(here), min_n=1)
        assert stage["drop_off_rate"] == pytest.approx(rate.value)
        assert stage["drop_off_lower"] == pytest.approx(rate.lower)
        hours = [
            (min(times[c][nxt]) - min(times[c][order[i]])).total_seconds() / 3600  # type: ignore[operator]
            for c in both
            if min(times[c][nxt]) >= min(times[c][order[i]])  # type: ignore[operator]
        ]
        assert stage["timed_n"] == len(hours)
        assert stage["median_hours"] == pytest.approx(median(hours))
        assert stage["p75_hours"] == pytest.approx(float(np.percentile(hours, 75)))
    purchase, approval = body["stages"][0], body["stages"][1]
    assert purchase["share"] == 100.0 and 0 < approval["median_hours"] < 48  # payment approval within hours
    shipping = body["stages"][2]
    assert shipping["drop_off"] > 0  # the subset keeps orders that were shipped and never arrived


def _stage_metrics_pain_points_and_gaps(loaded: Loaded, admin_api: TestClient) -> None:
    scores = [s for group in loaded.scores.values() for s in group]
    jid = loaded.journey_id
    body = admin_api.get(f"/api/v1/analyses/journeys/{jid}/metrics", params={"metric": "rating_mean"}).json()
    stages = {s["key"]: s for s in body["stages"]}
    assert body["stages"][0]["key"] == "purchase"
    assert stages["purchase"]["status"] == "not_enough_data" and stages["purchase"]["n"] == 0
    review = stages["review"]
    site = next(t for t in review["touchpoints"] if t["key"] == "review-site")
    assert review["n"] == site["n"] >= len(scores)  # also reviews of orders never delivered
    assert review["volume"] > review["n"]  # comment texts count as feedback volume, not as ratings
    assert review["lower"] < review["value"] < review["upper"]

    pains = admin_api.get(f"/api/v1/analyses/journeys/{jid}/pain-points").json()["items"]
    top = pains[0]
    assert top["touchpoint_key"] == "review-site" and review["top_pain_point"]["touchpoint_key"] == "review-site"
    assert top["n"] == site["n"]
    share = stats.wilson(top["negative"], top["n"])
    assert top["negative_share"] == pytest.approx(share.value)
    assert top["score"] == pytest.approx(top["negative"])  # volume x share negative
    assert top["score_lower"] == pytest.approx(top["n"] * share.lower / 100)
    assert all(p["status"] == "not_enough_data" for p in pains[1:])  # no other touchpoint holds ratings

    site_id = site["touchpoint_id"]
    r = admin_api.put(
        "/api/v1/analyses/targets", json={"touchpoint_id": site_id, "metric": "rating_mean", "target": 4.5}
    )
    assert r.status_code == 200, r.text
    stage_target = {"stage_id": stages["delivery"]["stage_id"], "metric": "nps", "target": 40}
    assert admin_api.put("/api/v1/analyses/targets", json=stage_target).status_code == 200
    gaps = admin_api.get("/api/v1/analyses/gaps", params={"journey_id": jid}).json()["items"]
    assert [g["key"] for g in gaps] == ["review-site", "delivery"]  # measured shortfall first, no data last
    gap = gaps[0]
    assert gap["perceived"] == pytest.approx(review["value"]) and gap["promised"] == 4.5
    assert gap["gap"] == pytest.approx(review["value"] - 4.5) and gap["status"] == "below"
    assert gap["gap_upper"] == pytest.approx(review["upper"] - 4.5)
    assert gap["gap_upper"] < 0
    assert gap["p_value"] < 1e-6
    assert gaps[1]["status"] == "not_enough_data" and gaps[1]["perceived"] is None
