"""`cem text`: text analytics on plain files, with no database (sentiment of any CSV column)."""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import typer

from cem.cli.app import app, echo, fail, friendly_errors, open_db
from cem.cli.workspaces import workspace_named
from cem.exports_safety import SafeDictWriter
from cem.text.sentiment import ANALYZERS, DEFAULT_ANALYZER, Sentiment, analyze_texts, get_analyzer

text_app = typer.Typer(help="Text analytics, offline: sentiment of free-text columns.", no_args_is_help=True)
app.add_typer(text_app, name="text")

CHUNK = 256
OUT_COLUMNS = ("sentiment_label", "sentiment_score")
# Review bodies can be long; the csv module's 128 KiB default would reject them.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def open_csv(path: Path) -> tuple[Any, csv.DictReader[str]]:
    """The open file and a reader positioned after the header; readable messages for every way this fails."""
    if not path.is_file():
        fail(f"Input file not found: {path}", 2)
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
        reader = csv.DictReader(handle)
        if not reader.fieldnames:
            fail(f"{path} is empty: a CSV with a header row is expected.", 2)
    except UnicodeDecodeError:
        fail(f"{path} is not UTF-8 text; save it as UTF-8 CSV and retry.", 2)
    except (OSError, csv.Error) as exc:
        fail(f"Cannot read {path}: {exc}", 2)
    return handle, reader


def _count_rows(path: Path) -> int:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return max(sum(1 for _ in csv.reader(handle)) - 1, 0)
    except UnicodeDecodeError:
        fail(f"{path} is not UTF-8 text; save it as UTF-8 CSV and retry.", 2)
    except csv.Error as exc:
        fail(f"{path} is not a valid CSV: {exc}", 2)
    return 0


def _chunks(reader: csv.DictReader[str]) -> Iterator[list[dict[str, Any]]]:
    while chunk := list(islice(reader, CHUNK)):
        yield chunk


def _cells(result: Sentiment | None) -> dict[str, str | float]:
    if result is None:
        return dict.fromkeys(OUT_COLUMNS, "")
    # The score as a number, so the CSV's formula guard leaves a negative score alone.
    return {"sentiment_label": result.label, "sentiment_score": round(result.score, 4)}


@text_app.command("sentiment")
def sentiment_csv(
    input_path: Path = typer.Option(..., "--input", "-i", help="CSV file with a header row (UTF-8)."),
    column: str = typer.Option(..., "--column", "-c", help="The column holding the text."),
    output: Path = typer.Option(..., "--output", "-o", help="CSV to write: the input plus two sentiment columns."),
    model: str = typer.Option(DEFAULT_ANALYZER, help=f"Sentiment model: {', '.join(ANALYZERS)} (vader: English only)."),
) -> None:
    """Add sentiment_label and sentiment_score to every row of a CSV (blank when the text is empty/unsupported)."""
    if model not in ANALYZERS:
        fail(f"Unknown sentiment model {model!r}; choose one of: {', '.join(ANALYZERS)}.", 2)
    if output.resolve() == input_path.resolve():
        fail("--output must be a different file from --input.", 2)
    if not output.parent.is_dir():
        fail(f"Output folder not found: {output.parent}", 2)
    handle, reader = open_csv(input_path)
    with handle:
        fields = list(reader.fieldnames or [])
        if column not in fields:
            fail(f"Column {column!r} not found in {input_path}; columns are: {', '.join(fields)}.", 2)
        total = _count_rows(input_path)
        analyzer = get_analyzer(model)
        counts = _write(reader, output, column, fields, total, analyzer)
    summary = ", ".join(f"{label} {n}" for label, n in sorted(counts.items()))
    echo(f"Wrote {sum(counts.values())} rows to {output} ({summary}).")


def _write(
    reader: csv.DictReader[str], output: Path, column: str, fields: list[str], total: int, analyzer: Any
) -> dict[str, int]:
    """Stream chunks through the analyzer into a temporary file, renamed into place only when complete."""
    tmp = output.with_name(f".{output.name}.partial")
    counts: dict[str, int] = {}
    try:
        with (
            tmp.open("w", encoding="utf-8", newline="") as out,
            typer.progressbar(length=total, label="Sentiment") as bar,
        ):
            writer = SafeDictWriter(out, fieldnames=fields + [c for c in OUT_COLUMNS if c not in fields])
            writer.writeheader()
            for chunk in _chunks(reader):
                texts = [row.get(column) or "" for row in chunk]
                for row, result in zip(chunk, analyze_texts(texts, analyzer, progress=bar.update), strict=True):
                    # Only the header's columns: cells beyond it (ragged rows) have no column to go to.
                    writer.writerow({name: row.get(name) for name in fields} | _cells(result))
                    key = result.label if result else "blank"
                    counts[key] = counts.get(key, 0) + 1
        os.replace(tmp, output)
    except (UnicodeDecodeError, csv.Error) as exc:
        where = f" (line {reader.line_num})" if reader.line_num else ""
        fail(f"Cannot read the input{where}: {exc}", 2)
    finally:
        tmp.unlink(missing_ok=True)
    return counts


# -- stored feedback: backfill and training ---------------------------------------------------------------------------


def workspace_id_of(db: Any, slug: str) -> int:

    with db.unit_of_work(readonly=True) as session:
        return int(workspace_named(session, slug).id)


def _stale_ids(db: Any, workspace_id: int) -> list[int]:
    """Every text record lacking enrichment or whose text changed since (a quick pass, no model involved)."""
    from cem.text import enrich

    ids: list[int] = []
    after: int | None = 0
    while after is not None:
        with db.unit_of_work(readonly=True) as session:
            found, after = enrich.stale_record_ids(session, workspace_id=workspace_id, after_id=after, limit=5000)
        ids.extend(found)
    return ids


@text_app.command("backfill")
@friendly_errors
def backfill(
    workspace: str = typer.Option("default", help="Workspace slug."),
    batch: int = typer.Option(256, min=1, max=10_000, help="Records per committed batch."),
) -> None:
    """Enrich stored text feedback (language, sentiment, emotions, topics, embedding) that lacks it.

    Each batch commits on its own, so an interrupted backfill resumes where it stopped: records already enriched
    with an unchanged text are skipped.
    """
    from cem.text import enrich

    db = open_db()
    workspace_id = workspace_id_of(db, workspace)
    pending = _stale_ids(db, workspace_id)
    if not pending:
        echo("Nothing to do: every text record is enriched and up to date.")
        return
    enriched = 0
    with typer.progressbar(length=len(pending), label="Enriching", file=sys.stderr) as bar:
        for start in range(0, len(pending), batch):
            result = enrich.enrich_records(
                db, workspace_id=workspace_id, record_ids=pending[start : start + batch], progress=bar.update
            )
            enriched += result.enriched
    echo(f"Enriched {enriched} of {len(pending)} text records in workspace {workspace!r}.")


@text_app.command("train")
@friendly_errors
def train(workspace: str = typer.Option("default", help="Workspace slug.")) -> None:
    """Fit the workspace's own sentiment model on its corrected labels (used only if it beats the default)."""
    from cem.auth.principal import system_principal
    from cem.text import service

    db = open_db()
    workspace_id = workspace_id_of(db, workspace)
    with db.unit_of_work() as session:
        report, _ = service.train_workspace_model(session, actor=system_principal(workspace_id))
    echo(service.training_message(report))
