"""The home page: the state of the program (metric tiles, movers, topics, verbatims, cases) for every role."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cem.feedback import service as feedback_service
from tests.conftest import Workspace
from tests.web.helpers import INJECTIONS, WebUser, feedback_in
from tests.web.home_seed import LONG_HASH, MONTHS, seed_program, seed_topics


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
    assert f"{row['lower']:.1f} \N{EN DASH} {row['upper']:.1f}" in nps
    assert f"{row['change']:+.1f}" in nps and f"vs {row['previous']:.1f}" in nps
    csat = tile(page, "csat")
    crow = api_row(workspace, "csat", "2025-03-01", "2025-03-31")
    assert f"{crow['value']:.1f}%" in csat
    assert "no answers yet" in tile(page, "ces")  # CES is asked nowhere: said so, not a zero
    assert 'data-testid="home-tile-rating_mean"' not in page  # no ratings at all: no tile
    assert 'id="home-trend-nps"' in page and "data-chart=" in nps


def test_a_single_later_answer_does_not_replace_the_period(workspace: Workspace, web: Callable[[str], WebUser]) -> None:
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
    assert "grace@example.com" not in positive  # personal data masked for a role without pii:read
    assert "grace@example.com" in web("admin").get("/").text


def test_topics_rising_and_falling(workspace: Workspace, web: Callable[[str], WebUser]) -> None:
    seed_program(workspace)
    seed_topics(workspace)
    section = re.search(r'data-testid="home-topics".*?</section>', web("viewer").get("/").text, re.S).group(0)  # type: ignore[union-attr]
    rising = re.findall(r'data-testid="topic-rising">(.*?)</li>', section, re.S)
    falling = re.findall(r'data-testid="topic-falling">(.*?)</li>', section, re.S)
    assert len(rising) == len(falling) == 1
    assert "Delivery &lt;b&gt;delays&lt;/b&gt;" in rising[0] and "50.0% → 80.0%" in rising[0]
    assert "significant" in rising[0]
    assert "Friendly staff" in falling[0] and "50.0% → 20.0%" in falling[0]
    assert "Share of 40 topic mentions" in section


def test_top_movers_name_the_segment_that_changed(workspace: Workspace, web: Callable[[str], WebUser]) -> None:
    seed_program(workspace)
    swing = [
        feedback_in(
            None, "review", "app", f"app-{m}-{i}", "nps", "nps", 0 if m == 1 else 10, start + timedelta(hours=i)
        )
        for m, start in enumerate(MONTHS)
        for i in range(40)
    ]
    with workspace.db.unit_of_work() as session:
        feedback_service.ingest_feedback(session, actor=workspace.principal(), records=swing)
    section = re.search(r'data-testid="home-movers".*?</section>', web("viewer").get("/").text, re.S).group(0)  # type: ignore[union-attr]
    movers = re.findall(r'data-testid="home-mover">(.*?)</li>', section, re.S)
    assert movers, section
    assert "source name <q>app</q>" in movers[0] and "+200.0" in movers[0]
    assert "Mar 2025 against the month before" in section


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
