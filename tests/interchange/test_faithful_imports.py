"""LimeSurvey and SurveyJS imports keep what the file means: display text stays display text, scales and sliders keep
their ranges and labels, every language keeps its texts under a BCP 47 tag, and every condition is either logic cem
runs or a warning naming the question and the expression.

Real public files: the shared data folder and tests/fixtures/survey-definitions (see SOURCES.md there). Expected
values are read straight from the source file (XML/JSON) where they are counts, not through the importer.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cem.db.session import Database
from cem.errors import BadRequest
from cem.interchange.importers import read_definition
from cem.interchange.importers.convert import ImportedSurvey
from cem.surveys import logic
from cem.surveys.definition import Question, blocking_errors, validate_definition
from cem.surveys.models import Survey
from tests.conftest import SHARED_DATA

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "survey-definitions"
SHARED = SHARED_DATA / "survey-definitions"
LSS_FILES = sorted((SHARED / "limesurvey").glob("*.lss")) + sorted((FIXTURES / "limesurvey").glob("*.lss"))
MULTILINGUAL = SHARED / "limesurvey" / "ls3_sample_survey_multilingual_fr_de_en_it.lss"


def _import(path: Path, content: bytes | None = None) -> ImportedSurvey:
    return read_definition(path.name, path.read_bytes() if content is None else content)


def _questions(imported: ImportedSurvey) -> list[Question]:
    return [q for _, _, q in imported.definition.questions()]


def _lss_rows(path: Path, table: str) -> list[dict[str, str]]:
    return [{c.tag: c.text or "" for c in row} for row in ET.parse(path).getroot().findall(f"{table}/rows/row")]


def _lss_questions(path: Path) -> dict[str, dict[str, str]]:
    """qid -> the question row (one per qid: old exports repeat it per language)."""
    return {r["qid"]: r for r in _lss_rows(path, "questions") if r.get("parent_qid", "0") in ("0", "")}


# -- LimeSurvey ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", LSS_FILES, ids=[p.name for p in LSS_FILES])
def test_limesurvey_report_counts_what_the_file_holds(path: Path) -> None:
    imported = _import(path)
    report = imported.report()
    source = _lss_questions(path)
    boilerplate = [r for r in source.values() if r["type"] == "X"]
    equations = [r for r in source.values() if r["type"] == "*"]
    displays = [q for q in _questions(imported) if q.type == "display"]
    # Boilerplate is display content, not a question: one display block each, never answerable or required.
    assert report.display_count == len(displays) == len(boilerplate)
    assert {q.id for q in displays} == {r["title"] for r in boilerplate}
    assert not any(q.required or q.choices or q.jump_logic for q in displays)
    assert report.question_count == sum(1 for q in _questions(imported) if q.type != "display")
    # Equations become (empty) variables, each named in a warning that says its formula is not imported.
    assert {v.id for v in imported.definition.variables} >= {r["title"] for r in equations}
    for row in equations:
        assert any(row["title"] in w.location and "formula is not imported" in w.message for w in imported.warnings)
    # Every language of the file is kept (as BCP 47), with its own texts.
    languages = {el.text for el in ET.parse(path).getroot().findall("languages/language")}
    assert len(report.languages) == len(languages)
    assert blocking_errors(validate_definition(imported.definition)) == []
    assert all(w.location and w.message for w in imported.warnings)


@pytest.mark.parametrize("path", LSS_FILES, ids=[p.name for p in LSS_FILES])
def test_limesurvey_every_relevance_is_logic_or_a_named_warning(path: Path) -> None:
    """A question's relevance equation is display logic cem evaluates, or a warning naming question and expression."""
    imported = _import(path)
    by_source = {c.source_ref: qid for qid, c in imported.codes.items()}
    questions = imported.definition.question_map()
    warnings = "\n".join(str(w) for w in imported.warnings)
    kept = 0
    for row in _lss_questions(path).values():
        relevance = row.get("relevance", "").strip()
        if relevance in ("", "1") or row["type"] in ("*", "|", "I"):
            continue
        question = questions.get(by_source.get(row["title"], row["title"]))
        if question is not None and question.display_logic is not None:
            kept += 1
            continue
        assert f"question {row['title']}" in warnings, row["title"]
        assert relevance[:20] in warnings or "dropped" in warnings, (row["title"], relevance)
    assert imported.report().logic_rule_count >= kept


