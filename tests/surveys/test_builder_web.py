"""The builder pages as a CX analyst uses them: forms, located errors, preview, publish, responses."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from cem.db.session import Database
from cem.responses import service as response_service
from cem.surveys import builder, logic, service
from cem.surveys.definition import parse_definition
from cem.surveys.models import Survey, SurveyResponse
from tests.conftest import Workspace
from tests.responses.hosted_helpers import post_page
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
        response_service.add_response(session, survey, answers={"nps": 5, "why": "price"}, channel="api")
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


# --------------------------------------------------------------------------------------------------
# Condition rows joined by ALL/ANY, and page calculations, edited without JSON.


def _logic_definition() -> dict[str, Any]:
    return {
        "default_language": "en",
        "hidden_fields": [{"id": "plan"}],
        "variables": [{"id": "score", "type": "number", "initial": 0}, {"id": "tags", "type": "text", "initial": ""}],
        "endings": [{"id": "end", "headline": {"en": "Thanks"}}],
        "pages": [
            {
                "id": "p1",
                "questions": [
                    {"id": "nps", "type": "nps", "headline": {"en": "Recommend us?"}},
                    {"id": "name", "type": "text", "headline": {"en": "Your name"}},
                ],
            },
            {"id": "p2", "questions": [{"id": "why", "type": "text", "headline": {"en": "Why?"}}]},
        ],
    }


def _create(client: TestClient, csrf: str, definition: dict[str, Any], slug: str) -> int:
    r = client.post(
        "/surveys",
        data={"csrf_token": csrf, "name": f"Logic {slug}", "slug": slug, "definition": json.dumps(definition)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return int(r.headers["location"].rsplit("/", 1)[1])


def _section(page: str, anchor: str) -> str:
    """The HTML of one builder card or question: from its id to the end of its <details>."""
    start = page.index(f'id="{anchor}"')
    return page[start : page.index("</details>", start)]


def _row(prefix: str, source: str, ref: str, operator: str, value: str = "") -> dict[str, str]:
    return {
        f"{prefix}_source": source,
        f"{prefix}_ref": ref,
        f"{prefix}_operator": operator,
        f"{prefix}_value": value,
    }


def _spare(prefix: str) -> dict[str, str]:
    return _row(prefix, "question", "", "equals")


def _save(client: TestClient, url: str, csrf: str, fields: dict[str, str]) -> None:
    """Post a builder form's save action; it must succeed."""
    r = client.post(url, data={"csrf_token": csrf, "action": "save", **fields})
    assert r.status_code == 200, r.text


