"""The home page: the state of the program (metric tiles, movers, topics, verbatims, cases) for every role."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from cem.customers import service as customer_service
from cem.customers.schemas import CustomerIn, CustomerRef
from cem.feedback import service as feedback_service
from cem.feedback.models import FeedbackRecord
from tests.conftest import Workspace
from tests.web.helpers import INJECTIONS, WebUser, feedback_in

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
    records.append(feedback_in(fan, "survey", "relationship", "love", "why", "text", "Wonderful support team", last))
    with ws.db.unit_of_work() as session:
        feedback_service.ingest_feedback(session, actor=actor, records=records)
        for sub, score, label in (("hate", -0.9, "negative"), ("love", 0.8, "positive")):
            session.execute(
                update(FeedbackRecord)
                .where(FeedbackRecord.submission_id == sub, FeedbackRecord.field_type == "text")
                .values(sentiment_score=score, sentiment_label=label)
            )
    assert named.id


def tile(page: str, metric: str) -> str:
    match = re.search(rf'data-testid="home-tile-{metric}".*?</section>', page, re.S)
    assert match, f"no {metric} tile"
    return match.group(0)


def tile_number(section: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}"[^>]*>([^<]*)', section)
    assert match, testid
    return match.group(1).strip()


def api_row(ws: Workspace, metric: str, start: str, end: str) -> dict[str, Any]:
    r = ws.client.get(
        "/api/v1/metrics",
        params={"metric": metric, "interval": "month", "date_from": start, "date_to": end, "compare_to": "previous"},
        headers=ws.headers("viewer"),
    )
    assert r.status_code == 200, r.text
    rows = r.json()["rows"]
    assert len(rows) == 1
    return dict(rows[0])


def test_metric_tiles_match_the_metrics_api(workspace: Workspace, web: Callable[[str], WebUser]) -> None:
    seed_program(workspace)
    page = web("viewer").get("/").text
    nps = tile(page, "nps")
    assert 'data-period="2025-03-01"' in nps
    row = api_row(workspace, "nps", "2025-03-01", "2025-03-31")
    value = float(re.search(r'data-value="([^"]+)"', nps).group(1))  # type: ignore[union-attr]
    assert value == pytest.approx(row["value"])
    assert tile_number(nps, "home-tile-n") == str(row["n"]) == "41"
    assert f"{row['lower']:.1f} – {row['upper']:.1f}" in nps
    assert f"{row['change']:+.1f}" in nps and f"vs {row['previous']:.1f}" in nps
    csat = tile(page, "csat")
    crow = api_row(workspace, "csat", "2025-03-01", "2025-03-31")
    assert f"{crow['value']:.1f}%" in csat
    assert "no answers yet" in tile(page, "ces")  # CES is asked nowhere: said so, not a zero
    assert 'data-testid="home-tile-rating_mean"' not in page  # no ratings at all: no tile
    assert 'id="home-trend-nps"' in page and "data-chart=" in nps


def test_a_single_later_answer_does_not_replace_the_period(
    workspace: Workspace, web: Callable[[str], WebUser]
) -> None:
    seed_program(workspace)
    late = datetime(2026, 12, 3, tzinfo=UTC)
    with workspace.db.unit_of_work() as session:
        feedback_service.ingest_feedback(
            session,
            actor=workspace.principal(),
            records=[feedback_in(None, "survey", "relationship", "late", "nps", "nps", 0, late)],
        )
    nps = tile(web("analyst").get("/").text, "nps")
    assert 'data-period="2025-03-01"' in nps
    assert tile_number(nps, "home-tile-period") == "Mar 2025"
    assert tile_number(nps, "home-tile-thin") == "Dec 2026: 1 answer, too few"
    row = api_row(workspace, "nps", "2025-03-01", "2025-03-31")
    assert tile_number(nps, "home-tile-n") == str(row["n"])


def test_verbatims_are_escaped_masked_and_name_the_customer(
    workspace: Workspace, web: Callable[[str], WebUser]
) -> None:
    seed_program(workspace)
    page = web("viewer").get("/").text
    negative = re.search(r'data-testid="home-verbatim-negative".*?</figure>', page, re.S).group(0)  # type: ignore[union-attr]
    for payload in INJECTIONS[:2]:
        assert payload not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in negative
    assert "<img src=x" not in page
    assert LONG_HASH not in page  # a 32-character id is shortened
    assert LONG_HASH[:8] + "…" in negative
    assert "NPS 1" in negative
    positive = re.search(r'data-testid="home-verbatim-positive".*?</figure>', page, re.S).group(0)  # type: ignore[union-attr]
    assert "Wonderful support team" in positive and "Grace Hopper" in positive


@pytest.mark.parametrize("role", ["viewer", "agent", "analyst", "admin"])
def test_every_role_sees_the_program(workspace: Workspace, web: Callable[[str], WebUser], role: str) -> None:
    seed_program(workspace)
    r = web(role).get("/")
    assert r.status_code == 200
    assert 'data-testid="home-tile-nps"' in r.text and 'data-testid="home-verbatims"' in r.text
    # Cases are counted for those who work them (agents see their own and their teams').
    assert ('data-testid="home-cases"' in r.text) == (role != "viewer")


def test_cases_counts_link_to_the_cases(workspace: Workspace, web: Callable[[str], WebUser]) -> None:
    seed_program(workspace)
    admin = workspace.client
    for subject in ("Late parcel", "Rude driver"):
        r = admin.post("/api/v1/cases", json={"title": subject}, headers=workspace.headers("admin"))
        assert r.status_code == 201, r.text
    page = web("admin").get("/").text
    assert tile_number(page, "home-cases-open") == "2"
    assert tile_number(page, "home-cases-overdue") == "0"
    assert 'href="/cases?overdue=true"' in page


def test_empty_store_shows_how_to_start(workspace: Workspace, web: Callable[[str], WebUser]) -> None:
    page = web("admin").get("/").text
    assert 'data-testid="home-start"' in page
    assert "Import feedback" in page and "Create a survey" in page
    assert 'data-testid="feedback-count"' not in page and 'data-testid="home-tiles"' not in page
