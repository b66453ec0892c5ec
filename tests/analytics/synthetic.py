"""Seeded data for the engine tests: feedback over four months with touchpoints, customers with plans,
segments and churn flags, sentiment on the text answers and topics (as text analytics would fill them)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import insert, select, update

from cem.customers.models import Customer
from cem.db.session import Database
from cem.distribution.models import Invitation
from cem.feedback.models import FeedbackRecord
from cem.surveys.models import Survey, SurveyResponse, SurveyVersion
from cem.text.topics.models import RecordTopic, Topic

RANGES = {"nps": (0, 10), "ces": (1, 7), "rating": (1, 5)}
JOURNEY = {
    "key": "buy",
    "name": "Buy",
    "stages": [
        {"key": "order", "name": "Order", "touchpoints": [{"key": "checkout", "name": "Checkout", "channel": "web"}]},
        {
            "key": "delivery",
            "name": "Delivery",
            "touchpoints": [
                {"key": "courier", "name": "Courier", "channel": "other"},
                {"key": "tracking", "name": "Tracking", "channel": "app"},
            ],
        },
    ],
}
SENTIMENTS = ("negative", "neutral", "positive", "mixed")


def records(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """Records over four months, sources, languages, touchpoints, CSAT on 5- and 10-point scales, texts."""
    rng = random.Random(seed)
    context = random.Random(seed + 1)  # its own stream: the records' other values stay what they were
    start = datetime(2026, 1, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        field_type = rng.choice(["nps", "nps", "csat", "ces", "rating", "text"])
        value: Any
        if field_type == "csat":
            field_id = rng.choice(["csat5", "csat10"])
            value = rng.randint(1, 5 if field_id == "csat5" else 10)
        elif field_type == "text":
            field_id, value = "comment", f"comment {i}"
        else:
            field_id = field_type
            low, high = RANGES[field_type]
            value = rng.randint(low, high) if field_type == "nps" else round(rng.uniform(low, high), 3)
        record: dict[str, Any] = {
            "source_type": rng.choice(["survey", "review"]),
            "source_name": rng.choice(["app", "web", "store"]),
            "submission_id": f"p{i}",
            "field_id": field_id,
            "field_type": field_type,
            "value": value,
            "language": rng.choice(["en", "pt", None]),
            "collected_at": (start + timedelta(minutes=rng.randint(0, 120 * 24 * 60))).isoformat(),
        }
        if field_id == "csat10":
            record["scale"] = "csat-10"  # declared: scales are never guessed from the answers
        # Half the records name their channel (the rest fall back to their source type), some their handler.
        if context.random() < 0.5:
            record["channel"] = context.choice(["Phone", "ONLINE", "e-mail"])
        if context.random() < 0.6:
            record["agent"] = context.choice(["ana", "bo", "cy"])
            record["team"] = context.choice(["care", "billing", None])
        if rng.random() < 0.7:
            record["touchpoint"] = rng.choice(["checkout", "courier", "tracking"])
        if rng.random() < 0.6:
            plan = rng.choice(["gold", "basic"])
            number = rng.randint(0, 40)
            attributes: dict[str, Any] = {"plan": plan, "segment": rng.choice(["smb", "enterprise"])}
            if number % 4:
                attributes["churned"] = number % 3 == 0  # a quarter carry no flag: not counted by churn_rate
            record["customer"] = {"external_id": f"c{number}-{plan}", "attributes": attributes}
        out.append(record)
    return out


def load(client: TestClient, db: Database, n: int, seed: int = 7) -> None:
    """Post the journey and the records, then score the texts' sentiment (seeded, like text analytics would)."""
    assert client.post("/api/v1/journeys", json=JOURNEY).status_code == 201
    data = records(n, seed)
    for start in range(0, n, 1000):
        r = client.post("/api/v1/feedback/bulk", json=data[start : start + 1000])
        assert r.status_code == 200, r.text
    rng = random.Random(seed)
    with db.unit_of_work() as session:
        texts = session.scalars(select(FeedbackRecord).where(FeedbackRecord.field_type == "text")).all()
        for record in sorted(texts, key=lambda r: r.id):
            label = rng.choice(SENTIMENTS)
            record.sentiment_label = label
            record.sentiment_score = round(rng.uniform(-1, 1), 4) if label != "mixed" else 0.0