def test_display_logic_rows_joined_by_all_or_any(app: FastAPI, workspace: Workspace, db: Database) -> None:
    client = TestClient(app)
    csrf = login(client, workspace.user_email("analyst"))
    sid = _create(client, csrf, _logic_definition(), "rows")
    base = f"/surveys/{sid}"
    # ALL of two rows on a question: saved as an "and" group, the spare row ignored.
    _save(
        client,
        f"{base}/questions/why",
        csrf,
        {
            "display_match": "all",
            **_row("display_0", "question", "nps", "less_than", "7"),
            **_row("display_1", "hidden", "plan", "equals", "pro"),
            **_spare("display_2"),
        },
    )
    why = _definition(db, sid)["pages"][1]["questions"][0]
    assert why["display_logic"] == {
        "combinator": "and",
        "conditions": [
            {"source": "question", "ref": "nps", "operator": "less_than", "value": 7},
            {"source": "hidden", "ref": "plan", "operator": "equals", "value": "pro"},
        ],
    }
    node = parse_definition(_definition(db, sid)).pages[1].questions[0].display_logic
    assert logic.evaluate(node, logic.Context(answers={"nps": 5}, hidden={"plan": "pro"}))
    assert not logic.evaluate(node, logic.Context(answers={"nps": 5}, hidden={"plan": "basic"}))
    # The group comes back as editable rows (plus one spare row), ALL selected.
    card = _section(client.get(base).text, "q-why")
    assert 'name="display_0_ref" value="nps"' in card and 'name="display_0_value" value="7"' in card
    assert 'name="display_1_ref" value="plan"' in card and 'name="display_1_value" value="pro"' in card
    assert '<option value="hidden" selected>' in card and '<option value="less_than" selected>' in card
    assert 'name="display_2_ref" value=""' in card and 'name="display_3_ref"' not in card
    assert '<option value="all" selected>' in card
    assert "nested-condition" not in card

    # ANY on a page: an "or" group; a unary operator needs no value.
    _save(
        client,
        f"{base}/pages/p2",
        csrf,
        {
            "title_en": "More",
            "display_match": "any",
            **_row("display_0", "question", "nps", "greater_or_equal", "9"),
            **_row("display_1", "question", "name", "is_answered"),
            **_spare("display_2"),
        },
    )
    page = _definition(db, sid)["pages"][1]
    assert page["display_logic"] == {
        "combinator": "or",
        "conditions": [
            {"source": "question", "ref": "nps", "operator": "greater_or_equal", "value": 9},
            {"source": "question", "ref": "name", "operator": "is_answered", "value": None},
        ],
    }
    node = parse_definition(_definition(db, sid)).pages[1].display_logic
    assert logic.evaluate(node, logic.Context(answers={"nps": 3, "name": "Ana"}))
    assert logic.evaluate(node, logic.Context(answers={"nps": 10}))
    assert not logic.evaluate(node, logic.Context(answers={"nps": 3}))
    card = _section(client.get(base).text, "page-p2")
    assert '<option value="any" selected>' in card
    assert 'name="display_0_ref" value="nps"' in card and 'name="display_1_ref" value="name"' in card

    # Edited as rows: row 2 cleared, a third row added, switched to ALL; then down to one row: a plain condition.
    _save(
        client,
        f"{base}/pages/p2",
        csrf,
        {
            "display_match": "all",
            **_row("display_0", "question", "nps", "greater_or_equal", "9"),
            **_row("display_1", "question", "", "is_answered"),
            **_row("display_2", "hidden", "plan", "includes_any", "pro, business"),
        },
    )
    assert _definition(db, sid)["pages"][1]["display_logic"] == {
        "combinator": "and",
        "conditions": [
            {"source": "question", "ref": "nps", "operator": "greater_or_equal", "value": 9},
            {"source": "hidden", "ref": "plan", "operator": "includes_any", "value": ["pro", "business"]},
        ],
    }
    card = _section(client.get(base).text, "page-p2")
    assert 'name="display_1_value" value="pro, business"' in card
    _save(
        client,
        f"{base}/pages/p2",
        csrf,
        {
            "display_match": "any",
            **_row("display_0", "question", "nps", "greater_or_equal", "9"),
            **_spare("display_1"),
            **_spare("display_2"),
        },
    )
    assert _definition(db, sid)["pages"][1]["display_logic"] == {
        "source": "question",
        "ref": "nps",
        "operator": "greater_or_equal",
        "value": 9,
    }
    # All rows emptied: no display logic; a new jump rule with ANY of two rows.
    _save(
        client,
        f"{base}/pages/p2",
        csrf,
        {
            "display_match": "all",
            **_spare("display_0"),
            "jump_match": "any",
            **_row("jump_0", "question", "why", "contains", "price"),
            **_row("jump_1", "hidden", "plan", "equals", "pro"),
            "jump_target": "end",
        },
    )
    page = _definition(db, sid)["pages"][1]
    assert page["display_logic"] is None
    assert page["jump_logic"] == [
        {
            "condition": {
                "combinator": "or",
                "conditions": [
                    {"source": "question", "ref": "why", "operator": "contains", "value": "price"},
                    {"source": "hidden", "ref": "plan", "operator": "equals", "value": "pro"},
                ],
            },
            "target": "end",
        }
    ]