def test_limesurvey_slider_questions_keep_range_step_and_labels_in_every_language() -> None:
    imported = _import(MULTILINGUAL)
    sliders = [q for q in _questions(imported) if q.type == "slider"]
    # Q2 (multiple numerical input, slider layout) has 4 fields: 4 sliders, 1 to 10 in steps of 0.1.
    subs = [r for r in _lss_rows(MULTILINGUAL, "subquestions") if r["language"] == "en" and r["parent_qid"] == "12"]
    assert [q.id for q in sliders] == [f"Q2_{r['title']}" for r in sorted(subs, key=lambda r: r["question_order"])]
    for slider in sliders:
        assert (slider.range_min, slider.range_max, slider.step) == (1, 10, 0.1)
        assert slider.lower_label == {"en": "less", "fr": "moins", "de": "weniger", "it": "meno"}
        assert slider.upper_label == {"en": "more", "fr": "plus", "de": "mehr", "it": "più"}
        assert set(slider.headline) == {"en", "fr", "de", "it"}
    assert sliders[0].headline["en"].endswith("— Some example subquestion")
    assert imported.codes["Q2_SQ01"].answers_importable and imported.codes["Q2_SQ01"].source_ref == "Q2_SQ01"
    assert any("4 slider questions (1 to 10 in steps of 0.1)" in w.message for w in imported.warnings)


def test_limesurvey_relevance_on_a_slider_field_tests_that_slider() -> None:
    """The multilingual sample with the array after Q2 shown only when Q2's first slider is above 5."""
    root = ET.parse(MULTILINGUAL).getroot()
    for row in root.findall("questions/rows/row"):
        if row.findtext("title") == "ANT":
            relevance = row.find("relevance")
            if relevance is None:
                relevance = ET.SubElement(row, "relevance")
            relevance.text = "Q2_SQ01.NAOK > 5"
    imported = read_definition(MULTILINGUAL.name, ET.tostring(root))
    condition = imported.definition.question_map()["ANT"].display_logic
    assert condition is not None and condition.model_dump() == {
        "source": "question",
        "ref": "Q2_SQ01",
        "operator": "greater_than",
        "value": "5",
    }
    assert logic.evaluate(condition, logic.Context(answers={"Q2_SQ01": 7.5})) is True
    assert logic.evaluate(condition, logic.Context(answers={"Q2_SQ01": 2})) is False


def test_limesurvey_point_scales_are_kept() -> None:
    questions = {q.id: q for q in _questions(_import(MULTILINGUAL))}
    assert questions["q5"].type == "rating" and questions["q5"].scale == 5  # 5 point choice
    assert questions["A"].type == "matrix" and questions["A"].scale == 5 and not questions["A"].columns
    assert questions["B"].type == "matrix" and questions["B"].scale == 10 and not questions["B"].columns
    assert questions["A"].points() == (1, 5) and questions["B"].points() == (1, 10)


def test_limesurvey_languages_become_bcp47_tags() -> None:
    imported = _import(MULTILINGUAL)
    defn = imported.definition
    assert defn.default_language == "en"
    assert set(defn.languages) == {"en", "fr", "de", "it"}
    assert any("'de-informal' imported as 'de'" in w.message for w in imported.warnings)
    display = next(q for q in _questions(imported) if q.type == "display")
    assert set(display.headline) == {"en", "fr", "de", "it"}
    assert "<" not in "".join(display.headline.values())  # plain text, never HTML


def _relabel(content: bytes, code: str) -> bytes:
    """The file with its French (language column, language list, additional languages) called `code`."""
    for old in (b"[CDATA[fr]]", b"[CDATA[fr ]]"):
        content = content.replace(old, f"[CDATA[{code}]]".encode())
    return content.replace(b"<language>fr</language>", f"<language>{code}</language>".encode())


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        (("pt-BR",), {"en", "pt-BR"}),
        (("zh-Hans",), {"en", "zh-Hans"}),
        (("zh-Hant-TW",), {"en", "zh-Hant-TW"}),
        (("es-AR-informal",), {"en", "es-AR"}),
        (("kal",), {"en", "kl"}),
    ],
)
def test_limesurvey_language_codes_of_a_real_file_renamed(codes: tuple[str], expected: set[str]) -> None:
    """The en+fr demo survey with its French relabelled as another LimeSurvey language code."""
    path = FIXTURES / "limesurvey" / "ls205_randomization_group_test.lss"
    content = path.read_bytes()
    french = len(re.findall(rb"\[CDATA\[fr ?\]\]", content))
    imported = _import(path, _relabel(content, codes[0]))
    defn = imported.definition
    assert set(defn.languages) == expected
    tag = (expected - {"en"}).pop()
    texts = [q.headline for q in _questions(imported)]
    assert french > 10 and all(tag in t and "en" in t for t in texts)
    assert blocking_errors(validate_definition(defn)) == []


