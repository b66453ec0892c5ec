"""Every question type through the hosted form without JavaScript, and the feedback records it produces."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from cem.db.session import Database
from cem.feedback.models import FeedbackRecord
from tests.conftest import Workspace
from tests.responses.hosted_helpers import post_page, publish

EN = "en"


def _q(qid: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {"id": qid, "type": kind, "headline": {EN: f"Question {qid}"}, **extra}


def _choices(*ids: str, other: str | None = None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = [{"id": i, "label": {EN: i.title()}} for i in ids]
    if other:
        items.append({"id": other, "label": {EN: "Other"}, "other": True})
    return items


DEFINITION: dict[str, Any] = {
    "pages": [
        {
            "id": "p1",
            "questions": [
                _q("ces", "ces", required=True),
                _q("stars", "rating", scale=4, style="stars"),
                _q("smiley", "rating", scale=5, style="smileys"),
                _q("pick", "single_choice", choices=_choices("red", "blue", other="else")),
                _q("drop", "dropdown", choices=_choices("small", "large")),
                _q("rank", "ranking", choices=_choices("price", "speed", "care")),
                _q(
                    "grid",
                    "matrix",
                    required=True,
                    rows=[{"id": "app", "label": {EN: "App"}}, {"id": "web", "label": {EN: "Web"}}],
                    columns=[{"id": "bad", "label": {EN: "Bad"}}, {"id": "good", "label": {EN: "Good"}}],
                ),
                _q("when", "date"),
                _q("agree", "consent", required=True),
                _q("share", "cta", button_url="https://example.com/share"),
                _q("age", "text", validation="number"),
                _q("site", "text", validation="url"),
                _q("tel", "text", validation="phone"),
            ],
        }
    ]
}


def test_all_types_render_validate_and_store(client: TestClient, db: Database, workspace: Workspace) -> None:
    publish(db, workspace, DEFINITION)
    page = client.get("/s/cx")
    assert page.status_code == 200
    for snippet in (
        'name="q_grid__app"',
        'name="q_rank__care"',
        'type="date"',
        'name="q_agree" value="true"',
        'name="q_pick__other"',
        '<select id="in-drop"',
        "★",
        "😀",
        'inputmode="decimal"',
    ):
        assert snippet in page.text, snippet
    bad = {
        "q_ces": "8",
        "q_pick": "else",
        "q_rank__price": "1",
        "q_rank__speed": "1",
        "q_grid__app": "good",
        "q_when": "31/12/2024",
        "q_age": "twelve",
        "q_site": "example.com",
        "q_tel": "call me",
    }
    r = post_page(client, "/s/cx", page.text, bad)
    assert r.status_code == 422
    for message in (
        "Choose a number from 1 to 7.",
        "Tell us what you mean by other.",
        "Rank every option, each once.",
        "Answer every row.",
        "Enter a date as YYYY-MM-DD.",
        "Please give your consent to continue.",
        "Enter a number.",
        "Enter a web address starting with http:// or https://.",
        "Enter a phone number (digits, spaces, + and dashes).",
    ):
        assert message in r.text, message
    assert 'value="31/12/2024"' in r.text and 'aria-label="App: Good" checked' in r.text
    good = {
        "q_ces": "6",
        "q_stars": "4",
        "q_smiley": "2",
        "q_pick": "else",
        "q_pick__other": "green",
        "q_drop": "large",
        "q_rank__price": "2",
        "q_rank__speed": "3",
        "q_rank__care": "1",
        "q_grid__app": "good",
        "q_grid__web": "bad",
        "q_when": "2024-12-31",
        "q_agree": "true",
        "q_share": "true",
        "q_age": "42,5",
        "q_site": "https://example.org",
        "q_tel": "+49 30 1234567",
    }
    r = post_page(client, "/s/cx", r.text, good)
    assert r.status_code == 303, r.text[:300]
    with db.unit_of_work(readonly=True) as session:
        records = {rec.field_id: rec for rec in session.scalars(select(FeedbackRecord))}
    assert records["ces"].field_type == "ces" and records["ces"].value_number == 6
    assert records["stars"].field_type == "rating" and records["stars"].value_number == 4
    assert records["pick"].value_text == "Other" and records["pick.other"].value_text == "green"
    assert records["drop"].field_type == "choice" and records["drop"].meta["choice_id"] == "large"
    assert records["rank"].value_text == "Care; Price; Speed"
    assert records["rank"].meta["choice_ids"] == ["care", "price", "speed"]
    assert records["grid.app"].value_text == "Good" and records["grid.web"].value_text == "Bad"
    assert records["grid.app"].field_label == "Question grid — App"
    assert records["when"].value_date == date(2024, 12, 31)
    assert records["agree"].value_bool is True and records["share"].value_bool is True
    assert records["age"].field_type == "number" and records["age"].value_number == 42.5
    assert records["tel"].value_text == "+49 30 1234567"
    assert all(isinstance(rec.meta.get("seconds"), float) for rec in records.values())