def test_nested_condition_group_is_read_only_and_kept(app: FastAPI, workspace: Workspace, db: Database) -> None:
    client = TestClient(app)
    csrf = login(client, workspace.user_email("analyst"))
    definition = _logic_definition()
    nested = {
        "combinator": "or",
        "conditions": [
            {"source": "question", "ref": "nps", "operator": "less_than", "value": 7},
            {
                "combinator": "and",
                "conditions": [
                    {"source": "hidden", "ref": "plan", "operator": "equals", "value": "pro"},
                    {"source": "question", "ref": "name", "operator": "is_answered", "value": None},
                ],
            },
        ],
    }
    definition["pages"][1]["questions"][0]["display_logic"] = nested
    sid = _create(client, csrf, definition, "nested")
    base = f"/surveys/{sid}"
    card = _section(client.get(base).text, "q-why")
    assert 'data-testid="nested-condition"' in card and "edit in JSON" in card
    assert 'name="display_clear"' in card
    assert 'name="display_0_ref"' not in card and 'name="display_match"' not in card
    # Saving the question (as the form posts it, and even with stray rows) keeps the group as it is.
    r = client.post(
        f"{base}/questions/why",
        data={"csrf_token": csrf, "action": "save", "headline_en": "Why, really?"},
    )
    assert r.status_code == 200, r.text
    r = client.post(
        f"{base}/questions/why",
        data={"csrf_token": csrf, "action": "save", **_row("display_0", "question", "nps", "equals", "1")},
    )
    assert r.status_code == 200, r.text
    why = _definition(db, sid)["pages"][1]["questions"][0]
    assert why["headline"] == {"en": "Why, really?"} and why["display_logic"] == nested
    # Clearing it is the one form edit that changes it.
    r = client.post(f"{base}/questions/why", data={"csrf_token": csrf, "action": "save", "display_clear": "on"})
    assert r.status_code == 200, r.text
    assert _definition(db, sid)["pages"][1]["questions"][0]["display_logic"] is None
    assert 'name="display_0_ref" value=""' in _section(client.get(base).text, "q-why")


def _calc(variable: str, op: str, source: str, operand: str, **extra: str) -> dict[str, str]:
    return {"calc_variable": variable, "calc_op": op, "calc_source": source, "calc_operand": operand, **extra}


def test_page_calculations_added_removed_and_applied(app: FastAPI, workspace: Workspace, db: Database) -> None:
    client = TestClient(app)
    csrf = login(client, workspace.user_email("analyst"))
    sid = _create(client, csrf, _logic_definition(), "calc")
    base = f"/surveys/{sid}"
    form = {"csrf_token": csrf, "action": "save"}
    card = _section(client.get(base).text, "page-p1")
    assert '<option value="score">score (number)</option>' in card and '<option value="divide">' in card
    # One added per save: score += nps; score += 100 when plan is pro; tags append the name; a doomed one.
    saves = [
        _calc("score", "add", "question", "nps", **_spare("calc_when")),
        _calc("score", "add", "value", "100", **_row("calc_when", "hidden", "plan", "equals", "pro")),
        _calc("tags", "append", "question", "name"),
        _calc("score", "multiply", "value", "2.5"),
    ]
    for data in saves:
        r = client.post(f"{base}/pages/p1", data={**form, **data})
        assert r.status_code == 200, r.text
    calculations = _definition(db, sid)["pages"][0]["calculations"]
    assert [(c["variable"], c["op"], c["operand"], c["when"]) for c in calculations] == [
        ("score", "add", {"value": None, "source": "question", "ref": "nps"}, None),
        (
            "score",
            "add",
            {"value": 100, "source": None, "ref": None},
            {"source": "hidden", "ref": "plan", "operator": "equals", "value": "pro"},
        ),
        ("tags", "append", {"value": None, "source": "question", "ref": "name"}, None),
        ("score", "multiply", {"value": 2.5, "source": None, "ref": None}, None),
    ]
    card = _section(client.get(base).text, "page-p1")
    assert card.count('data-testid="calculation"') == 4 and 'name="calc_remove" value="3"' in card
    # Removed by its checkbox (the page's other edits and the empty add row change nothing else).
    r = client.post(f"{base}/pages/p1", data={**form, "calc_remove": "3", **_calc("", "set", "value", "")})
    assert r.status_code == 200, r.text
    calculations = _definition(db, sid)["pages"][0]["calculations"]
    assert [c["op"] for c in calculations] == ["add", "add", "append"]
    # They take effect on the hosted page: 3 + 100 for a "pro" respondent; the name appended.
    assert client.post(f"{base}/status", data={"csrf_token": csrf, "action": "publish"}).status_code == 200
    first = client.get("/s/calc?plan=pro")
    r = post_page(client, "/s/calc", first.text, {"q_nps": "3", "q_name": "Ana"})
    second = client.get(r.headers["location"])
    r = post_page(client, "/s/calc", second.text, {"q_why": "slow"})
    assert r.status_code == 303
    with db.unit_of_work(readonly=True) as session:
        response = session.scalars(select(SurveyResponse).where(SurveyResponse.survey_id == sid)).one()
        assert response.status == "completed"
        assert response.variables == {"score": 103, "tags": "Ana"}


