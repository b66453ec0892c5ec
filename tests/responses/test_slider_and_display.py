"""Sliders and display text on the hosted page without JavaScript: what is shown, what is refused, what is stored."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from cem.db.session import Database
from cem.feedback.models import FeedbackRecord
from cem.surveys.models import SurveyResponse
from tests.conftest import Workspace
from tests.responses.hosted_helpers import post_page, publish

EN = "en"
HOSTILE = '<script>alert("x")</script> & <b>bold</b>'

DEFINITION: dict[str, Any] = {
    "pages": [
        {
            "id": "p1",
            "questions": [
                {
                    "id": "intro",
                    "type": "display",
                    "headline": {EN: f"Welcome!\n\nRead our policy (https://example.com/policy). {HOSTILE}"},
                },
                {
                    "id": "warmth",
                    "type": "slider",
                    "required": True,
                    "headline": {EN: "How warm was the welcome?"},
                    "range_min": -5,
                    "range_max": 5,
                    "step": 0.5,
                    "lower_label": {EN: "Frosty"},
                    "upper_label": {EN: "Glowing"},
                },
                {"id": "effort", "type": "slider", "headline": {EN: "Effort, 0-100"}},
            ],
        },
        {"id": "p2", "questions": [{"id": "thanks", "type": "display", "headline": {EN: "Almost done."}}]},
    ]
}


def test_slider_and_display_render_validate_and_store(client: TestClient, db: Database, workspace: Workspace) -> None:
    publish(db, workspace, DEFINITION)
    page = client.get("/s/cx")
    assert page.status_code == 200
    text = page.text
    # display text: escaped, never markup; not a form field
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in text
    assert "<script>alert" not in text and 'name="q_intro"' not in text
    assert '<div class="display-text">Welcome!' in text
    # slider: a range control for pointer/keyboard (shown by the script) and the number box that is the answer
    assert 'type="range" class="slider-range" min="-5" max="5" step="0.5"' in text
    assert 'aria-labelledby="label-warmth"' in text and 'aria-describedby="ends-warmth"' in text
    assert 'id="in-warmth" type="number" name="q_warmth" min="-5" max="5" step="0.5"' in text
    assert "-5 = Frosty" in text and "5 = Glowing" in text and "steps of 0.5" in text
    assert 'name="q_effort" min="0" max="100" step="1"' in text

    refused = {"q_warmth": "5.5", "q_effort": "33.3", "q_intro": "sneaky"}
    r = post_page(client, "/s/cx", text, refused)
    assert r.status_code == 422
    assert "Choose a number from -5 to 5 in steps of 0.5." in r.text
    assert "Choose a number from 0 to 100 in steps of 1." in r.text
    assert 'value="5.5"' in r.text  # what was typed is shown again
    r = post_page(client, "/s/cx", r.text, {"q_warmth": "", "q_effort": ""})
    assert r.status_code == 422 and "This question needs an answer." in r.text

    r = post_page(client, "/s/cx", r.text, {"q_warmth": "-2,5", "q_effort": "70", "q_intro": "sneaky"})
    assert r.status_code == 303, r.text[:300]
    second = client.get(r.headers["location"])
    assert "Almost done." in second.text  # a page of display text only is shown, not skipped
    r = post_page(client, r.headers["location"], second.text, {})
    assert r.status_code == 303
    with db.unit_of_work(readonly=True) as session:
        records = {rec.field_id: rec for rec in session.scalars(select(FeedbackRecord))}
        response = session.scalars(select(SurveyResponse)).one()
    assert set(records) == {"warmth", "effort"}  # display blocks store nothing
    assert records["warmth"].field_type == "number" and records["warmth"].value_number == -2.5
    assert records["effort"].value_number == 70
    assert response.status == "completed"
    assert response.answers == {"warmth": -2.5, "effort": 70}
