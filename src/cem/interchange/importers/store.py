"""Storing an imported definition (and optionally its responses) as a cem survey."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cem.auth import audit
from cem.auth.principal import Principal
from cem.interchange.importers import read_definition
from cem.interchange.importers.convert import ImportedSurvey, QuestionCodes
from cem.interchange.importers.models import SurveyImport
from cem.interchange.importers.responses import ResponseImportResult, import_response_file
from cem.surveys import service as survey_service
from cem.surveys.definition import SurveyDefinition
from cem.surveys.models import Survey


@dataclass
class ImportOutcome:
    survey: Survey
    imported: ImportedSurvey
    responses: list[ResponseImportResult] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "survey_id": self.survey.id,
            "slug": self.survey.slug,
            "name": self.survey.name,
            **self.imported.report().as_dict(),
            "responses": [r.as_dict() for r in self.responses],
        }


def import_survey(
    session: Session,
    actor: Principal,
    *,
    filename: str,
    content: bytes,
    name: str | None = None,
    responses: list[tuple[str, bytes]] | None = None,
) -> ImportOutcome:
    """Create a draft survey from a .qsf/.lss/SurveyJS file; then store any Qualtrics response exports into it."""
    imported = read_definition(filename, content)
    title = (name or imported.name or PurePath(filename).stem).strip()[:200] or "Imported survey"
    survey = survey_service.create_survey(
        session, actor, name=title, definition=imported.definition.model_dump(mode="json")
    )
    _audit(session, actor, "survey.import", survey, filename, format=imported.format, warnings=len(imported.warnings))
    session.add(
        SurveyImport(
            workspace_id=survey.workspace_id,
            survey_id=survey.id,
            format=imported.format,
            filename=filename[:200],
            question_count=imported.question_count,
            warnings=[w.as_dict() for w in imported.warnings],
            codes=imported.codes_json(),
            created_by=actor.label[:200],
        )
    )
    session.flush()
    outcome = ImportOutcome(survey=survey, imported=imported)
    for response_name, response_content in responses or []:
        outcome.responses.append(add_responses(session, actor, survey, response_name, response_content))
    return outcome


def survey_codes(session: Session, survey: Survey) -> dict[str, QuestionCodes]:
    """How response files name the survey's answers: as recorded when it was imported, else cem's own ids
    (a survey built in cem, exported elsewhere and answered there)."""
    record = session.scalar(
        select(SurveyImport).where(SurveyImport.survey_id == survey.id).order_by(SurveyImport.id.desc()).limit(1)
    )
    defn = current_definition(session, survey)
    codes = {qid: QuestionCodes(**raw) for qid, raw in (record.codes if record else {}).items()}
    return {q.id: codes.get(q.id) or _own_codes(q.id, defn) for _, _, q in defn.answerable_questions()}


def current_definition(session: Session, survey: Survey) -> SurveyDefinition:
    """The survey's current (frozen) version, or its working copy while it has none: what responses are read
    against and exported from."""
    if survey.current_version_id is not None:
        return survey_service.version_definition(session, survey.current_version_id)
    return survey_service.working_definition(survey)


def _own_codes(question_id: str, defn: SurveyDefinition) -> QuestionCodes:
    q = defn.question_map()[question_id]
    return QuestionCodes(
        question_id=q.id,
        source_ref=q.id,
        type=q.type,
        export_tag=q.id,
        choices={c.id: c.id for c in q.choices},
        rows={r.id: r.id for r in q.rows},
        columns={c.id: c.id for c in q.columns},
    )


def add_responses(
    session: Session, actor: Principal, survey: Survey, filename: str, content: bytes
) -> ResponseImportResult:
    """Responses need a frozen version to be read against: freeze the working copy first if there is none."""
    if survey.current_version_id is None:
        survey_service._new_version_if_changed(session, actor, survey)
    result = import_response_file(session, survey, survey_codes(session, survey), filename, content)
    _audit(
        session, actor, "survey.import_responses", survey, filename, stored=result.stored, rejected=len(result.errors)
    )
    return result


def _audit(session: Session, actor: Principal, action: str, survey: Survey, filename: str, **details: Any) -> None:
    audit.record(
        session, actor, action, entity_type="survey", entity_id=survey.id, details={"file": filename[:200], **details}
    )