def test_bad_condition_and_calculation_rows_change_nothing(app: FastAPI, workspace: Workspace, db: Database) -> None:
    client = TestClient(app)
    csrf = login(client, workspace.user_email("analyst"))
    definition = _logic_definition()
    definition["pages"][0]["calculations"] = [{"variable": "score", "op": "set", "operand": {"value": 1}}]
    sid = _create(client, csrf, definition, "bad")
    base = f"/surveys/{sid}"
    form = {"csrf_token": csrf, "action": "save"}
    before = _definition(db, sid)
    cases: list[tuple[str, dict[str, str], str]] = [
        ("pages/p1", _calc("nope", "add", "value", "1"), "New calculation: unknown variable 'nope'"),
        ("pages/p1", _calc("score", "add", "value", "lots"), "a number is expected for 'score', not 'lots'"),
        ("pages/p1", _calc("score", "add", "value", ""), "a number is expected for 'score'"),
        ("pages/p1", _calc("score", "divide", "value", "0"), "cannot be divided by 0"),
        ("pages/p1", _calc("score", "add", "variable", "ghost"), "unknown variable 'ghost'"),
        ("pages/p1", _calc("score", "add", "question", "nosuch"), "unknown question 'nosuch'"),
        ("pages/p1", _calc("score", "add", "question", ""), "give the id of the question"),
        ("pages/p1", _calc("score", "append", "value", "1"), "'score' is a number variable"),
        ("pages/p1", _calc("tags", "add", "value", "x"), "'tags' is a text variable"),
        ("pages/p1", _calc("", "set", "value", "5"), "choose the variable it changes"),
        (
            "pages/p1",
            _calc("score", "add", "value", "1", **_row("calc_when", "hidden", "plan", "equals", "")),
            "New calculation, condition, row 1: The condition on 'plan' needs a value",
        ),
        (
            "questions/why",
            {
                "display_match": "all",
                **_row("display_0", "question", "nps", "less_than", "7"),
                **_row("display_1", "question", "nps", "equals"),
            },
            "Display logic, row 2: The condition on 'nps' needs a value",
        ),
        (
            "questions/why",
            {"display_match": "maybe", **_row("display_0", "question", "nps", "less_than", "7")},
            "must be all or any",
        ),
        (
            "questions/why",
            {"display_match": "all", **_row("display_0", "question", "", "equals", "7")},
            "compared with '7' needs the id",
        ),
        (
            "pages/p2",
            {"jump_match": "any", **_row("jump_0", "question", "nps", "is_answered"), "jump_target": ""},
            "Choose where the new jump rule goes",
        ),
    ]
    for path, data, message in cases:
        r = client.post(f"{base}/{path}", data={**form, "headline_en": "Changed", "title_en": "Changed", **data})
        assert r.status_code == 400, (message, r.status_code)
        assert message in html.unescape(r.text), message
        assert _definition(db, sid) == before, message
