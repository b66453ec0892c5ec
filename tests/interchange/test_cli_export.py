"""`cem surveys import/export`, SurveyJS round trip, and responses as CSV/XLSX."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from cem.cli import app
from cem.db.session import Database
from cem.interchange.exporters.responses import responses_csv, responses_xlsx
from cem.interchange.exporters.surveyjs import to_surveyjs
from cem.interchange.importers import read_definition
from cem.interchange.importers.store import import_survey
from cem.responses import service as response_service
from cem.surveys import service as survey_service
from tests.conftest import Workspace

DEFINITIONS = Path("/work/shared/data/survey-definitions")
MC = DEFINITIONS / "qualtrics/Single_Answer_Multiple_Choice_Questions"


def test_cli_import_text_and_json_then_export(cli: CliRunner, db: Database, tmp_path: Path) -> None:
    qsf = DEFINITIONS / "qualtrics/Survey_Logic/Survey_Logic_EVERYWHERE.qsf"
    text = cli.invoke(app, ["surveys", "import", str(qsf), "--workspace", "acme"])
    assert text.exit_code == 0, text.output
    assert "5 questions" in text.stdout and "warning: question QID2" in text.stdout
    result = cli.invoke(app, ["surveys", "import", str(qsf), "--workspace", "acme", "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["question_count"] == 5 and report["format"] == "qualtrics"
    assert all(set(w) == {"location", "message"} for w in report["warnings"]) and report["warnings"]
    out = tmp_path / "export.json"
    exported = cli.invoke(
        app,
        ["surveys", "export", str(report["survey_id"]), "--workspace", "acme", "--format", "surveyjs", "-o", str(out)],
    )
    assert exported.exit_code == 0, exported.output
    model = json.loads(out.read_text())
    assert sum(len(p["elements"]) for p in model["pages"]) == 5
    to_stdout = cli.invoke(app, ["surveys", "export", str(report["survey_id"]), "--workspace", "acme"])
    assert json.loads(to_stdout.stdout) == model


def test_cli_import_with_responses(cli: CliRunner, db: Database) -> None:
    result = cli.invoke(
        app,
        [
            "surveys",
            "import",
            str(MC / "Single_Answer_MC_Questions.qsf"),
            "--workspace",
            "acme",
            "--responses",
            str(MC / "Single_Answer_MC_Questions_Insights.csv"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Responses (qualtrics-3-header): 5 rows, 5 stored, 0 rejected." in result.stdout


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("survey.docx", b"PK\x03\x04", "unknown file type"),
        ("survey.lss", b"<document><questions>", "not valid XML"),
        ("survey.json", b'{"pages": [', "not valid JSON"),
        ("survey.qsf", b"", "empty"),
        ("survey.json", bytes(range(256)), "binary"),
    ],
    ids=["extension", "corrupt-xml", "corrupt-json", "empty", "binary"],
)
def test_cli_unreadable_files_exit_non_zero(
    cli: CliRunner, tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = cli.invoke(app, ["surveys", "import", str(path), "--workspace", "acme"])
    assert result.exit_code == 2
    assert reason in result.output and "Traceback" not in result.output


def test_cli_missing_file_and_unknown_survey(cli: CliRunner, tmp_path: Path) -> None:
    missing = cli.invoke(app, ["surveys", "import", str(tmp_path / "nope.qsf"), "--workspace", "acme"])
    assert missing.exit_code == 2 and "not found" in missing.output
    unknown = cli.invoke(app, ["surveys", "export", "999999", "--workspace", "acme"])
    assert unknown.exit_code == 2 and "does not exist" in unknown.output
    bad_format = cli.invoke(app, ["surveys", "export", "1", "--workspace", "acme", "--format", "qsf"])
    assert bad_format.exit_code == 2 and "surveyjs" in bad_format.output


ROUND_TRIP = [
    DEFINITIONS / "surveyjs/python-surveyjs_test_survey_schema.json",
    DEFINITIONS / "limesurvey/ls3_sample_survey_multilingual_fr_de_en_it.lss",
    DEFINITIONS / "qualtrics/Long_Exhaustive_Sample_Survey/Long_Exhaustive_Sample_Survey.qsf",
]


@pytest.mark.parametrize("path", ROUND_TRIP, ids=[p.name for p in ROUND_TRIP])
def test_surveyjs_round_trip_keeps_questions_and_choices(path: Path) -> None:
    first = read_definition(path.name, path.read_bytes()).definition
    exported = json.dumps(to_surveyjs(first, name="x")).encode()
    second = read_definition("export.json", exported).definition

    def shape(defn: object) -> list[tuple[object, ...]]:
        return [
            (
                q.id,
                q.type,
                q.headline,
                [(c.id, c.label) for c in q.choices],
                [(r.id, r.label) for r in q.rows],
                [(c.id, c.label) for c in q.columns],
                q.required,
            )
            for _, _, q in defn.questions()  # type: ignore[attr-defined]
        ]

    assert shape(second) == shape(first)
    assert [p.id for p in second.pages] == [p.id for p in first.pages]
    assert set(second.languages) == set(first.languages)


def test_responses_csv_and_xlsx_content(db: Database, workspace: Workspace) -> None:
    with db.unit_of_work() as session:
        outcome = import_survey(
            session,
            workspace.principal(),
            filename="mc.qsf",
            content=(MC / "Single_Answer_MC_Questions.qsf").read_bytes(),
            responses=[("r.csv", (MC / "Single_Answer_MC_Questions.csv").read_bytes())],
        )
        defn = survey_service.working_definition(outcome.survey)
        text = responses_csv(session, outcome.survey, defn)
        xlsx = responses_xlsx(session, outcome.survey, defn)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:2] == ["response_id", "status"] and "QID2" in rows[0] and "QID4.other" in rows[0]
    assert rows[1][rows[0].index("QID2")] == "Click to write the question text"  # second header: question texts
    data = {r[0]: r for r in rows[2:]}
    assert len(data) == 5
    qid2 = rows[0].index("QID2")
    choice_3 = next(c.label["en"] for c in defn.question_map()["QID2"].choices if c.id == "c3")
    assert data["R_862TbryT6hpIAfP"][qid2] == choice_3
    sheet = load_workbook(io.BytesIO(xlsx), read_only=True)["Responses"]
    xrows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert [str(c) if c is not None else "" for c in xrows[0]] == rows[0]
    assert len(xrows) == len(rows)
    assert {r[0] for r in xrows[2:]} == set(data)


def test_cli_import_responses_later(cli: CliRunner, db: Database) -> None:
    created = cli.invoke(
        app,
        ["surveys", "import", str(MC / "Single_Answer_MC_Questions.qsf"), "--workspace", "acme", "--format", "json"],
    )
    survey_id = json.loads(created.stdout)["survey_id"]
    args = ["surveys", "import-responses", str(MC / "Single_Answer_MC_Questions.csv"), "--survey", str(survey_id)]
    result = cli.invoke(app, [*args, "--workspace", "acme"])
    assert result.exit_code == 0, result.output
    assert "5 rows, 5 stored, 0 rejected" in result.stdout
    as_json = cli.invoke(app, [*args, "--workspace", "acme", "--format", "json"])
    assert json.loads(as_json.stdout)["stored"] == 5
    unknown = cli.invoke(
        app,
        [
            "surveys",
            "import-responses",
            str(MC / "Single_Answer_MC_Questions.csv"),
            "--survey",
            "424242",
            "--workspace",
            "acme",
        ],
    )
    assert unknown.exit_code == 2 and "does not exist" in unknown.output


@pytest.mark.parametrize(
    ("name", "minimum"),
    [("ls205_group_relevance.lss", 20), ("ls3_sample_survey_multilingual_fr_de_en_it.lss", 9)],
)
def test_surveyjs_round_trip_keeps_display_logic(name: str, minimum: int) -> None:
    """visibleIf written by the exporter (nested and/or in parentheses, anyof, empty) reads back identically."""
    path = DEFINITIONS / "limesurvey" / name
    first = read_definition(path.name, path.read_bytes()).definition
    second = read_definition("export.json", json.dumps(to_surveyjs(first)).encode()).definition
    before = {q.id: q.display_logic for _, _, q in first.questions()}
    after = {q.id: q.display_logic for _, _, q in second.questions()}
    assert sum(1 for v in before.values() if v is not None) >= minimum
    assert after == before
    assert [p.display_logic for p in second.pages] == [p.display_logic for p in first.pages]


def test_exports_do_not_turn_answers_into_formulas(db: Database, workspace: Workspace) -> None:
    """Text answers are text: formula-like ones get a leading quote (even "-3": it was typed, not a number).

    Answers are stored stripped, so the tab/CR-led payloads arrive as "=1", still formula-like.
    """
    payloads = ['=HYPERLINK("http://x","y")', "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "-3"]
    path = DEFINITIONS / "surveyjs/collecthor_text.json"
    with db.unit_of_work() as session:
        survey = import_survey(session, workspace.principal(), filename=path.name, content=path.read_bytes()).survey
        survey_service.publish_survey(session, workspace.principal(), survey)
        for payload in payloads:
            response_service.add_response(session, survey, answers={"question1": payload})
        defn = survey_service.working_definition(survey)
        rows = list(csv.reader(io.StringIO(responses_csv(session, survey, defn))))
        xlsx = responses_xlsx(session, survey, defn)
    column = rows[0].index("question1")
    assert sorted(r[column] for r in rows[2:]) == sorted("'" + p.strip() for p in payloads)
    sheet = load_workbook(io.BytesIO(xlsx))["Responses"]
    cells = [c for row in sheet.iter_rows() for c in row]
    assert cells and all(c.data_type != "f" for c in cells)
    values = [c.value for c in sheet[chr(ord("A") + column)][2:]]
    assert sorted(values) == sorted("'" + p.strip() for p in payloads)
