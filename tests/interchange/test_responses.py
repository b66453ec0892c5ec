"""Qualtrics response CSV exports (legacy 2-header and newer 3-header layouts) into responses of the imported survey."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cem.customers import service as customer_service
from cem.db.session import Database
from cem.errors import BadRequest
from cem.feedback.models import FeedbackRecord
from cem.interchange.importers.store import add_responses, import_survey
from cem.surveys.models import SurveyResponse
from tests.conftest import Workspace

QUALTRICS = Path("/work/shared/data/survey-definitions/qualtrics")

# (definition, response export, layout)
PAIRS = [
    (
        "Single_Answer_Multiple_Choice_Questions/Single_Answer_MC_Questions.qsf",
        "Single_Answer_Multiple_Choice_Questions/Single_Answer_MC_Questions.csv",
        "qualtrics-legacy-2-header",
    ),
    (
        "Single_Answer_Multiple_Choice_Questions/Single_Answer_MC_Questions.qsf",
        "Single_Answer_Multiple_Choice_Questions/Single_Answer_MC_Questions_Insights.csv",
        "qualtrics-3-header",
    ),
    (
        "Long_Exhaustive_Sample_Survey/Long_Exhaustive_Sample_Survey.qsf",
        "Long_Exhaustive_Sample_Survey/Long_Exhaustive_Sample_Survey.csv",
        "qualtrics-3-header",
    ),
    (
        "Multiple_Answer_Matrix_Questions/Multiple_Answer_Matrix_Questions.qsf",
        "Multiple_Answer_Matrix_Questions/Multiple_Answer_Matrix_Questions.csv",
        "qualtrics-legacy-2-header",
    ),
]


def _data_rows(path: Path) -> list[list[str]]:
    rows = list(csv.reader(path.open(encoding="utf-8-sig")))
    skip = 2 if rows[0][0] == "V1" else 3
    return [r for r in rows[skip:] if any(c.strip() for c in r)]


@pytest.mark.parametrize(("definition", "export", "layout"), PAIRS, ids=[p[1].split("/")[-1] for p in PAIRS])
def test_response_export_imports_and_reimport_is_idempotent(
    db: Database, workspace: Workspace, definition: str, export: str, layout: str
) -> None:
    source = QUALTRICS / export
    expected = _data_rows(source)
    with db.unit_of_work() as session:
        outcome = import_survey(
            session,
            workspace.principal(),
            filename=Path(definition).name,
            content=(QUALTRICS / definition).read_bytes(),
            responses=[(source.name, source.read_bytes())],
        )
        result = outcome.responses[0]
        survey_id = outcome.survey.id
        assert result.layout == layout
        assert result.rows == len(expected)
        assert result.stored + len(result.errors) == len(expected)
        assert result.stored >= 1
        again = add_responses(session, workspace.principal(), outcome.survey, source.name, source.read_bytes())
        assert again.stored == result.stored
    with db.unit_of_work(readonly=True) as session:
        ids = set(session.scalars(select(SurveyResponse.submission_id).where(SurveyResponse.survey_id == survey_id)))
        records = session.scalar(select(func.count()).select_from(FeedbackRecord))
    assert len(ids) == result.stored  # ResponseID is the submission id: a re-import replaced, not duplicated
    assert ids <= {row[0] for row in expected}
    assert records and records > 0


def test_every_shared_response_export_imports_completely(db: Database, workspace: Workspace) -> None:
    """All 23 Qualtrics response CSVs (both layouts) import into the survey of their folder's .qsf: every row."""
    exports = sorted(QUALTRICS.glob("*/*.csv"))
    assert len(exports) == 23
    layouts = set()
    with db.unit_of_work() as session:
        for export in exports:
            definition = next(export.parent.glob("*.qsf"))
            outcome = import_survey(
                session,
                workspace.principal(),
                filename=definition.name,
                content=definition.read_bytes(),
                responses=[(export.name, export.read_bytes())],
            )
            result = outcome.responses[0]
            expected = _data_rows(export)
            assert (result.rows, result.stored, result.errors) == (len(expected), len(expected), []), export.name
            layouts.add(result.layout)
    assert layouts == {"qualtrics-legacy-2-header", "qualtrics-3-header"}


def test_single_choice_answers_match_the_export(db: Database, workspace: Workspace) -> None:
    """Legacy export row R_862TbryT6hpIAfP answered Q2 (QID2) with choice 3: the stored answer is that choice."""
    base = QUALTRICS / "Single_Answer_Multiple_Choice_Questions"
    with db.unit_of_work() as session:
        outcome = import_survey(
            session,
            workspace.principal(),
            filename="s.qsf",
            content=(base / "Single_Answer_MC_Questions.qsf").read_bytes(),
            responses=[("legacy.csv", (base / "Single_Answer_MC_Questions.csv").read_bytes())],
        )
        response = session.scalar(select(SurveyResponse).where(SurveyResponse.submission_id == "R_862TbryT6hpIAfP"))
        assert response is not None
        assert response.answers["QID2"] == "c3"
        assert response.answers["QID4.other"].startswith("Dictumst mattis")
        assert response.channel == "import" and response.status == "completed"
        assert outcome.responses[0].errors == []


