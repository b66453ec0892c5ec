"""Every shared survey definition imports; question and choice counts are checked against the raw source file.

Counts are computed here straight from the JSON/XML (a few lines per format), not through the importer.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from cem.errors import BadRequest
from cem.interchange.importers import read_definition
from cem.surveys import logic
from cem.surveys.definition import CHOICE_TYPES, blocking_errors, validate_definition

DEFINITIONS = Path("/work/shared/data/survey-definitions")
FILES = sorted(p for p in DEFINITIONS.rglob("*") if p.suffix in (".qsf", ".lss", ".json"))
RESPONSE_FILES = {"python-surveyjs_test_survey_response.json"}  # answers, not a definition: imported as responses
DEFINITION_FILES = [p for p in FILES if p.name not in RESPONSE_FILES]


def _qsf_counts(path: Path) -> tuple[int, dict[str, int]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    shown: set[str] = set()
    questions: dict[str, dict[str, Any]] = {}
    for element in data["SurveyElements"]:
        if element["Element"] == "BL":
            blocks = element["Payload"].values() if isinstance(element["Payload"], dict) else element["Payload"]
            for block in blocks:
                if block.get("Type") != "Trash":
                    shown |= {b["QuestionID"] for b in block.get("BlockElements", []) if b["Type"] == "Question"}
        if element["Element"] == "SQ":
            questions[element["Payload"]["QuestionID"]] = element["Payload"]
    choices: dict[str, int] = {}
    answerable = 0
    for qid in shown:
        payload = questions[qid]
        if payload["QuestionType"] == "DB":
            continue  # descriptive text: display content, not a question
        # a slider per statement, a matrix per side-by-side column group
        if payload["QuestionType"] == "Slider":
            answerable += len(payload["Choices"])
        elif payload["QuestionType"] == "SBS":
            answerable += len(payload.get("AdditionalQuestions") or {}) or 1
        else:
            answerable += 1
        if payload["QuestionType"] in ("MC", "RO") and payload.get("Selector") != "NPS":
            choices[qid] = len(payload["Choices"])
        elif payload["QuestionType"] in ("Matrix", "SBS"):
            choices[qid] = len(payload["Choices"])  # matrix rows
    return answerable, choices


def _lss_counts(path: Path) -> tuple[int, dict[str, int]]:
    """Answerable questions: boilerplate (X) is display text, equations (*) variables; a multiple numerical input
    shown as sliders (slider_layout 1) is one slider per field."""
    root = ET.parse(path).getroot()
    rows = [{c.tag: c.text or "" for c in r} for r in root.findall("questions/rows/row")]
    by_qid = {r["qid"]: r for r in rows if r["parent_qid"] in ("0", "")}
    kept = {qid: r for qid, r in by_qid.items() if r["type"] not in ("|", "I", "*", "X")}
    sliders = {
        r.findtext("qid")
        for r in root.findall("question_attributes/rows/row")
        if r.findtext("attribute") == "slider_layout" and r.findtext("value") == "1"
    }
    answers: dict[str, set[str]] = defaultdict(set)
    for r in root.findall("answers/rows/row"):
        if (r.findtext("scale_id") or "0") == "0":
            answers[r.findtext("qid") or ""].add(r.findtext("code") or "")
    subs: dict[str, set[str]] = defaultdict(set)
    for r in root.findall("subquestions/rows/row"):
        if (r.findtext("scale_id") or "0") == "0":
            subs[r.findtext("parent_qid") or ""].add(r.findtext("qid") or "")
    choices: dict[str, int] = {}
    for qid, r in kept.items():
        other = 1 if r["other"] == "Y" else 0
        if r["type"] in ("L", "!", "O"):
            choices[r["title"]] = len(answers[qid]) + other
        elif r["type"] == "R":
            choices[r["title"]] = len(answers[qid])
        elif r["type"] in ("M", "P"):
            choices[r["title"]] = len(subs[qid]) + other
        elif r["type"] in ("Y", "G"):
            choices[r["title"]] = 2
        elif r["type"] in ("F", "H", "A", "B", "C", "E", "1", ":", ";"):
            choices[r["title"]] = len(subs[qid])  # matrix rows
    count = len(kept) + sum(len(subs[qid]) - 1 for qid in kept if qid in sliders)
    return count, choices


def _surveyjs_counts(path: Path) -> tuple[int, dict[str, int]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    count, choices = 0, {}

    def walk(elements: list[dict[str, Any]]) -> None:
        nonlocal count
        for el in elements:
            if el["type"] in ("panel", "paneldynamic"):
                walk(el.get("elements") or el.get("templateElements") or [])
            elif el["type"] not in ("image", "signaturepad", "file", "expression", "html"):
                count += 1
                if el["type"] in ("radiogroup", "checkbox", "dropdown", "tagbox", "imagepicker", "ranking"):
                    choices[el["name"]] = (
                        len(el.get("choices", [])) + bool(el.get("showOtherItem")) + bool(el.get("showNoneItem"))
                    )
                elif el["type"] == "matrix":
                    choices[el["name"]] = len(el.get("rows", []))

    for page in data.get("pages", []):
        walk(page.get("elements", []))
    return count, choices


def _source_counts(path: Path) -> tuple[int, dict[str, int]]:
    return {".qsf": _qsf_counts, ".lss": _lss_counts, ".json": _surveyjs_counts}[path.suffix](path)


def test_every_shared_file_is_covered() -> None:
    assert len(FILES) == 16 + 7 + 6
    assert {p.suffix for p in DEFINITION_FILES} == {".qsf", ".lss", ".json"}


@pytest.mark.parametrize("path", DEFINITION_FILES, ids=[p.name for p in DEFINITION_FILES])
def test_definition_imports_with_source_counts(path: Path) -> None:
    imported = read_definition(path.name, path.read_bytes())
    expected_questions, expected_choices = _source_counts(path)
    defn = imported.definition
    assert imported.question_count == expected_questions
    by_source = {c.source_ref.split("#")[0]: qid for qid, c in imported.codes.items()}
    questions = defn.question_map()
    for source_id, n in expected_choices.items():
        question = questions[by_source[source_id]]
        got = len(question.rows) if question.type == "matrix" else len(question.choices)
        assert got == n, f"{source_id}: {got} choices/rows, source has {n}"
        if question.type in CHOICE_TYPES:
            assert all(c.label for c in question.choices)
    # Imported definitions can go live as they are (logic cem cannot honour was dropped with a warning).
    errors = blocking_errors(validate_definition(defn))
    if expected_questions:
        assert errors == []
    # Nothing is dropped silently: every warning names where it applies.
    assert all(w.location and w.message for w in imported.warnings)


def test_limesurvey_multilingual_texts_and_languages() -> None:
    path = DEFINITIONS / "limesurvey/ls3_sample_survey_multilingual_fr_de_en_it.lss"
    defn = read_definition(path.name, path.read_bytes()).definition
    assert defn.default_language == "en"
    assert set(defn.languages) == {"en", "fr", "it", "de"}  # de-informal: German, informal address
    first = defn.pages[0].questions[0]
    assert set(first.headline) == {"en", "fr", "it", "de"}
    assert first.headline["en"] == "Short free text"
    assert first.headline["fr"] != first.headline["en"]


def test_qualtrics_logic_hidden_fields_and_warnings() -> None:
    path = DEFINITIONS / "qualtrics/Survey_Logic/Survey_Logic_EVERYWHERE.qsf"
    imported = read_definition(path.name, path.read_bytes())
    questions = imported.definition.question_map()
    # Skip logic "QID3: if choice 2 is selected skip to end of block" -> a jump rule to the ending
    jumps = questions["QID3"].jump_logic
    assert jumps and jumps[0].target == "end"
    text = "\n".join(str(w) for w in imported.warnings)
    assert "GeoIP" in text
    assert "DeviceType" in text or "Device Type" in text
    assert "web service" in text
    assert "display logic on a single choice" in text


def test_qualtrics_trash_is_not_imported_but_warned() -> None:
    path = DEFINITIONS / "qualtrics/Many_Different_Question_Types/Sample_Survey.qsf"
    imported = read_definition(path.name, path.read_bytes())
    trash = [w for w in imported.warnings if "trash" in w.message]
    assert len(trash) == 20
    assert not {w.location.split()[-1] for w in trash} & set(imported.definition.question_map())


def test_surveyjs_types_map_to_cem_types() -> None:
    path = DEFINITIONS / "surveyjs/python-surveyjs_test_survey_schema.json"
    questions = read_definition(path.name, path.read_bytes()).definition.question_map()
    assert questions["email"].validation == "email"
    assert questions["birthDate"].type == "date"
    assert questions["bio"].input == "long"
    assert questions["favoriteColor"].type == "single_choice" and questions["favoriteColor"].choices[-1].other
    assert questions["hobbies"].type == "multiple_choice"
    assert questions["priorityItems"].type == "ranking"
    assert questions["satisfaction"].type == "rating" and questions["satisfaction"].scale == 10
    assert questions["satisfaction"].style == "stars"
    assert questions["qualityMatrix"].type == "matrix"
    assert questions["agreeTerms"].type == "consent"


BAD_FILES = [
    ("survey.txt", b"hello", "unknown file type"),
    ("survey.qsf", b"", "empty"),
    ("survey.json", b"{not json", "not valid JSON"),
    ("survey.lss", b"<document><questions>", "not valid XML"),
    ("survey.lss", b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary"),
    ("survey.qsf", b'{"title": "x"}', "not a Qualtrics"),
    ("survey.json", b"[1, 2]", "JSON object"),
    ("survey.lss", b"<html><body/></html>", "not a LimeSurvey"),
    ("survey.lss", b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><document>&a;</document>', "not allowed"),
    ("survey.json", b'{"q1": "yes", "q2": 3}', "response data"),
]


@pytest.mark.parametrize(("name", "content", "reason"), BAD_FILES, ids=[b[2] for b in BAD_FILES])
def test_unreadable_files_give_a_clear_reason(name: str, content: bytes, reason: str) -> None:
    with pytest.raises(BadRequest) as caught:
        read_definition(name, content)
    assert reason in caught.value.detail


def test_limesurvey_relevance_becomes_working_display_logic() -> None:
    """SGQA names, nested and/or and is_empty() become cem conditions the logic engine evaluates like LimeSurvey."""
    path = DEFINITIONS / "limesurvey/ls3_sample_survey_multilingual_fr_de_en_it.lss"
    defn = read_definition(path.name, path.read_bytes()).definition
    questions = defn.question_map()
    # ((QCS1_SH101 == "Y") and (QCS3 != "Y")) or ((QCS2_SQ201 == "Y") and (QCS3 != "Y"))
    cc01 = questions["CC01"].display_logic
    cases = [
        ({"QCS1": ["SH101"]}, True),
        ({"QCS1": ["SH101"], "QCS3": "Y"}, False),
        ({"QCS2": ["SQ201"], "QCS3": "N"}, True),
        ({"QCS1": ["SH102"], "QCS2": ["SQ202"]}, False),
        ({}, False),
    ]
    for answers, shown in cases:
        assert logic.evaluate(cc01, logic.Context(answers=answers)) is shown, answers
    assert logic.evaluate(questions["QCDefault"].display_logic, logic.Context(answers={})) is True  # is_empty(QC)
    assert logic.evaluate(questions["QCDefault"].display_logic, logic.Context(answers={"QC": "Y"})) is False
    # Same-page relevance: the dependent questions move to a page after the one answering QC.
    page_of = {q.id: p.id for p in defn.pages for q in p.questions}
    order = [p.id for p in defn.pages]
    assert order.index(page_of["QCYes"]) > order.index(page_of["QC"])


def test_limesurvey_group_relevance_and_empty_comparisons() -> None:
    path = DEFINITIONS / "limesurvey/ls205_group_relevance.lss"
    imported = read_definition(path.name, path.read_bytes())
    defn = imported.definition
    page = next(p for p in defn.pages if any(q.id == "p1sex" for q in p.questions))
    # grelevance "cohabs > 0" guards the page of person 1
    assert logic.evaluate(page.display_logic, logic.Context(answers={"cohabs": 2}))
    assert not logic.evaluate(page.display_logic, logic.Context(answers={"cohabs": 0}))
    # relevance '!is_empty(p1sex)' -> shown once p1sex is answered
    p1name = defn.question_map()["p1name"].display_logic
    assert p1name is not None and p1name.model_dump()["operator"] == "is_answered"
    text = "\n".join(str(w) for w in imported.warnings)
    assert "count" in text  # count(...) == cohabs cannot be represented: warned, not silently dropped


def test_qualtrics_skip_to_a_question_starts_its_page() -> None:
    path = DEFINITIONS / "qualtrics/Survey_Logic/Survey_Logic_EVERYWHERE.qsf"
    defn = read_definition(path.name, path.read_bytes()).definition
    first = defn.pages[0].questions
    assert [q.id for q in first] == ["QID1", "QID2", "QID3"]
    targets = {rule.target for q in first for rule in q.jump_logic}
    assert targets == {"end", defn.pages[1].id, defn.pages[2].id}
    assert defn.pages[1].questions[0].id == "QID4" and defn.pages[2].questions[0].id == "QID5"
    # QID1 choice 1 -> the first matching rule in Qualtrics' order (end of block = end of this survey)
    rule = defn.question_map()["QID1"].jump_logic[0]
    assert rule.target == "end" and logic.evaluate(rule.condition, logic.Context(answers={"QID1": "c1"}))
    assert not logic.evaluate(rule.condition, logic.Context(answers={"QID1": "c2"}))


def _qsf(questions: list[dict[str, Any]], flow: list[dict[str, Any]]) -> bytes:
    """A minimal .qsf: one block holding `questions`, the given survey flow."""
    block = {
        "Type": "Default",
        "ID": "BL_1",
        "Description": "Block",
        "BlockElements": [{"Type": "Question", "QuestionID": q["QuestionID"]} for q in questions],
    }
    elements = [
        {"Element": "BL", "Payload": [block]},
        {"Element": "FL", "Payload": {"Type": "Root", "Flow": flow}},
        *({"Element": "SQ", "PrimaryAttribute": q["QuestionID"], "Payload": q} for q in questions),
    ]
    return json.dumps(
        {"SurveyEntry": {"SurveyName": "Synthetic", "SurveyLanguage": "EN"}, "SurveyElements": elements}
    ).encode()


def test_qualtrics_translations_embedded_data_and_piping() -> None:
    nps = {
        "QuestionID": "QID1",
        "QuestionType": "MC",
        "Selector": "NPS",
        "DataExportTag": "Q1",
        "QuestionText": "How likely are you to recommend us, ${e://Field/first_name}?",
        "Choices": {str(n): {"Display": str(n)} for n in range(11)},
        "Language": {"FR": {"QuestionText": "Recommanderiez-vous ?"}, "DE": {"QuestionText": "Empfehlen?"}},
    }
    pick = {
        "QuestionID": "QID2",
        "QuestionType": "MC",
        "Selector": "SAVR",
        "SubSelector": "TX",
        "DataExportTag": "Q2",
        "QuestionText": "Why <b>${q://QID1/ChoiceGroup/SelectedChoices}</b>?",
        "Choices": {"1": {"Display": "Price"}, "2": {"Display": "Other", "TextEntry": "true"}},
        "ChoiceOrder": ["1", "2"],
        "Language": {"FR": {"QuestionText": "Pourquoi ?", "Choices": {"1": {"Display": "Prix"}}}},
        "Validation": {"Settings": {"ForceResponse": "ON"}},
    }
    flow = [
        {"Type": "EmbeddedData", "FlowID": "FL_2", "EmbeddedData": [{"Field": "plan"}, {"Field": "first_name"}]},
        {"Type": "Block", "ID": "BL_1", "FlowID": "FL_3"},
        {"Type": "EndSurvey", "FlowID": "FL_4"},
    ]
    imported = read_definition("synthetic.qsf", _qsf([nps, pick], flow))
    defn = imported.definition
    assert set(defn.languages) == {"en", "fr", "de"}
    questions = defn.question_map()
    assert questions["QID1"].type == "nps" and questions["QID1"].headline["fr"] == "Recommanderiez-vous ?"
    assert questions["QID1"].headline["en"] == "How likely are you to recommend us, {{hidden.first_name}}?"
    assert [h.id for h in defn.hidden_fields] == ["plan", "first_name"]
    why = questions["QID2"]
    assert why.required and why.choices[0].label == {"en": "Price", "fr": "Prix"} and why.choices[1].other
    # Piping of QID1 on its own page cannot be filled in (Qualtrics shows it blank too): kept as a marker, warned.
    assert why.headline["en"] == "Why [QID1]?"
    assert any("recall of 'QID1'" in w.message for w in imported.warnings)
    assert any("EndSurvey" in w.message or "end of survey" in w.message for w in imported.warnings)