def add_surveys(db: Database, workspace_id: int, n_responses: int, seed: int = 7) -> None:
    """Two surveys with responses (started or completed) and invitations (sent or not, answered or not)."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with db.unit_of_work() as session:
        customers = list(session.scalars(select(Customer.id).order_by(Customer.id)))
        surveys = []
        for slug in ("onboarding", "support"):
            survey = Survey(workspace_id=workspace_id, slug=slug, name=slug.title(), status="live")
            session.add(survey)
            session.flush()
            version = SurveyVersion(survey_id=survey.id, number=1)
            session.add(version)
            session.flush()
            surveys.append((survey, version))
        for i in range(n_responses):
            survey, version = rng.choice(surveys)
            at = start + timedelta(minutes=rng.randint(0, 120 * 24 * 60))
            completed = rng.random() < 0.7
            response = SurveyResponse(
                workspace_id=workspace_id,
                survey_id=survey.id,
                version_id=version.id,
                customer_id=rng.choice([None, *customers]) if customers else None,
                submission_id=f"r{i}",
                resume_key=f"k{seed}-{i}",
                language=rng.choice(["en", "pt"]),
                channel=rng.choice(["link", "email", "widget"]),
                status="completed" if completed else "started",
                started_at=at,
                completed_at=at + timedelta(minutes=5) if completed else None,
            )
            session.add(response)
            session.flush()
            if response.channel != "link":
                session.add(_invitation(workspace_id, survey.id, response, f"t{seed}-{i}", at))
        for i in range(n_responses // 2):  # invitations nobody answered, some never sent
            survey, _version = rng.choice(surveys)
            at = start + timedelta(minutes=rng.randint(0, 120 * 24 * 60))
            invitation = _invitation(workspace_id, survey.id, None, f"u{seed}-{i}", at)
            if rng.random() < 0.2:
                invitation.sent_at, invitation.status = None, "pending"
            session.add(invitation)


def _invitation(
    workspace_id: int, survey_id: int, response: SurveyResponse | None, token: str, at: datetime
) -> Invitation:
    return Invitation(
        workspace_id=workspace_id,
        survey_id=survey_id,
        customer_id=response.customer_id if response else None,
        channel=response.channel if response else "email",
        token=token,
        status="sent",
        sent_at=at - timedelta(hours=1),
        response_id=response.id if response else None,
    )


# Level-1 topic -> its subtopics' slugs; "refund" is a rule topic (no subtopics), "old" a deleted tombstone.
TOPICS = {"delivery": ("late", "damaged"), "price": ("expensive",), "app": (), "refund": (), "old": ("gone",)}


def add_topics(db: Database, workspace_id: int, seed: int = 7) -> None:
    """Topics with subtopics, assigned as cem.text.topics would (a subtopic with its parent), written directly.

    About half the records carry a discovered topic (and often one of its subtopics), some a rule topic too, so a
    record can have two; the tombstone keeps record_topic rows that every engine must ignore."""
    rng = random.Random(seed)
    with db.unit_of_work() as session:
        ids: dict[str, int] = {}
        for key, slugs in TOPICS.items():
            status = "deleted" if key == "old" else "active"
            kind = "rule" if key == "refund" else "discovered"
            parent = Topic(workspace_id=workspace_id, key=key, label=key.title(), kind=kind, status=status)
            session.add(parent)
            session.flush()
            ids[key] = parent.id
            for slug in slugs:
                sub = Topic(workspace_id=workspace_id, key=f"{key}/{slug}", label=slug, parent_id=parent.id)
                sub.status = status
                session.add(sub)
                session.flush()
                ids[sub.key] = sub.id
        records = list(session.scalars(select(FeedbackRecord.id).order_by(FeedbackRecord.id)))
        rows: list[dict[str, Any]] = []
        mirror: list[dict[str, Any]] = []
        for record_id in records:
            keys: list[str] = []
            if rng.random() < 0.5:
                topic = rng.choice(["delivery", "price", "app", "old"])
                keys.append(topic)
                if TOPICS[topic] and rng.random() < 0.6:
                    keys.append(f"{topic}/{rng.choice(TOPICS[topic])}")
            if rng.random() < 0.15:
                keys.append("refund")
            rows.extend({"record_id": record_id, "topic_id": ids[k], "score": 0.9} for k in keys)
            mirror.append({"id": record_id, "topics": [k for k in keys if not k.startswith("old")]})
        session.execute(insert(RecordTopic), rows)
        session.execute(update(FeedbackRecord), mirror)
