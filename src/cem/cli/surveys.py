"""`cem surveys`: import survey definitions (.qsf, .lss, SurveyJS .json) with their responses, export them.

Other survey commands (SUR-A/SUR-C) are added to `surveys_app` in this module.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cem.auth.principal import system_principal
from cem.cli.app import app, echo, fail, friendly_errors, open_db
from cem.cli.options import Workspace
from cem.cli.workspaces import workspace_named
from cem.interchange.exporters.surveyjs import to_surveyjs
from cem.surveys import service as survey_service

surveys_app = typer.Typer(help="Surveys: import and export definitions and responses.", no_args_is_help=True)
app.add_typer(surveys_app, name="surveys")


def _read(path: Path) -> bytes:
    if not path.exists():
        fail(f"File not found: {path}", 2)
    if not path.is_file():
        fail(f"{path} is not a file.", 2)
    return path.read_bytes()


@surveys_app.command("import")
@friendly_errors
def import_command(
    file: Path = typer.Argument(..., help="Qualtrics .qsf, LimeSurvey .lss or SurveyJS .json file."),
    workspace: Workspace = "default",
    name: str = typer.Option(None, help="Survey name (default: the name in the file)."),
    responses: list[Path] = typer.Option(None, "--responses", help="Qualtrics response CSV export(s) to add."),
    output_format: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """Create a draft survey from FILE; print its id, number of questions and every warning."""
    from cem.interchange.importers.store import import_survey

    if output_format not in ("text", "json"):
        fail("--format must be text or json.", 2)
    content = _read(file)
    extra = [(p.name, _read(p)) for p in responses or []]
    db = open_db()
    with db.unit_of_work() as session:
        ws = workspace_named(session, workspace)
        actor = system_principal(ws.id, label="cli")
        outcome = import_survey(session, actor, filename=file.name, content=content, name=name, responses=extra)
        report = outcome.as_dict()
    if output_format == "json":
        echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    echo(
        f"Imported {file.name} ({report['format']}) as survey {report['survey_id']} ({report['slug']}): "
        + outcome.imported.report().summary()
    )
    for warning in outcome.imported.warnings:
        echo(f"  warning: {warning}")
    for result in outcome.responses:
        echo(f"Responses ({result.layout}): {result.rows} rows, {result.stored} stored, {len(result.errors)} rejected.")
        for error in result.errors[:20]:
            echo(f"  line {error['line']} ({error['response_id'] or 'no id'}): {'; '.join(error['errors'])}")


@surveys_app.command("import-responses")
@friendly_errors
def import_responses_command(
    file: Path = typer.Argument(..., help="Qualtrics response CSV export, or SurveyJS results .json."),
    survey_id: int = typer.Option(..., "--survey", help="Id of the survey the responses belong to."),
    workspace: Workspace = "default",
    output_format: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """Add the responses in FILE to a survey (re-importing the same file replaces, never duplicates)."""
    from cem.interchange.importers.store import add_responses

    if output_format not in ("text", "json"):
        fail("--format must be text or json.", 2)
    content = _read(file)
    db = open_db()
    with db.unit_of_work() as session:
        ws = workspace_named(session, workspace)
        actor = system_principal(ws.id, label="cli")
        survey = survey_service.get_survey(session, workspace_id=ws.id, survey_id=survey_id)
        result = add_responses(session, actor, survey, file.name, content)
    if output_format == "json":
        echo(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
        return
    echo(
        f"Responses ({result.layout}) into survey {survey_id}: {result.rows} rows, {result.stored} stored, "
        f"{len(result.errors)} rejected."
    )
    for error in result.errors[:20]:
        echo(f"  line {error['line']} ({error['response_id'] or 'no id'}): {'; '.join(error['errors'])}")
    if result.ignored_columns:
        echo(f"  not imported (no matching question): {', '.join(result.ignored_columns[:30])}")


@surveys_app.command("export")
@friendly_errors
def export_command(
    survey_id: int = typer.Argument(..., help="Survey id."),
    workspace: Workspace = "default",
    output_format: str = typer.Option("surveyjs", "--format", help="surveyjs (the definition as SurveyJS JSON)."),
    output: Path = typer.Option(None, "--output", "-o", help="Write to this file instead of standard output."),
) -> None:
    """Write a survey's working definition as SurveyJS JSON."""
    if output_format != "surveyjs":
        fail(f"Unknown export format {output_format!r}; use surveyjs.", 2)
    db = open_db()
    with db.unit_of_work(readonly=True) as session:
        ws = workspace_named(session, workspace)
        survey = survey_service.get_survey(session, workspace_id=ws.id, survey_id=survey_id)
        model = to_surveyjs(survey_service.working_definition(survey), name=survey.name)
    text = json.dumps(model, indent=2, ensure_ascii=False)
    if output is None:
        echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        echo(f"Wrote survey {survey_id} as SurveyJS JSON to {output}.")