def test_limesurvey_two_codes_for_one_language_keep_the_first() -> None:
    """English and "English, informal" are one BCP 47 tag: the second one's texts are left out, with a warning."""
    path = FIXTURES / "limesurvey" / "ls205_randomization_group_test.lss"
    imported = _import(path, _relabel(path.read_bytes(), "en-informal"))
    assert imported.definition.languages == ["en"]
    assert all(set(q.headline) == {"en"} for q in _questions(imported))
    assert any("'en-informal' is 'en' in BCP 47 like 'en'" in w.message for w in imported.warnings)
    english = _import(path)
    assert [q.headline["en"] for q in _questions(imported)] == [q.headline["en"] for q in _questions(english)]


def test_limesurvey_equations_are_variables_and_conditions_on_them_are_named() -> None:
    imported = _import(FIXTURES / "limesurvey" / "ls205_em_tailoring.lss")
    variables = {v.id: v for v in imported.definition.variables}
    assert {"weightkg", "heightm", "BMI", "weightstatus"} <= set(variables)
    assert variables["BMI"].type == "text" and variables["BMI"].initial == ""
    bmi = next(w for w in imported.warnings if w.location.startswith("question BMI "))
    assert "weightkg/(heightm * heightm)" in bmi.message and "formula is not imported" in bmi.message
    # The report text recalls an equation: kept as visible text, with a warning naming it.
    report1 = imported.definition.question_map()["report1"].headline["en"]
    assert "[weightstatus]" in report1 and "{{weightstatus}}" not in report1
    assert any("recall of 'weightstatus' dropped" in w.message for w in imported.warnings)


def test_limesurvey_condition_on_an_equation_is_named_and_dropped() -> None:
    """The tailoring demo with one relevance rewritten to test an equation (BMI > 25)."""
    path = FIXTURES / "limesurvey" / "ls205_em_tailoring.lss"
    rows = [r for r in _lss_questions(path).values() if r["type"] == "N" and r["relevance"] not in ("", "1")]
    content = path.read_bytes().replace(f"[CDATA[{rows[0]['relevance']}]]".encode(), b"[CDATA[BMI > 25]]", 1)
    imported = _import(path, content)
    assert imported.definition.question_map()[rows[0]["title"]].display_logic is None
    warning = next(w for w in imported.warnings if "'BMI' is an equation" in w.message)
    assert warning.location.startswith(f"question {rows[0]['title']} ") and "'BMI > 25'" in warning.message


def test_limesurvey_relevance_that_is_kept_runs_like_limesurvey() -> None:
    imported = _import(FIXTURES / "limesurvey" / "ls205_em_tailoring.lss")
    rows = _lss_questions(FIXTURES / "limesurvey" / "ls205_em_tailoring.lss")
    questions = imported.definition.question_map()
    kept = [r for r in rows.values() if r["title"] in questions and questions[r["title"]].display_logic is not None]
    assert kept
    for row in kept:  # every kept condition refers to questions of the survey
        node = questions[row["title"]].display_logic
        refs = set(re.findall(r"'ref': '([^'.]+)", str(node.model_dump() if node else {})))
        assert refs and refs <= set(questions), (row["title"], row["relevance"])
    assert logic.evaluate(questions[kept[0]["title"]].display_logic, logic.Context(answers={})) in (True, False)


# -- SurveyJS ---------------------------------------------------------------------------------------------------------

ALL_FIELDS = FIXTURES / "surveyjs" / "zopyx_all_field_types.json"
MEDICAL = FIXTURES / "surveyjs" / "survey-library_real-medical-service.json"


