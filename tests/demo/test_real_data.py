"""`cem demo` against the real public data: counts derived straight from the CSV files, idempotency, late deliveries."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from statistics import mean

from sqlalchemy import func, select

from cem.config import Settings
from cem.customers.models import Customer, Event
from cem.db.session import Database
from cem.demo.service import build_demo
from cem.feedback.models import FeedbackRecord
from tests.conftest import PASSWORD

OLIST = "olist-ecommerce-subset"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _expected_events(data: Path) -> Counter[str]:
    """Event counts per type, straight from the orders and reviews files."""
    orders = _rows(data / OLIST / "olist_orders_dataset.csv")
    reviews = _rows(data / OLIST / "olist_order_reviews_dataset.csv")
    expected: Counter[str] = Counter()
    for o in orders:
        expected["order.purchased"] += 1
        expected["payment.approved"] += bool(o["order_approved_at"])
        expected["order.shipped"] += bool(o["order_delivered_carrier_date"])
        status = o["order_status"]
        if status == "delivered":
            expected["order.delivered"] += bool(o["order_delivered_customer_date"])
        elif status not in ("shipped", "approved"):
            expected[f"order.{status}"] += 1
    expected["review.submitted"] = len({(r["review_id"], r["order_id"]) for r in reviews})
    return expected


def _expected_feedback(data: Path) -> Counter[tuple[str, str]]:
    """(source, field) counts: one submission per review_id / tweet_id, text fields only when present."""
    first_review: dict[str, dict[str, str]] = {}
    for r in _rows(data / OLIST / "olist_order_reviews_dataset.csv"):
        first_review.setdefault(r["review_id"], r)
    expected: Counter[tuple[str, str]] = Counter()
    for r in first_review.values():
        expected["olist", "review_score"] += 1
        expected["olist", "review_comment_title"] += bool(r["review_comment_title"].strip())
        expected["olist", "review_comment_message"] += bool(r["review_comment_message"].strip())
    tweets = _rows(data / "airline-tweets-sample" / "Tweets_sample_every7th_2000.csv")
    expected["twitter", "text"] = len({t["tweet_id"] for t in tweets})
    return expected


def _expected_customers(data: Path) -> dict[str, int]:
    tweets = _rows(data / "airline-tweets-sample" / "Tweets_sample_every7th_2000.csv")
    return {
        "olist": len({c["customer_unique_id"] for c in _rows(data / OLIST / "olist_customers_dataset.csv")}),
        "twitter": len({t["name"] for t in tweets}),
        "telco": len(_rows(data / "telco-churn" / "WA_Fn-UseC_-Telco-Customer-Churn.csv")),
    }


def _stored(db: Database) -> tuple[dict[str, int], Counter[str], Counter[tuple[str, str]]]:
    with db.unit_of_work(readonly=True) as session:
        ext_ids = session.scalars(select(Customer.external_id)).all()
        customers = Counter(
            "telco" if e and e.startswith("telco:") else "twitter" if e and e.startswith("twitter:") else "olist"
            for e in ext_ids
        )
        events = Counter(dict(session.execute(select(Event.type, func.count()).group_by(Event.type)).all()))
        fr = FeedbackRecord
        feedback = Counter(
            {
                (s, f): n
                for s, f, n in session.execute(
                    select(fr.source_name, fr.field_id, func.count()).group_by(fr.source_name, fr.field_id)
                )
            }
        )
    return dict(customers), events, feedback


def test_demo_loads_the_public_data_once_and_shows_late_deliveries(
    db: Database, settings: Settings, shared_data: Path
) -> None:
    lines: list[str] = []
    report = build_demo(db, settings=settings, data=shared_data, password=PASSWORD, progress=lines.append)
    assert not any("synthetic" in line for line in lines)
    assert report.login.created and report.login.password == PASSWORD

    customers, events, feedback = _stored(db)
    assert customers == _expected_customers(shared_data)
    assert events == _expected_events(shared_data)
    assert feedback == _expected_feedback(shared_data)
    _assert_late_deliveries(db)
    _assert_record_shapes(db)

    again = build_demo(db, settings=settings, data=shared_data, password=PASSWORD)
    assert _stored(db) == (customers, events, feedback)
    assert [(d.customers_created, d.feedback_created) for d in again.datasets] == [(0, 0)] * 3
    assert not again.login.created and again.login.password == PASSWORD  # shown because it still matches


def _assert_late_deliveries(db: Database) -> None:
    """414 of 5,164 delivered orders arrived late, and their reviews score clearly lower."""
    with db.unit_of_work(readonly=True) as session:
        delivered = session.scalars(select(Event.properties).where(Event.type == "order.delivered")).all()
        scores = session.execute(
            select(FeedbackRecord.value_number, FeedbackRecord.meta).where(FeedbackRecord.field_id == "review_score")
        ).all()
    assert len(delivered) == 5164
    assert sum(1 for p in delivered if p["on_time"] is False) == 414
    assert all(p["days_late"] >= 1 for p in delivered if not p["on_time"])
    late = [v for v, meta in scores if meta["delivered_late"] is True]
    on_time = [v for v, meta in scores if meta["delivered_late"] is False]
    assert len(late) > 400 and len(on_time) > 4000
    assert mean(on_time) - mean(late) > 1.5, (mean(on_time), mean(late))


def _assert_record_shapes(db: Database) -> None:
    with db.unit_of_work(readonly=True) as session:
        tweet = session.scalars(
            select(FeedbackRecord).where(FeedbackRecord.submission_id == "570306133677760513")
        ).one()
        telco = session.scalars(select(Customer).where(Customer.external_id == "telco:7590-VHVEG")).one()
        brand_new = session.scalars(select(Customer).where(Customer.external_id == "telco:4472-LVYGI")).one()
        message = session.scalars(
            select(FeedbackRecord).where(
                FeedbackRecord.submission_id == "373cbeecea8286a2b66c97b1b157ec46",
                FeedbackRecord.field_id == "review_comment_message",
            )
        ).one()
        author = session.get(Customer, tweet.customer_id)
    assert (tweet.source_type, tweet.language, tweet.value_text) == (
        "social",
        "en",
        "@VirginAmerica What @dhepburn said.",
    )
    assert tweet.meta["airline"] == "Virgin America" and tweet.meta["airline_sentiment"] == "neutral"
    assert tweet.sentiment_label is None  # the human label is metadata, not an enrichment result
    assert author is not None and author.external_id == "twitter:cairdin"
    assert telco.attributes["tenure"] == 1 and telco.attributes["MonthlyCharges"] == 29.85
    assert telco.attributes["Churn"] == "No" and telco.attributes["churned"] is False
    assert brand_new.attributes["tenure"] == 0 and brand_new.attributes["TotalCharges"] is None
    assert (message.value_text, message.language, message.touchpoint_id is not None) == ("Péssimo", "pt", True)
    assert message.meta["order_status"] == "canceled" and message.meta["delivered_late"] is None
