"""Seeded programs for the home page tests (web and browser): three months of answers, texts and topics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from cem.customers import service as customer_service
from cem.customers.schemas import CustomerIn, CustomerRef
from cem.feedback import service as feedback_service
from cem.feedback.models import FeedbackRecord
from cem.text.topics.models import RecordTopic, Topic
from tests.conftest import Workspace
from tests.web.helpers import INJECTIONS, feedback_in

MONTHS = (datetime(2025, 1, 5, tzinfo=UTC), datetime(2025, 2, 5, tzinfo=UTC), datetime(2025, 3, 5, tzinfo=UTC))
HOSTILE = INJECTIONS[0] + " the courier " + INJECTIONS[1]
LONG_HASH = "9f86d081884c7d659a2feaa0c55ad015"


def seed_program(ws: Workspace) -> None:
    """Three months of NPS and CSAT answers (promoters grow month by month), with texts scored for sentiment."""
    actor = ws.principal()
    records = []
    with ws.db.unit_of_work() as session:
        customer_service.upsert_customer(
            session, actor=actor, customer_in=CustomerIn(external_id=LONG_HASH, attributes={})
        )
        named, _ = customer_service.upsert_customer(
            session, actor=actor, customer_in=CustomerIn(external_id="c-grace", name="Grace Hopper", attributes={})
        )
    for m, start in enumerate(MONTHS):
        for i in range(40):
            sub = f"m{m}-{i}"
            at = start + timedelta(hours=i)
            score = 10 if i < 10 + 8 * m else (7 if i < 30 else 3)
            records.append(feedback_in(None, "survey", "relationship", sub, "nps", "nps", score, at, touchpoint=None))
            records.append(feedback_in(None, "survey", "relationship", sub, "sat", "csat", 5 if i % 3 else 2, at))
    hater = CustomerRef(external_id=LONG_HASH)
    fan = CustomerRef(external_id="c-grace")
    last = MONTHS[-1] + timedelta(days=2)
    records.append(feedback_in(hater, "survey", "relationship", "hate", "nps", "nps", 1, last))
    records.append(feedback_in(hater, "survey", "relationship", "hate", "why", "text", HOSTILE, last))
    records.append(
        feedback_in(
            fan,
            "survey",
            "relationship",
            "love",
            "why",
            "text",
            "Wonderful support team, write to grace@example.com",
            last,
        )
    )
    with ws.db.unit_of_work() as session:
        feedback_service.ingest_feedback(session, actor=actor, records=records)
        for sub, score, label in (("hate", -0.9, "negative"), ("love", 0.8, "positive")):
            session.execute(
                update(FeedbackRecord)
                .where(FeedbackRecord.submission_id == sub, FeedbackRecord.field_type == "text")
                .values(sentiment_score=score, sentiment_label=label)
            )
    assert named.id


def seed_topics(ws: Workspace) -> None:
    """Forty comments a month in two topics: delays grow from 20 % to 80 % of the mentions, praise shrinks."""
    texts = []
    for m, start in enumerate(MONTHS):
        for i in range(40):
            topic = "late" if i < 8 + 12 * m else "staff"
            texts.append(
                feedback_in(None, "survey", "relationship", f"m{m}-{i}", "comment", "text", f"{topic} {i}", start)
            )
    with ws.db.unit_of_work() as session:
        feedback_service.ingest_feedback(session, actor=ws.principal(), records=texts)
        topics = {
            key: Topic(workspace_id=ws.id, key=key, label=label, kind="rule")
            for key, label in (("late", "Delivery <b>delays</b>"), ("staff", "Friendly staff"))
        }
        session.add_all(topics.values())
        session.flush()
        rows = session.execute(
            select(FeedbackRecord.id, FeedbackRecord.value_text).where(FeedbackRecord.field_id == "comment")
        )
        session.add_all(RecordTopic(record_id=rid, topic_id=topics[text.split()[0]].id) for rid, text in rows)