def _elements(path: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def walk(elements: list[dict[str, Any]]) -> None:
        for el in elements:
            out.append(el)
            walk(el.get("elements") or el.get("templateElements") or [])

    for page in json.loads(path.read_text(encoding="utf-8"))["pages"]:
        walk(page.get("elements", []))
    return out


def test_surveyjs_html_is_display_text_and_images_expressions_are_warned() -> None:
    imported = _import(ALL_FIELDS)
    report = imported.report()
    html = [el for el in _elements(ALL_FIELDS) if el["type"] == "html"]
    displays = [q for q in _questions(imported) if q.type == "display"]
    assert report.display_count == len(html) == len(displays) == 2
    block = imported.definition.question_map()["htmlContent"]
    assert block.headline["en"].startswith("Information Block\n")
    assert "formatted text" in block.headline["en"] and "Point 3" in block.headline["en"]
    assert not re.search(r"<[a-z/]", block.headline["en"])  # tags dropped, text kept
    # Warnings name the question by its name and the start of its text.
    warnings = {w.location.split()[1]: w.message for w in imported.warnings if w.location.startswith("question ")}
    assert "question imageDisplay 'Image Display'" in {w.location for w in imported.warnings}
    assert "no pictures" in warnings["imageDisplay"]
    assert "'{number} * 2'" in warnings["calculatedExpression"]
    assert "calculatedExpression" in {v.id for v in imported.definition.variables}
    not_questions = {"html", "image", "expression", "file", "signaturepad", "panel", "paneldynamic"}
    asked = [el for el in _elements(ALL_FIELDS) if el["type"] not in not_questions]
    assert report.question_count == len(asked)
    assert warnings["email"] == "a second element named 'email': imported as 'email_2'"


def test_surveyjs_ratings_keep_their_points_and_other_ranges_become_sliders() -> None:
    questions = {q.id: q for q in _questions(_import(ALL_FIELDS))}
    assert (questions["basicRating"].type, questions["basicRating"].scale) == ("rating", 5)
    labeled = questions["labeledRating"]  # 0-10, not an NPS question: its numbers and labels kept on a slider
    assert (labeled.type, labeled.range_min, labeled.range_max, labeled.step) == ("slider", 0, 10, 1)
    assert (labeled.lower_label, labeled.upper_label) == ({"en": "Very poor"}, {"en": "Excellent"})
    assert (questions["customValuesRating"].type, questions["customValuesRating"].scale) == ("rating", 5)
    schema = SHARED / "surveyjs" / "python-surveyjs_test_survey_schema.json"
    satisfaction = _import(schema).definition.question_map()["satisfaction"]
    assert (satisfaction.type, satisfaction.style, satisfaction.scale) == ("rating", "stars", 10)


def _model(*elements: dict[str, Any], **survey: Any) -> bytes:
    return json.dumps({"title": "t", **survey, "pages": [{"name": "p1", "elements": list(elements)}]}).encode()


def test_surveyjs_stars_nps_and_sliders_of_every_spelling() -> None:
    content = _model(
        {"type": "rating", "name": "stars", "rateType": "stars", "rateCount": 5, "rateMax": 5},
        {"type": "rating", "name": "nps_score", "title": "Would you recommend us?", "rateMin": 0, "rateMax": 10},
        {"type": "nouislider", "name": "nouislider", "rangeMin": 0, "rangeMax": 100, "step": 5},
        {
            "type": "slider",
            "name": "slider",
            "min": -5,
            "max": 5,
            "step": 0.5,
            "customLabels": [{"value": -5, "text": "cold"}, {"value": 5, "text": "hot"}],
        },
        {"type": "text", "name": "range", "inputType": "range", "min": 1, "max": 7},
        {"type": "rating", "name": "wide", "rateMin": 0, "rateMax": 20, "rateStep": 2},
    )
    imported = read_definition("model.json", content)
    q = imported.definition.question_map()
    assert (q["stars"].type, q["stars"].style, q["stars"].scale) == ("rating", "stars", 5)
    assert q["nps_score"].type == "nps"
    assert (q["nouislider"].type, q["nouislider"].range_max, q["nouislider"].step) == ("slider", 100, 5)
    assert (q["slider"].range_min, q["slider"].range_max, q["slider"].step) == (-5, 5, 0.5)
    assert (q["slider"].lower_label, q["slider"].upper_label) == ({"en": "cold"}, {"en": "hot"})
    assert (q["range"].type, q["range"].range_min, q["range"].range_max) == ("slider", 1, 7)
    assert (q["wide"].type, q["wide"].range_max, q["wide"].step) == ("slider", 20, 2)
    wide = next(w for w in imported.warnings if w.location == "question wide")
    assert "0 to 20 (steps of 2) kept as a slider" in wide.message
    assert blocking_errors(validate_definition(imported.definition)) == []


def test_surveyjs_localised_texts_keep_every_language() -> None:
    imported = _import(MEDICAL)
    defn = imported.definition
    assert set(defn.languages) == {"en", "de"}
    questions = _questions(imported)
    assert len(questions) == len(_elements(MEDICAL)) == imported.report().question_count
    for question in questions:
        assert set(question.headline) == {"en", "de"}
        assert all(set(c.label) == {"en", "de"} for c in question.choices + question.rows + question.columns)
    first = questions[0]
    assert [c.label["de"] for c in first.choices] == ["Ja", "Nein"]
    assert defn.pages[1].title == {"en": "Quality of Service", "de": "Servicequalität"}
    # Names that are whole sentences become valid ids; the source name is kept for response imports.
    assert imported.codes[first.id].source_ref == "Were you able to get an appointment when you felt it was needed?"


def test_surveyjs_locales_map_to_bcp47() -> None:
    content = _model(
        {
            "type": "comment",
            "name": "q1",
            "title": {"default": "Why?", "zh-cn": "为什么?", "zh-tw": "為什麼?", "pt-br": "Por quê?", "ua": "Чому?"},
        },
        locale="en",
    )
    defn = read_definition("model.json", content).definition
    assert set(defn.languages) == {"en", "zh-Hans", "zh-Hant", "pt-BR", "uk"}
    assert defn.question_map()["q1"].headline["zh-Hant"] == "為什麼?"


def test_surveyjs_visible_if_is_logic_or_a_named_warning() -> None:
    content = _model(
        {"type": "rating", "name": "score", "rateMax": 5},
        {"type": "comment", "name": "why", "visibleIf": "{score} <= 2"},
        {"type": "comment", "name": "odd", "visibleIf": "age({birth}) > 18"},
    )
    imported = read_definition("model.json", content)
    q = imported.definition.question_map()
    assert logic.evaluate(q["why"].display_logic, logic.Context(answers={"score": 1})) is True
    assert logic.evaluate(q["why"].display_logic, logic.Context(answers={"score": 4})) is False
    assert q["odd"].display_logic is None
    warning = next(w for w in imported.warnings if w.location == "question odd")
    assert "age({birth}) > 18" in warning.message and "dropped" in warning.message


# -- files that must be refused ---------------------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE document [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<document><questions><rows><row><question>&lol9;</question></row></rows></questions></document>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE document [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<document><questions><rows><row><question>&secret;</question></row></rows></questions></document>"""


def _bad_files() -> list[tuple[str, bytes, str, list[Any]]]:
    lss = (FIXTURES / "limesurvey" / "ls205_subquestion_relevance.lss").read_bytes()
    medical = MEDICAL.read_bytes()
    truncated_xml = lss[: len(lss) // 2]
    xml_line = truncated_xml.count(b"\n") + 1
    return [
        ("cut.lss", truncated_xml, "not valid XML", ["file", "cut.lss", "line", xml_line]),
        ("cut.json", medical[: len(medical) // 2], "not valid JSON", ["file", "cut.json", "line"]),
        ("laughs.lss", BILLION_LAUGHS, "not allowed", ["file", "laughs.lss"]),
        ("entity.lss", EXTERNAL_ENTITY, "not allowed", ["file", "entity.lss"]),
        ("wrong.lss", b"<?xml version='1.0'?><svg><questions/></svg>", "not a LimeSurvey", ["file", "wrong.lss"]),
        (
            "question.lss",
            b"<document><LimeSurveyDocType>Question</LimeSurveyDocType><questions/></document>",
            "LimeSurvey Question export",
            ["file", "question.lss"],
        ),
        ("big.json", b'{"pages": [' + b" " * (50 * 1024 * 1024) + b"]}", "larger than 20 MB", ["file", "big.json"]),
        ("list.json", b"[]", "JSON object", ["file", "list.json"]),
    ]


@pytest.mark.parametrize("case", range(8))
def test_bad_files_are_refused_with_a_located_error(case: int) -> None:
    name, content, reason, loc = _bad_files()[case]
    with pytest.raises(BadRequest) as caught:
        read_definition(name, content)
    error = caught.value
    assert reason in error.detail
    assert error.errors and error.errors[0]["loc"][: len(loc)] == loc and error.errors[0]["msg"] == error.detail


def test_bad_files_through_the_api_are_located_400s_and_store_nothing(admin_api: TestClient, db: Database) -> None:
    def surveys() -> int:
        with db.unit_of_work(readonly=True) as session:
            return int(session.scalar(select(func.count()).select_from(Survey)) or 0)

    for name, content, reason, loc in _bad_files():
        r = admin_api.post("/api/v1/surveys/import", files={"file": (name, content)})
        if name == "big.json":  # the request itself is refused before the file is read
            assert r.status_code == 413 and r.json()["error"] == "payload_too_large"
            continue
        assert r.status_code == 400, (name, r.text)
        body = r.json()
        assert body["error"] == "bad_request" and reason in body["detail"]
        assert body["errors"][0]["loc"][: len(loc)] == loc
    assert surveys() == 0
    good = admin_api.post("/api/v1/surveys/import", files={"file": (ALL_FIELDS.name, ALL_FIELDS.read_bytes())})
    assert good.status_code == 201 and surveys() == 1
    assert good.json()["display_count"] == 2
