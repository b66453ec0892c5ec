"""Display-only blocks and sliders in a definition: what validates, what is refused (each error located)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from cem.surveys.definition import field_type, is_rtl, parse_definition, validate_definition
from tests.surveys.samples import sample_definition


def _intro(**extra: Any) -> dict[str, Any]:
    return {"id": "intro", "type": "display", "headline": {"en": "Welcome", "de": "Willkommen", "ar": "مرحبا"}, **extra}


def _slider(**extra: Any) -> dict[str, Any]:
    headline = {"en": "How warm?", "de": "Wie warm?", "ar": "كم"}
    return {"id": "warmth", "type": "slider", "headline": headline, **extra}


def _problems(*questions: dict[str, Any], edit: Any = None) -> list[tuple[str, str, str]]:
    defn = copy.deepcopy(sample_definition())
    defn["pages"][0]["questions"][0:0] = list(questions)
    if edit is not None:
        edit(defn)
    return [(p.path, p.code, p.severity) for p in validate_definition(parse_definition(defn))]


def _errors(*questions: dict[str, Any], edit: Any = None) -> list[tuple[str, str]]:
    return [(path, code) for path, code, severity in _problems(*questions, edit=edit) if severity == "error"]


def test_a_display_block_and_a_slider_validate() -> None:
    assert _errors(_intro(), _slider(range_min=-5, range_max=5, step=0.5)) == []
    defn = parse_definition({"pages": [{"id": "p", "questions": [_intro(), _slider()]}]})
    intro, slider = defn.pages[0].questions
    assert not intro.answerable and slider.answerable
    assert [q.id for _, _, q in defn.answerable_questions()] == ["warmth"]
    assert slider.points() == (0, 100) and slider.step == 1
    assert field_type(slider) == "number"
    with pytest.raises(ValueError, match="no feedback records"):
        field_type(intro)


def test_a_page_of_display_text_only_is_not_empty() -> None:
    assert _errors(edit=lambda d: d["pages"][1].update(questions=[_intro()])) == []


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"required": True}, ("pages[0].questions[0].required", "display_required")),
        ({"choices": [{"id": "a", "label": {"en": "A"}}]}, ("pages[0].questions[0].choices", "display_answers")),
        (
            {"jump_logic": [{"condition": {"ref": "nps", "operator": "is_answered"}, "target": "p3"}]},
            ("pages[0].questions[0].jump_logic", "display_jump"),
        ),
        ({"headline": {}}, ("pages[0].questions[0].headline", "missing_text")),
    ],
)
def test_a_display_block_takes_no_answer(extra: dict[str, Any], expected: tuple[str, str]) -> None:
    assert expected in _errors(_intro(**extra))


def test_logic_and_recall_cannot_read_a_display_block() -> None:
    on_intro = {"display_logic": {"ref": "intro", "operator": "is_answered"}}
    errors = _errors(
        _intro(),
        edit=lambda d: (
            d["pages"][1].update(display_logic=on_intro["display_logic"]),
            d["pages"][2]["questions"][0]["headline"].update(en="You read {{intro}}"),
        ),
    )
    assert ("pages[1].display_logic.ref", "reference_display") in errors
    assert ("pages[2].questions[0].headline.en", "recall_display") in errors
    # a display block may itself be shown conditionally
    shown_to_promoters = {"ref": "nps", "operator": "greater_than", "value": 8}
    later = _errors(edit=lambda d: d["pages"][1]["questions"].append(_intro(display_logic=shown_to_promoters)))
    assert later == []


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"range_min": 10, "range_max": 10}, ("pages[0].questions[0].range_max", "bad_range")),
        ({"range_min": 100, "range_max": 0}, ("pages[0].questions[0].range_max", "bad_range")),
        ({"step": 0}, ("pages[0].questions[0].step", "bad_step")),
        ({"step": -1}, ("pages[0].questions[0].step", "bad_step")),
        ({"step": 3}, ("pages[0].questions[0].step", "bad_step")),
        ({"range_max": 1, "step": 0.3}, ("pages[0].questions[0].step", "bad_step")),
        ({"range_max": 1_000_000, "step": 1}, ("pages[0].questions[0].step", "bad_step")),
    ],
)
def test_bad_slider_ranges_are_located(extra: dict[str, Any], expected: tuple[str, str]) -> None:
    assert expected in _errors(_slider(**extra))


def test_decimal_steps_that_divide_the_range_are_fine() -> None:
    assert _errors(_slider(range_min=0, range_max=1, step=0.1)) == []
    assert _errors(_slider(range_min=1, range_max=7, step=0.25)) == []


def test_slider_fields_are_typed() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_definition({"pages": [{"id": "p", "questions": [_slider(range_max="lots")]}]})
    assert caught.value.errors()[0]["loc"][:5] == ("pages", 0, "questions", 0, "range_max")


@pytest.mark.parametrize("code", ["en", "pt-BR", "zh-Hans", "zh-Hant", "zh-Hant-TW", "es-419", "en-GB", "sr-Latn"])
def test_bcp47_language_codes_are_accepted(code: str) -> None:
    assert parse_definition({"default_language": code, "languages": [code]}).default_language == code


@pytest.mark.parametrize("code", ["EN", "zh-hans-x", "english", "zh_Hans", "pt-BR-", "z"])
def test_malformed_language_codes_are_refused(code: str) -> None:
    with pytest.raises(ValidationError):
        parse_definition({"default_language": code})


def test_rtl_still_follows_the_language_subtag() -> None:
    assert is_rtl("ar") and is_rtl("ar-EG") and is_rtl("fa-Arab-IR") and is_rtl("he-IL")
    assert not is_rtl("zh-Hans") and not is_rtl("en-GB") and not is_rtl("es-419")
