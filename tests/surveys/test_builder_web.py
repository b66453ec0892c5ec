"""The builder pages as a CX analyst uses them: forms, located errors, preview, publish, responses."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from cem.db.session import Database
from cem.surveys import builder, service
from cem.surveys.models import Survey
from tests.conftest import Workspace
from tests.test_roles_matrix import login


def _definition(db: Database, survey_id: int) -> dict[str, Any]:
    with db.unit_of_work(readonly=True) as session:
        survey = session.get(Survey, survey_id)
        assert survey is not None
        return dict(survey.definition)


def test_build_publish_and_read_responses(app: FastAPI, workspace: Workspace, db: Database) -> None:
    client = TestClient(app)
    csrf = login(client, workspace.user_email("analyst"))
    form = {"csrf_token": csrf}
    assert client.get("/surveys/new").status_code == 200
    r = client.post("/surveys", data={**form, "name": "Onboarding check", "slug": "onboarding"}, follow_redirects=False)
    assert r.status_code == 303
    sid = int(r.headers["location"].rsplit("/", 1)[1])
    base = f"/surveys/{sid}"
    # Settings: a second language; a page; a choice question with an "other" choice and a German translation.
    r = client.post(
        f"{base}/settings",
        data={
            **form,
            "name": "Onboarding check",
            "default_language": "en",
            "languages": "en, de",
            "progress_bar": "on",
        },
    )
    assert r.status_code == 200  # followed the redirect
    client.post(f"{base}/pages", data={**form, "page_id": "p2"})
    client.post(f"{base}/pages/p2/questions", data={**form, "type": "single_choice", "question_id": "why"})
    r = client.post(
        f"{base}/questions/why",
        data={
            **form,
            "action": "save",
            "headline_en": "Why {{nps}}?",
            "headline_de": "Warum {{nps}}?",
            "required": "on",
            "choices": "price | Price\nsupport | Support\nother | Something else | other",
            "choices_de": "price | Preis\nsupport | Hilfe",
            "display_source": "question",
            "display_ref": "nps",
            "display_operator": "less_than",
            "display_value": "9",
        },
    )
    assert r.status_code == 200
    defn = _definition(db, sid)
    why = defn["pages"][1]["questions"][0]
    assert why["choices"][2] == {"id": "other", "label": {"en": "Something else"}, "other": True}
    assert why["choices"][0]["label"] == {"en": "Price", "de": "Preis"}
    assert why["display_logic"] == {"source": "question", "ref": "nps", "operator": "less_than", "value": 9}
    # A jump rule back to page 1 is a located error, shown on the question; publishing is refused.
    client.post(
        f"{base}/questions/why",
        data={
            **form,
            "action": "save",
            "headline_en": "Why {{nps}}?",
            "choices": "price | Price",
            "jump_source": "question",
            "jump_ref": "why",
            "jump_operator": "is_answered",
            "jump_target": "p1",
        },
    )
    page = client.get(base).text
    assert "pages[1].questions[0].jump_logic[0].target" in page and "a cycle" in page
    r = client.post(f"{base}/status", data={**form, "action": "publish"})
    assert r.status_code == 400 and "fix them before it goes live" in r.text
    # Remove the rule, publish, answer once, then edit the live survey: version 2, the answer stays on v1.
    client.post(
        f"{base}/questions/why",
        data={**form, "action": "save", "headline_en": "Why?", "choices": "price | Price", "jump_remove": "0"},
    )
    r = client.post(f"{base}/status", data={**form, "action": "publish"}, follow_redirects=False)
    assert r.status_code == 303
    assert "Why?" in client.get(f"{base}/preview?page=p2").text
    with db.unit_of_work() as session:
        survey = service.get_survey(session, workspace_id=workspace.id, survey_id=sid)
        service.add_response(session, survey, answers={"nps": 5, "why": "price"}, channel="api")
    client.post(
        f"{base}/questions/why", data={**form, "action": "save", "headline_en": "Why not?", "choices": "price | Price"}
    )
    listing = client.get(f"{base}/responses").text
    assert "v1" in listing
    rid = re.search(rf'href="{base}/responses/(\d+)"', listing)
    assert rid
    detail = client.get(f"{base}/responses/{rid.group(1)}").text
    assert "Why?" in detail and "Price" in detail
    assert "v2" in client.get(base).text
    # A bad edit on a live survey changes nothing and says why.
    r = client.post(f"{base}/questions/why", data={**form, "action": "save", "headline_en": "x", "choices": ""})
    assert r.status_code == 400 and "pages[1].questions[0].choices" in r.text
    assert _definition(db, sid)["pages"][1]["questions"][0]["headline"]["en"] == "Why not?"


def test_builder_form_errors_are_readable(app: FastAPI, workspace: Workspace) -> None:
    client = TestClient(app)
    csrf = login(client, workspace.user_email("admin"))
    r = client.post("/surveys", data={"csrf_token": csrf, "name": "X", "definition": "{oops"})
    assert r.status_code == 400 and "not valid JSON" in r.text
    r = client.post("/surveys", data={"csrf_token": csrf, "name": "X", "definition": '{"pages": 3}'})
    assert r.status_code == 422 and "pages" in r.text
    r = client.post("/surveys", data={"csrf_token": csrf, "name": "Y"}, follow_redirects=False)
    sid = r.headers["location"].rsplit("/", 1)[1]
    r = client.post(f"/surveys/{sid}/settings", data={"csrf_token": csrf, "name": "Y", "opens_at": "soon"})
    assert r.status_code == 400 and "not a date and time" in r.text
    r = client.post(
        f"/surveys/{sid}/questions/nps",
        data={
            "csrf_token": csrf,
            "action": "save",
            "display_ref": "x",
            "display_operator": "equals",
            "display_value": "",
        },
    )
    assert r.status_code == 400 and "needs a value" in r.text


def test_choice_lines_parse() -> None:
    defn = {"default_language": "en", "languages": ["en", "de"]}
    old = [{"id": "a", "label": {"en": "A", "de": "A-de"}}]
    choices = builder.parse_choices("a | Apple\nBanana split\nx | Other | other", defn, old, {}, "choices")
    assert choices == [
        {"id": "a", "label": {"en": "Apple", "de": "A-de"}},
        {"id": "banana_split", "label": {"en": "Banana split"}},
        {"id": "x", "label": {"en": "Other"}, "other": True},
    ]
