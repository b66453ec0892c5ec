"""Qualtrics imports keep the meaning of what they read, checked per real file: display text is not a question,
sliders stay numeric sliders with their range and labels, star ratings keep their number of stars, every language
keeps its texts under a BCP 47 tag, and the import report counts what was kept and says what was simplified."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cem.db.session import Database
from cem.feedback.models import FeedbackRecord
from cem.interchange.importers import read_definition
from cem.interchange.importers.convert import ImportedSurvey
from cem.interchange.importers.store import import_survey
from cem.surveys.definition import blocking_errors, validate_definition
from cem.surveys.models import SurveyResponse
from tests.conftest import Workspace

QUALTRICS = "survey-definitions/qualtrics"


def _read(shared_data: Path, relative: str) -> ImportedSurvey:
    path = shared_data / QUALTRICS / relative
    return read_definition(path.name, path.read_bytes())


def _raw(shared_data: Path, relative: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((shared_data / QUALTRICS / relative).read_text(encoding="utf-8"))
    return data


def _payload(data: dict[str, Any], qid: str) -> dict[str, Any]:
    return next(e["Payload"] for e in data["SurveyElements"] if e["Element"] == "SQ" and e["PrimaryAttribute"] == qid)


def test_descriptive_text_is_a_display_block_not_a_question(shared_data: Path) -> None:
    imported = _read(shared_data, "Long_Exhaustive_Sample_Survey/Long_Exhaustive_Sample_Survey.qsf")
    intro = imported.definition.question_map()["QID1"]
    assert intro.type == "display" and not intro.answerable and not intro.required
    text = intro.headline["en"]
    assert text.startswith("This sample survey is purely for detailing different types and structures of questions.")
    assert "- mcsa\n- mcma" in text and "\n\n# For each question type" in text  # line and paragraph breaks kept
    assert "<" not in text and "&nbsp;" not in text
    report = imported.report()
    # 46 questions in the file's blocks (1 + 8 + 11 + 7 + 9 + 6 + 4; Trash excluded): one descriptive text, and six
    # side-by-side questions of two column groups each that become two matrix questions each
    assert (report.question_count, report.display_count) == (45 + 6, 1)
    assert "QID1" not in imported.codes  # no response columns expected for display text
    assert blocking_errors(validate_definition(imported.definition)) == []


def test_continuous_sliders_stay_sliders_one_per_statement(shared_data: Path) -> None:
    relative = "Many_Different_Question_Types/Sample_Survey.qsf"
    imported = _read(shared_data, relative)
    raw = _raw(shared_data, relative)
    questions = imported.definition.question_map()
    sliders = [q for _, _, q in imported.definition.questions() if q.type == "slider"]
    assert len(sliders) == 4 * 3  # four 0-100 sliders of three statements each in the blocks (three more in Trash)
    oranges = questions["QID5_1"]
    assert (oranges.range_min, oranges.range_max, oranges.step) == (0, 100, 1)
    assert oranges.points() == (0, 100)
    assert oranges.headline["en"] == "Please rate your likelihood of consuming each fruit — Oranges"
    assert (oranges.lower_label["en"], oranges.upper_label["en"]) == ("Extremely unlikely", "Extremely likely")
    # HTML in labels and statements becomes text
    assert questions["QID24_2"].headline["en"].endswith("— Blueberries")
    assert questions["QID24_1"].lower_label["en"] == "Extremely unlikely"
    assert [q.id for q in sliders[:3]] == ["QID5_1", "QID5_2", "QID5_3"]
    # answers import under the columns Qualtrics writes: ImportId QID5-1 and export tag Q5_1
    assert (imported.codes["QID5_1"].source_ref, imported.codes["QID5_1"].export_tag) == ("QID5-1", "Q5_1")
    assert imported.codes["QID5_1"].answers_importable
    warnings = [str(w) for w in imported.warnings]
    split = [w for w in warnings if "split into 3 sliders (QID5_1, QID5_2, QID5_3)" in w]
    assert split and split[0].startswith("question QID5 'Please rate your likelihood of consuming")
    middle = _payload(raw, "QID5")["Labels"]
    assert len(middle) == 7 and any("'Neither likely nor unlikely'" in w and "QID5 " in w for w in warnings)
    assert imported.report().question_count == sum(1 for _ in imported.definition.answerable_questions())


def test_slider_answers_import_as_numbers(shared_data: Path, db: Database, workspace: Workspace) -> None:
    folder = shared_data / QUALTRICS / "Many_Different_Question_Types"
    with db.unit_of_work() as session:
        outcome = import_survey(
            session,
            workspace.principal(),
            filename="Sample_Survey.qsf",
            content=(folder / "Sample_Survey.qsf").read_bytes(),
            responses=[("Sample_Survey_Insights.csv", (folder / "Sample_Survey_Insights.csv").read_bytes())],
        )
        assert outcome.responses[0].errors == []
        answers = [r.answers for r in session.scalars(select(SurveyResponse))]
        records = session.scalars(select(FeedbackRecord).where(FeedbackRecord.field_id == "QID5_1")).all()
    first = next(a for a in answers if a.get("QID5_1") == 21)  # first data row of the export: 21, 48, 87
    assert (first["QID5_2"], first["QID5_3"]) == (48, 87)
    assert records and {r.field_type for r in records} == {"number"}
    assert 21 in {r.value_number for r in records}


def _with_payload(data: dict[str, Any], qid: str, **changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    _payload(data, qid).update(changes)
    return data


def _import(data: dict[str, Any]) -> ImportedSurvey:
    return read_definition("survey.qsf", json.dumps(data).encode())


def test_star_rating_keeps_its_stars(shared_data: Path) -> None:
    """The shared files have no star question: the real slider QID5 switched to Qualtrics' STAR selector (the
    configuration Qualtrics writes for it: StarCount, StarType) must become star ratings with that many stars."""
    raw = _raw(shared_data, "Many_Different_Question_Types/Sample_Survey.qsf")
    config = {**_payload(raw, "QID5")["Configuration"], "StarCount": 5, "StarType": "discrete"}
    imported = _import(_with_payload(raw, "QID5", Selector="STAR", Configuration=config))
    stars = imported.definition.question_map()["QID5_2"]
    assert (stars.type, stars.style, stars.scale, stars.points()) == ("rating", "stars", 5, (1, 5))
    assert any("split into 3 star ratings" in str(w) for w in imported.warnings)
    config.pop("StarCount")
    config["CSSliderMax"] = 7
    seven = _import(_with_payload(raw, "QID5", Selector="STAR", Configuration={**config, "StarType": "smooth"}))
    assert seven.definition.question_map()["QID5_1"].scale == 7
    assert any("parts of a star" in str(w) for w in seven.warnings)


def test_snap_to_grid_sets_the_step_and_bad_ranges_are_warned(shared_data: Path) -> None:
    raw = _raw(shared_data, "Many_Different_Question_Types/Sample_Survey.qsf")
    config = _payload(raw, "QID5")["Configuration"]
    snapped = _import(_with_payload(raw, "QID5", Configuration={**config, "SnapToGrid": True, "GridLines": 4}))
    assert snapped.definition.question_map()["QID5_1"].step == 25
    empty = _import(_with_payload(raw, "QID5", Configuration={**config, "CSSliderMin": 10, "CSSliderMax": 10}))
    assert empty.definition.question_map()["QID5_1"].points() == (0, 100)
    assert any("range 10 to 10 is empty" in str(w) for w in empty.warnings)


QUALTRICS_CODES = [
    ("ZH-S", "zh-Hans"),
    ("ZH-T", "zh-Hant"),
    ("PT-BR", "pt-BR"),
    ("EN-GB", "en-GB"),
    ("ES-ES", "es-ES"),
    ("ES", "es-419"),
    ("FR-CA", "fr-CA"),
    ("HYE", "hy"),
    ("AR", "ar"),
]


def test_every_language_keeps_its_texts_under_bcp47(shared_data: Path) -> None:
    """The real question QID2 (single choice) with translations as Qualtrics exports them (Language: code ->
    QuestionText and Choices), survey language EN-GB."""
    raw = _raw(shared_data, "Many_Different_Question_Types/Sample_Survey.qsf")
    raw["SurveyEntry"]["SurveyLanguage"] = "EN-GB"
    payload = _payload(raw, "QID2")
    translations = {
        code: {
            "QuestionText": f"<b>{code}</b> question",
            "Choices": {key: {"Display": f"{code} choice {key}"} for key in payload["Choices"]},
        }
        for code, _ in QUALTRICS_CODES
    }
    imported = _import(_with_payload(raw, "QID2", Language=translations))
    defn = imported.definition
    expected = [tag for _, tag in QUALTRICS_CODES if tag != "en-GB"]  # en-GB is the survey's own language
    assert defn.default_language == "en-GB"
    assert defn.languages == ["en-GB", *expected]
    question = defn.question_map()["QID2"]
    for code, tag in QUALTRICS_CODES:
        assert question.headline[tag] == f"{code} question"
        assert all(c.label[tag] == f"{code} choice {c.id.removeprefix('c')}" for c in question.choices)
    assert imported.report().languages == ["en-GB", *expected]
    assert blocking_errors(validate_definition(defn)) == []


def test_unknown_language_codes_are_warned_not_guessed(shared_data: Path) -> None:
    raw = _raw(shared_data, "Single_Answer_Multiple_Choice_Questions/Single_Answer_MC_Questions.qsf")
    qid = next(e["PrimaryAttribute"] for e in raw["SurveyElements"] if e["Element"] == "SQ")
    imported = _import(_with_payload(raw, qid, Language={"KLINGON": {"QuestionText": "nuqneH"}}))
    assert imported.definition.languages == ["en"]
    assert any("'KLINGON' is not a known Qualtrics language code" in str(w) for w in imported.warnings)


def test_report_counts_logic_rules_of_the_logic_survey(shared_data: Path) -> None:
    imported = _read(shared_data, "Survey_Logic/Survey_Logic_EVERYWHERE.qsf")
    defn = imported.definition
    report = imported.report()
    jumps = [(q.id, rule.target) for _, _, q in defn.questions() for rule in q.jump_logic]
    shown_if = [q.id for _, _, q in defn.questions() if q.display_logic is not None]
    assert ("QID3", "end") in jumps
    assert report.logic_rule_count == len(jumps) + len(shown_if) + sum(p.display_logic is not None for p in defn.pages)
    assert report.logic_rule_count >= 1
    summary = report.summary()
    assert f"{report.question_count} questions" in summary and "languages en" in summary


@pytest.mark.parametrize(
    "relative",
    [
        "Many_Different_Question_Types/Sample_Survey.qsf",
        "Long_Exhaustive_Sample_Survey/Long_Exhaustive_Sample_Survey.qsf",
    ],
)
def test_question_warnings_name_the_question_and_its_text(shared_data: Path, relative: str) -> None:
    imported = _read(shared_data, relative)
    question_warnings = [w for w in imported.warnings if w.location.startswith("question QID")]
    named = [w for w in question_warnings if "'" in w.location]
    assert named and all(len(w.location) < 80 for w in named)


def test_the_api_reports_what_the_import_kept(shared_data: Path, admin_api: Any) -> None:
    path = shared_data / QUALTRICS / "Long_Exhaustive_Sample_Survey/Long_Exhaustive_Sample_Survey.qsf"
    r = admin_api.post("/api/v1/surveys/import", files=[("file", (path.name, path.read_bytes(), "application/json"))])
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["question_count"], body["display_count"], body["languages"]) == (51, 1, ["en"])
    assert body["logic_rule_count"] >= 0 and body["page_count"] >= 1
    survey = admin_api.get(f"/api/v1/surveys/{body['survey_id']}").json()
    types = [q["type"] for p in survey["definition"]["pages"] for q in p["questions"]]
    assert types.count("display") == 1 and len(types) == 52
