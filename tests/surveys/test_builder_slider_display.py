"""The builder adds and edits display text and sliders; bad slider fields are refused with a readable reason, and
a slider whose step does not divide its range is a located problem that blocks publishing."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from cem.db.session import Database
from tests.conftest import Workspace
from tests.surveys.test_builder_web import _definition
from tests.test_roles_matrix import login


def test_builder_adds_and_edits_display_text_and_sliders(app: FastAPI, workspace: Workspace, db: Database) -> None:
    client = TestClient(app)
    form = {"csrf_token": login(client, workspace.user_email("analyst"))}
    r = client.post("/surveys", data={**form, "name": "Visit", "slug": "visit"}, follow_redirects=False)
    sid = int(r.headers["location"].rsplit("/", 1)[1])
    base = f"/surveys/{sid}"
    page = client.get(base).text
    assert '<option value="display">Text block (not a question)</option>' in page
    assert '<option value="slider">Slider</option>' in page
    client.post(f"{base}/pages/p1/questions", data={**form, "type": "display", "question_id": "intro"})
    client.post(f"{base}/pages/p1/questions", data={**form, "type": "slider", "question_id": "warmth"})
    defn = _definition(db, sid)
    intro, warmth = defn["pages"][0]["questions"][-2:]
    assert intro["type"] == "display" and intro["headline"]["en"].startswith("Thank you for taking part")
    assert warmth["type"] == "slider"

    page = client.get(base).text
    assert 'name="range_min"' in page and 'textarea name="headline_en"' in page
    r = client.post(
        f"{base}/questions/intro",
        data={**form, "action": "save", "headline_en": "Hello <b>you</b>\n\nSecond paragraph", "required": "on"},
    )
    assert r.status_code == 200
    intro = _definition(db, sid)["pages"][0]["questions"][-2]
    assert intro["headline"]["en"] == "Hello <b>you</b>\n\nSecond paragraph" and not intro.get("required")
    preview = client.get(f"{base}/preview?page=p1").text
    assert "Hello &lt;b&gt;you&lt;/b&gt;\n\nSecond paragraph" in preview

    edit = {**form, "action": "save", "headline_en": "How warm?", "lower_label": "Cold", "upper_label": "Hot"}
    r = client.post(f"{base}/questions/warmth", data={**edit, "range_min": "-10", "range_max": "10", "step": "0,5"})
    assert r.status_code == 200
    warmth = _definition(db, sid)["pages"][0]["questions"][-1]
    assert (warmth["range_min"], warmth["range_max"], warmth["step"]) == (-10, 10, 0.5)
    assert (warmth["lower_label"], warmth["upper_label"]) == ({"en": "Cold"}, {"en": "Hot"})

    r = client.post(f"{base}/questions/warmth", data={**edit, "range_min": "cold", "range_max": "10", "step": "1"})
    assert r.status_code == 400 and "The minimum must be a number." in r.text
    r = client.post(f"{base}/questions/warmth", data={**edit, "range_min": "0", "range_max": "10", "step": "3"})
    assert r.status_code == 200
    page = client.get(base).text
    assert "pages[0].questions[" in page and "does not divide the range 0 to 10" in page
    r = client.post(f"{base}/status", data={**form, "action": "publish"})
    assert r.status_code == 400
