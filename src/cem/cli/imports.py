"""`cem import`: CSV / NDJSON import into a workspace, in-process, with a progress bar and an error report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

import typer

from cem.auth.principal import system_principal
from cem.cli.app import app, echo, fail, friendly_errors, open_db
from cem.cli.import_help import MAPPING_EPILOG
from cem.cli.options import Workspace
from cem.cli.workspaces import workspace_named
from cem.exports_safety import SafeCsvWriter, csv_writer
from cem.imports.engine import Counts
from cem.imports.runner import LocalImport, recover_interrupted, run_local
from cem.imports.suggest import Suggestion, suggest_for_file
from cem.json_input import parse_json

SHOWN_ERRORS = 20


def _read_mapping_file(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        data = parse_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        fail(f"Mapping file not found: {path}", 2)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        fail(f"The mapping file {path} is not valid JSON: {exc}", 2)
    if not isinstance(data, dict):
        fail(f"The mapping file {path} must hold a JSON object.", 2)
    return data


class ErrorReport:
    """Keeps the first errors for the summary and streams every error to --errors-csv."""

    def __init__(self, path: Path | None) -> None:
        self.first: list[dict[str, Any]] = []
        self.handle: TextIO | None = path.open("w", newline="", encoding="utf-8") if path else None
        self.writer: SafeCsvWriter | None = csv_writer(self.handle) if self.handle else None
        if self.writer:
            self.writer.writerow(["line", "column", "reason", "value"])

    def __call__(self, errors: list[dict[str, Any]]) -> None:
        self.first.extend(errors[: SHOWN_ERRORS - len(self.first)])
        if self.writer:
            self.writer.writerows([e["line"], e["column"], e["reason"], e["value"]] for e in errors)

    def close(self) -> None:
        if self.handle:
            self.handle.close()


class Bar:
    """A progress bar on stderr that appears once the file's size is known."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.done = 0

    def start(self, total: int, note: str) -> None:
        typer.echo(f"Mapping: {note}", err=True)
        self.bar = typer.progressbar(length=max(total, 1), label="Importing", file=None)
        self.bar.__enter__()

    def __call__(self, counts: Counts) -> None:
        if self.bar is not None:
            self.bar.update(counts.processed - self.done)
            self.done = counts.processed

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def _shown(text: str) -> str:
    """A file's text for the terminal: control characters (an escape sequence in a header) as escapes."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def _print_suggestion(suggestion: Suggestion) -> None:
    """The mapping as JSON on stdout (redirect it to a file); what each column looks like and the notes on stderr."""
    echo(json.dumps(suggestion.mapping, indent=2, ensure_ascii=False))
    typer.echo(f"Guessed from the first {suggestion.sample_rows} rows. Columns:", err=True)
    for c in suggestion.columns:
        examples = ", ".join(repr(e) for e in c.examples)
        line = f"  {c.name}: {c.guessed_type}, {c.distinct} distinct, {c.empty} empty ({examples})"
        typer.echo(_shown(line), err=True)
    for note in suggestion.notes:
        typer.echo(_shown(f"Note: {note}"), err=True)
    typer.echo("Edit the mapping, then pass it back with --mapping-file.", err=True)


@app.command("import", epilog=MAPPING_EPILOG)
@friendly_errors
def import_file(
    file: Path = typer.Argument(..., help="CSV file (or .ndjson/.jsonl with one feedback record per line)."),
    workspace: Workspace = "default",
    target: str = typer.Option("feedback", help="feedback, customers or events."),
    mapping: str = typer.Option(None, help="Name of a saved mapping."),
    mapping_file: Path = typer.Option(None, help="JSON file holding the mapping."),
    save_mapping: str = typer.Option(None, help="Save the mapping used under this name."),
    encoding: str = typer.Option(None, help="File encoding when not UTF-8 (e.g. latin-1)."),
    delimiter: str = typer.Option(None, help="CSV delimiter (, ; tab |); sniffed when not given."),
    errors_csv: Path = typer.Option(None, help="Write every rejected row (line, column, reason) to this CSV."),
    suggest_mapping: bool = typer.Option(
        False, "--suggest-mapping", help="Print a mapping guessed from the header and first rows; import nothing."
    ),
) -> None:
    """Import a file: good rows are stored, bad rows reported; re-running the same file is safe."""
    if suggest_mapping:
        if mapping or mapping_file or save_mapping:
            fail(
                "--suggest-mapping guesses a mapping and imports nothing; leave out --mapping, --mapping-file and "
                "--save-mapping.",
                2,
            )
        _print_suggestion(suggest_for_file(file, target=target, encoding=encoding, delimiter=delimiter))
        return
    if mapping and mapping_file:
        fail("Give --mapping or --mapping-file, not both.", 2)
    request = LocalImport(
        path=file,
        target=target,
        mapping=_read_mapping_file(mapping_file),
        mapping_name=mapping,
        save_as=save_mapping,
        encoding=encoding,
        delimiter=delimiter,
    )
    db = open_db()
    recover_interrupted(db)
    with db.unit_of_work(readonly=True) as session:
        ws = workspace_named(session, workspace)
        actor = system_principal(ws.id, label="cli")
    report, bar = ErrorReport(errors_csv), Bar()
    try:
        outcome = run_local(db, actor, request, on_start=bar.start, on_progress=bar, on_errors=report)
    finally:
        bar.close()
        report.close()
    counts = outcome.counts
    echo(
        f"Imported {file.name} into {workspace} (run {outcome.run_id}): {counts.processed} rows read, "
        f"{counts.ok} stored, {counts.errors} rejected."
    )
    for err in report.first:
        where = f", column {err['column']}" if err["column"] else ""
        echo(f"  line {err['line']}{where}: {err['reason']}" + (f" ({err['value']!r})" if err["value"] else ""))
    if counts.errors > len(report.first):
        more = f"; all of them are in {errors_csv}" if errors_csv else "; pass --errors-csv PATH for all of them"
        echo(f"  ... {counts.errors - len(report.first)} more{more}.")