def test_bad_rows_are_reported_and_good_rows_stored(db: Database, workspace: Workspace) -> None:
    base = QUALTRICS / "Single_Answer_Multiple_Choice_Questions"
    rows = list(csv.reader((base / "Single_Answer_MC_Questions_Insights.csv").open(encoding="utf-8-sig")))
    q2 = rows[0].index("Q2")
    rows[3][q2] = "99"  # no such choice
    rows[4][0] = ""  # no response id
    text = "\n".join(",".join(f'"{c}"' for c in r) for r in rows).encode()
    with db.unit_of_work() as session:
        outcome = import_survey(
            session,
            workspace.principal(),
            filename="s.qsf",
            content=(base / "Single_Answer_MC_Questions.qsf").read_bytes(),
            responses=[("bad.csv", text)],
        )
        result = outcome.responses[0]
    assert result.rows == len(rows) - 3
    assert [e["line"] for e in result.errors] == [4, 5]
    assert "QID2" in result.errors[0]["errors"][0]
    assert result.stored == result.rows - 2


@pytest.mark.parametrize(
    "content", [b"", b"\x00\x01binary", b"a,b\n1,2\n3,4\n"], ids=["empty", "binary", "not-qualtrics"]
)
def test_unreadable_response_files_are_refused(db: Database, workspace: Workspace, content: bytes) -> None:
    base = QUALTRICS / "Single_Answer_Multiple_Choice_Questions"
    with db.unit_of_work() as session, pytest.raises(BadRequest):
        import_survey(
            session,
            workspace.principal(),
            filename="s.qsf",
            content=(base / "Single_Answer_MC_Questions.qsf").read_bytes(),
            responses=[("r.csv", content)],
        )


SURVEYJS = Path("/work/shared/data/survey-definitions/surveyjs")


def test_surveyjs_results_import_into_the_schema_survey(db: Database, workspace: Workspace) -> None:
    """The shared SurveyJS result file imports as a response of the survey imported from its schema."""
    schema, results = (
        SURVEYJS / "python-surveyjs_test_survey_schema.json",
        SURVEYJS / "python-surveyjs_test_survey_response.json",
    )
    raw = json.loads(results.read_text())
    with db.unit_of_work() as session:
        outcome = import_survey(session, workspace.principal(), filename=schema.name, content=schema.read_bytes())
        result = add_responses(session, workspace.principal(), outcome.survey, results.name, results.read_bytes())
        assert (result.rows, result.stored, result.errors) == (1, 1, [])
        again = add_responses(session, workspace.principal(), outcome.survey, results.name, results.read_bytes())
        assert again.stored == 1
        responses = list(session.scalars(select(SurveyResponse).where(SurveyResponse.survey_id == outcome.survey.id)))
    assert len(responses) == 1  # the same result again is the same submission
    answers = responses[0].answers
    assert answers["firstName"] == raw["firstName"]
    assert answers["hobbies"] == raw["hobbies"]
    assert answers["priorityItems"] == raw["priorityItems"]
    assert answers["satisfaction"] == raw["satisfaction"]
    assert answers["agreeTerms"] is True  # valueTrue "agreed" of a checkbox boolean -> consent given
    # Answers to questions cem did not import (signature, file, expression) are listed, not silently lost.
    assert {"signature", "fullName"} <= set(result.ignored_columns)


def test_responses_can_be_added_later_by_survey_id(db: Database, workspace: Workspace) -> None:
    """The source's answer codes are kept with the survey, so a later import needs no definition file."""
    base = QUALTRICS / "No_Basis_for_Evaluation"
    with db.unit_of_work() as session:
        survey = import_survey(
            session,
            workspace.principal(),
            filename="nb.qsf",
            content=(base / "No_Basis_for_Evaluation.qsf").read_bytes(),
        ).survey
    with db.unit_of_work() as session:
        survey = session.merge(survey)
        legacy = add_responses(
            session,
            workspace.principal(),
            survey,
            "legacy.csv",
            (base / "No_Basis_for_Evaluation_Legacy.csv").read_bytes(),
        )
        new = add_responses(
            session,
            workspace.principal(),
            survey,
            "new.csv",
            (base / "No_Basis_for_Evaluation_Insights.csv").read_bytes(),
        )
    assert legacy.layout == "qualtrics-legacy-2-header" and new.layout == "qualtrics-3-header"
    assert legacy.stored == len(_data_rows(base / "No_Basis_for_Evaluation_Legacy.csv"))
    assert new.stored == len(_data_rows(base / "No_Basis_for_Evaluation_Insights.csv"))
    with db.unit_of_work(readonly=True) as session:
        stored = session.scalar(
            select(func.count()).select_from(SurveyResponse).where(SurveyResponse.survey_id == survey.id)
        )
    # Both files are exports of the same responses: the ResponseIDs overlap, so they are stored once.
    both = {r[0] for r in _data_rows(base / "No_Basis_for_Evaluation_Legacy.csv")} | {
        r[0] for r in _data_rows(base / "No_Basis_for_Evaluation_Insights.csv")
    }
    assert stored == len(both)


