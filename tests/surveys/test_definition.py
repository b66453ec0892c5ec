"""validate_definition: every error kind, each located by its path."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from cem.surveys.definition import field_type, parse_definition, text, validate_definition
from tests.surveys.samples import sample_definition

Edit = Callable[[dict[str, Any]], None]


def _problems(edit: Edit) -> list[tuple[str, str, str]]:
    defn = copy.deepcopy(sample_definition())
    edit(defn)
    return [(p.path, p.code, p.severity) for p in validate_definition(parse_definition(defn))]


def test_the_sample_has_no_errors() -> None:
    problems = validate_definition(parse_definition(sample_definition()))
    assert [p for p in problems if p.severity == "error"] == []
    assert ("pages[1].title.de", "missing_translation") in [(p.path, p.code) for p in problems]


def _q(defn: dict[str, Any], page: int, question: int) -> dict[str, Any]:
    q: dict[str, Any] = defn["pages"][page]["questions"][question]
    return q


CASES: list[tuple[str, Edit, tuple[str, str]]] = [
    ("duplicate question id", lambda d: _q(d, 2, 1).update(id="nps"), ("pages[2].questions[1].id", "duplicate_id")),
    ("duplicate page id", lambda d: d["pages"][1].update(id="p1"), ("pages[1].id", "duplicate_id")),
    (
        "duplicate choice id",
        lambda d: _q(d, 1, 0)["choices"][1].update(id="price"),
        ("pages[1].questions[0].choices[1].id", "duplicate_id"),
    ),
    ("duplicate ending id", lambda d: d["endings"][1].update(id="thanks"), ("endings[1].id", "duplicate_id")),
    (
        "page id shared with an ending",
        lambda d: d["endings"][0].update(id="p2"),
        ("endings[0].id", "duplicate_id"),
    ),
    ("empty choices", lambda d: _q(d, 1, 0).update(choices=[]), ("pages[1].questions[0].choices", "empty_choices")),
    (
        "dangling jump target",
        lambda d: d["pages"][0]["jump_logic"][0].update(target="p9"),
        ("pages[0].jump_logic[0].target", "unknown_target"),
    ),
    (
        "jump back (cycle)",
        lambda d: d["pages"][2]["jump_logic"][0].update(target="p2"),
        ("pages[2].jump_logic[0].target", "jump_cycle"),
    ),
    (
        "jump to itself",
        lambda d: d["pages"][1].update(
            jump_logic=[{"condition": {"ref": "nps", "operator": "is_answered"}, "target": "p2"}]
        ),
        ("pages[1].jump_logic[0].target", "jump_cycle"),
    ),
    (
        "condition on an unknown question",
        lambda d: d["pages"][0]["jump_logic"][0]["condition"].update(ref="ghost"),
        ("pages[0].jump_logic[0].condition.ref", "unknown_reference"),
    ),
    (
        "display logic on a later question",
        lambda d: _q(d, 1, 1)["display_logic"].update(ref="csat"),
        ("pages[1].questions[1].display_logic.ref", "reference_not_answered"),
    ),
    (
        "nested condition with unknown hidden field",
        lambda d: d["pages"][2]["jump_logic"][0]["condition"]["conditions"][1].update(ref="tier"),
        ("pages[2].jump_logic[0].condition.conditions[1].ref", "unknown_reference"),
    ),
    (
        "calculation on an unknown variable",
        lambda d: d["pages"][0]["calculations"][0].update(variable="points"),
        ("pages[0].calculations[0].variable", "unknown_variable"),
    ),
    (
        "recall of a later question",
        lambda d: _q(d, 0, 0)["headline"].update(en="Hi {{reason}}"),
        ("pages[0].questions[0].headline.en", "recall_not_answered"),
    ),
    (
        "recall of an unknown question",
        lambda d: _q(d, 2, 0)["headline"].update(en="You said {{ghost}}"),
        ("pages[2].questions[0].headline.en", "unknown_recall"),
    ),
    (
        "recall of an unknown variable",
        lambda d: _q(d, 2, 0)["headline"].update(en="Score {{var.points}}"),
        ("pages[2].questions[0].headline.en", "unknown_recall"),
    ),
    (
        "matrix without rows and columns",
        lambda d: d["pages"][2]["questions"].append({"id": "m", "type": "matrix", "headline": {"en": "Rate"}}),
        ("pages[2].questions[2].rows", "matrix_no_rows"),
    ),
    ("bad csat scale", lambda d: _q(d, 2, 1).update(scale=4), ("pages[2].questions[1].scale", "bad_scale")),
    (
        "operator without value",
        lambda d: _q(d, 1, 1)["display_logic"].pop("value"),
        ("pages[1].questions[1].display_logic.value", "missing_value"),
    ),
    ("empty page", lambda d: d["pages"][1].update(questions=[]), ("pages[1].questions", "empty_page")),
    (
        "unsafe redirect",
        lambda d: d["endings"][1]["redirect_url"].update(en="javascript:alert(1)"),
        ("endings[1].redirect_url.en", "bad_url"),
    ),
]


@pytest.mark.parametrize(("name", "edit", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_error_is_located(name: str, edit: Edit, expected: tuple[str, str]) -> None:
    problems = _problems(edit)
    assert (*expected, "error") in problems, problems


def test_missing_translation_is_a_warning_with_fallback() -> None:
    problems = _problems(lambda d: d["languages"].append("fr"))
    assert ("pages[0].questions[0].headline.fr", "missing_translation", "warning") in problems
    assert all(severity == "warning" for _, _, severity in problems)
    assert text({"en": "Hello"}, "fr", "en") == "Hello"
    assert text({"en": "Hello", "de": "Hallo"}, "de-AT", "en") == "Hallo"


def test_matrix_reports_missing_columns() -> None:
    problems = _problems(
        lambda d: d["pages"][2]["questions"].append(
            {"id": "m", "type": "matrix", "headline": {"en": "Rate"}, "rows": [{"id": "r1", "label": {"en": "A"}}]}
        )
    )
    assert ("pages[2].questions[2].columns", "matrix_no_columns", "error") in problems


def test_field_types_follow_the_feedback_store() -> None:
    defn = parse_definition(sample_definition())
    questions = defn.question_map()
    assert field_type(questions["nps"]) == "nps"
    assert field_type(questions["issues"]) == "choice"
    assert field_type(questions["csat"]) == "csat"
    assert field_type(questions["name"]) == "text"
    assert field_type(questions["name"].model_copy(update={"validation": "number"})) == "number"
