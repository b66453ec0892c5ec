from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from cem.customers.schemas import CustomerRef
from cem.feedback import service as feedback_service
from tests.conftest import Workspace
from tests.web.helpers import T0, WebUser, feedback_in, seed_customer, seed_feedback, seed_journey


def _total(page: str) -> int:
    match = re.search(r'data-testid="feedback-total">(\d+)<', page)
    assert match, "no total on the page"
    return int(match.group(1))


def _subs(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-testid="feedback-row" data-id="(\d+)"', page)]


def _seed(workspace: Workspace) -> None:
    actor = workspace.principal()
    seed_journey(workspace.db, actor)
    seed_customer(workspace.db, actor)  # 4 records: survey nps 9 + text, review rating 2 + text
    rows: list[tuple[str, str, str, str, str, Any, datetime]] = [
        ("ticket", "zendesk", f"t{i}", "score", "csat", 1 + i % 5, T0 + timedelta(days=10, hours=i)) for i in range(60)
    ]
    rows.append(("ticket", "zendesk", "t-text", "body", "text", "Refund took forever", T0 + timedelta(days=20)))
    seed_feedback(workspace.db, actor, rows)


def test_explorer_filters_narrow_results(web: Callable[[str], WebUser], workspace: Workspace) -> None:
    _seed(workspace)
    user = web("viewer")
    assert _total(user.get("/feedback").text) == 65
    cases = {
        "source_type=review": 2,
        "source_name=zendesk": 61,
        "source_type=survey&source_name=nps-q1": 2,
        "score_min=5": 13,  # nps 9 + csat 5 (12 of 60)
        "score_min=2&score_max=3": 25,  # rating 2 + csat 2,3 (24)
        "date_from=2025-03-02&date_to=2025-03-04": 4,  # inclusive end day: the customer's two submissions
        "date_from=2025-03-21": 1,
        "q=refund": 1,
        "q=useless+bot": 1,
        "q=nothing-like-this": 0,
        "attribute=plan&attribute_value=pro": 4,
        "attribute=plan&attribute_value=free": 0,
    }
    for query, expected in cases.items():
        page = user.get(f"/feedback?{query}")
        assert page.status_code == 200, (query, page.text[:500])
        assert _total(page.text) == expected, query
        assert len(_subs(page.text)) == min(expected, 50), query
    stage_page = user.get("/feedback").text
    stage_id = re.search(r'<option value="(\d+)" >Purchase / Support</option>', stage_page)
    assert stage_id
    assert _total(user.get(f"/feedback?stage_id={stage_id.group(1)}").text) == 1  # the chat bot rating
    text_only = user.get("/feedback?q=useless").text
    assert "Bot was useless" in text_only and 'href="/customers/' in text_only and ">Ada Lovelace</a>" in text_only


def test_pagination_carries_filters_and_cursor(web: Callable[[str], WebUser], workspace: Workspace) -> None:
    _seed(workspace)
    user = web("viewer")
    first = user.get("/feedback?source_name=zendesk").text
    assert _total(first) == 61
    link = re.search(r'href="([^"]+)" data-testid="next-page"', first)
    assert link
    next_url = html.unescape(link.group(1))
    assert "source_name=zendesk" in next_url and "cursor=" in next_url
    second = user.get(next_url).text
    assert _total(second) == 61
    page1, page2 = _subs(first), _subs(second)
    assert len(page1) == 50 and len(page2) == 11 and not set(page1) & set(page2)
    assert 'data-testid="next-page"' not in second
    assert 'value="zendesk" selected' in second  # the form is refilled


def test_bad_filters_give_readable_errors(web: Callable[[str], WebUser], workspace: Workspace) -> None:
    _seed(workspace)
    user = web("viewer")
    cases = {
        "score_min=abc": "score_min: &#39;abc&#39; is not a number",
        "date_from=31/12/2025": "date_from: &#39;31/12/2025&#39; is not a date (YYYY-MM-DD)",
        "stage_id=1.5": "stage_id: &#39;1.5&#39; is not a whole number",
        "source_type=fax": "source_type:",
        "cursor=%25%25bad": "The cursor is not valid",
        f"q={'x' * 600}": "q: longer than 500 characters",
    }
    for query, message in cases.items():
        r = user.get(f"/feedback?{query}")
        assert r.status_code == 400, query
        assert message in r.text, (query, re.findall(r'filter-error">(.*?)<', r.text))
        assert 'data-testid="feedback-row"' not in r.text


def test_export_link_only_for_exporters_and_honours_filters(
    web: Callable[[str], WebUser], workspace: Workspace
) -> None:
    _seed(workspace)
    assert 'data-testid="export-csv"' not in web("viewer").get("/feedback").text
    analyst = web("analyst")
    page = analyst.get("/feedback?source_type=review&date_to=2025-03-31").text
    link = re.search(r'href="([^"]+)" data-testid="export-csv"', page)
    assert link
    url = html.unescape(link.group(1))
    assert url.startswith("/api/v1/feedback/export.csv?") and "source_type=review" in url
    r = analyst.client.get(url)  # the session cookie is enough for this GET
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert sorted(row["field_id"] for row in rows) == ["body", "stars"]
    denied = web("viewer").client.get(url)
    assert denied.status_code == 403 and denied.json()["error"] == "forbidden"


def test_customer_360_link_from_explorer_lists_same_records(
    web: Callable[[str], WebUser], workspace: Workspace
) -> None:
    actor = workspace.principal()
    with workspace.db.unit_of_work() as session:
        feedback_service.ingest_feedback(
            session,
            actor=actor,
            records=[
                feedback_in(
                    CustomerRef(email="bo@example.com"), "chat", "intercom", "c1", "msg", "text", "Hello there", T0
                )
            ],
        )
    user = web("viewer")
    page = user.get("/feedback").text
    link = re.search(r'<a href="(/customers/\d+)">bo@example.com</a>', page)
    assert link
    assert "Hello there" in user.get(link.group(1)).text