def test_bad_response_file_types(db: Database, workspace: Workspace) -> None:
    schema = SURVEYJS / "collecthor_text.json"
    with db.unit_of_work() as session:
        survey = import_survey(session, workspace.principal(), filename=schema.name, content=schema.read_bytes()).survey
        for name, content, reason in [
            ("r.xlsx", b"PK", "expected a Qualtrics .csv"),
            ("r.json", b"[1, 2]", "SurveyJS result object"),
            ("r.json", b"{oops", "not valid JSON"),
            ("r.json", b"", "empty"),
        ]:
            with pytest.raises(BadRequest) as caught:
                add_responses(session, workspace.principal(), survey, name, content)
            assert reason in caught.value.detail


LAYOUT_PAIRS = [
    (
        "Single_Answer_Multiple_Choice_Questions",
        "Single_Answer_MC_Questions.csv",
        "Single_Answer_MC_Questions_Insights.csv",
    ),
    (
        "Single_Answer_Matrix_Questions",
        "Single_Answer_Matrix_Questions.csv",
        "Single_Answer_Matrix_Questions_Insights.csv",
    ),
    (
        "Multiple_Answer_Matrix_Questions",
        "Multiple_Answer_Matrix_Questions.csv",
        "Multiple_Answer_Matrix_Questions_Insights.csv",
    ),
    (
        "Multiple_Answer_Multiple_Choices_Questions",
        "Multiple_Answer_MC_Questions.csv",
        "Multiple_Answer_MC_Questions_Insights.csv",
    ),
    ("No_Basis_for_Evaluation", "No_Basis_for_Evaluation_Legacy.csv", "No_Basis_for_Evaluation_Insights.csv"),
    ("Side-by-Side_Questions", "SidebySide_Questions_Legacy.csv", "SidebySide_Questions_Insights.csv"),
    ("Many_Different_Question_Types", "Sample_Survey.csv", "Sample_Survey_Insights.csv"),
]


def test_both_layouts_of_the_same_responses_give_the_same_answers(db: Database, workspace: Workspace) -> None:
    """The legacy and the newer export of one survey's responses name columns differently (export tags vs
    ImportIds): imported into two copies of the survey, every common response has identical answers."""
    compared = 0
    with db.unit_of_work() as session:
        for folder, legacy, newer in LAYOUT_PAIRS:
            definition = next((QUALTRICS / folder).glob("*.qsf"))
            answers: list[dict[str, dict[str, object]]] = []
            for export in (legacy, newer):
                outcome = import_survey(
                    session,
                    workspace.principal(),
                    filename=definition.name,
                    content=definition.read_bytes(),
                    responses=[(export, (QUALTRICS / folder / export).read_bytes())],
                )
                assert outcome.responses[0].errors == []
                rows = session.scalars(select(SurveyResponse).where(SurveyResponse.survey_id == outcome.survey.id))
                answers.append({r.submission_id: r.answers for r in rows})
            common = set(answers[0]) & set(answers[1])
            assert common, folder
            for response_id in common:
                assert answers[0][response_id] == answers[1][response_id], (folder, response_id)
                compared += 1
    assert compared >= 40


def test_respondents_become_customers(db: Database, workspace: Workspace) -> None:
    """Panel fields (ExternalDataReference, RecipientEmail) link the response and its records to a customer."""
    base = QUALTRICS / "Single_Answer_Multiple_Choice_Questions"
    rows = list(csv.reader((base / "Single_Answer_MC_Questions_Insights.csv").open(encoding="utf-8-sig")))
    email, external = rows[0].index("RecipientEmail"), rows[0].index("ExternalDataReference")
    rows[3][email] = "ana@example.com"
    rows[4][external] = "cust-42"
    rows[5][email] = "not-an-email"
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    with db.unit_of_work() as session:
        outcome = import_survey(
            session,
            workspace.principal(),
            filename="s.qsf",
            content=(base / "Single_Answer_MC_Questions.qsf").read_bytes(),
            responses=[("panel.csv", buffer.getvalue().encode())],
        )
        result = outcome.responses[0]
        by_id = {
            r.submission_id: r
            for r in session.scalars(select(SurveyResponse).where(SurveyResponse.survey_id == outcome.survey.id))
        }
        ana = customer_service.find_customer_by_email(session, workspace_id=workspace.id, email="ana@example.com")
        assert ana is not None and by_id[rows[3][0]].customer_id == ana.id
        linked = session.scalars(select(FeedbackRecord.customer_id).where(FeedbackRecord.submission_id == rows[3][0]))
        assert set(linked) == {ana.id}
        assert by_id[rows[4][0]].customer_id is not None and by_id[rows[4][0]].customer_id != ana.id
        assert by_id[rows[6][0]].customer_id is None
    assert [e["line"] for e in result.errors] == [6] and "email" in result.errors[0]["errors"][0]
    assert result.stored == 4
