"""`cem text topics` (topic columns for any CSV, no database) and `cem text discover` (stored texts, as a job)."""

from __future__ import annotations

import csv
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import typer

from cem.cli.app import echo, fail, friendly_errors, open_db
from cem.cli.text import open_csv, text_app, workspace_id_of
from cem.exports_safety import SafeDictWriter
from cem.text.topics.discovery import DEFAULT_MIN_TOPIC_SIZE

TOPIC_COLUMNS = ("topic", "subtopic")
MAX_ROWS = 1_000_000


def _read_texts(input_path: Path, column: str) -> tuple[list[str], list[dict[str, Any]], list[str]]:
    handle, reader = open_csv(input_path)
    with handle:
        fields = list(reader.fieldnames or [])
        if column not in fields:
            fail(f"Column {column!r} not found in {input_path}; columns are: {', '.join(fields)}.", 2)
        try:
            rows = []
            for row in reader:
                rows.append(row)
                if len(rows) > MAX_ROWS:
                    fail(f"{input_path} has more than {MAX_ROWS:,} rows; split it or use `cem text discover`.", 2)
        except (UnicodeDecodeError, csv.Error) as exc:
            fail(f"Cannot read {input_path} (line {reader.line_num}): {exc}", 2)
    return [(row.get(column) or "").strip() for row in rows], rows, fields


@text_app.command("topics")
def topics_csv(
    input_path: Path = typer.Option(..., "--input", "-i", help="CSV file with a header row (UTF-8)."),
    column: str = typer.Option(..., "--column", "-c", help="The column holding the text."),
    output: Path = typer.Option(..., "--output", "-o", help="CSV to write: the input plus topic and subtopic."),
    seed: int = typer.Option(0, min=0, help="Random seed: the same seed gives the same topics."),
    min_topic_size: int = typer.Option(
        DEFAULT_MIN_TOPIC_SIZE, "--min-topic-size", min=2, help="Smallest topic (and subtopic) kept."
    ),
    n_topics: int | None = typer.Option(None, "--topics", min=1, max=200, help="Topics to find (default: automatic)."),
) -> None:
    """Discover two-level topics in a CSV column and add `topic` and `subtopic` label columns (no database).

    Texts are embedded with multilingual-e5-small (about 50 texts/s on two cores), clustered, and labelled with
    their most distinctive words (English and Portuguese stop words removed). Blank texts get blank topics.
    """
    if output.resolve() == input_path.resolve():
        fail("--output must be a different file from --input.", 2)
    if not output.parent.is_dir():
        fail(f"Output folder not found: {output.parent}", 2)
    texts, rows, fields = _read_texts(input_path, column)
    filled = [n for n, t in enumerate(texts) if t]
    if len(filled) < min_topic_size:
        fail(f"Only {len(filled)} non-empty texts in column {column!r}: at least {min_topic_size} are needed.", 2)
    from cem.text.topics.discovery import discover  # scikit-learn: loaded only by the commands that cluster

    vectors = _embed([texts[n] for n in filled])
    started = time.perf_counter()
    typer.echo(f"Clustering {len(filled)} texts...", err=True)
    found = discover([texts[n] for n in filled], vectors, seed=seed, min_topic_size=min_topic_size, n_topics=n_topics)
    labels: dict[int, tuple[str, str]] = {row: found.labels_of(i) for i, row in enumerate(filled)}
    _write(output, rows, fields, labels)
    subtopics = sum(len(t.children) for t in found.topics)
    echo(
        f"Wrote {len(rows)} rows to {output}: {len(found.topics)} topics, {subtopics} subtopics "
        f"(clustering and labels {time.perf_counter() - started:.1f}s)."
    )


def _embed(texts: list[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
    from cem.text.embeddings import shared_embedder
    from cem.text.topics.discovery import clean_text

    # @handles and URLs say who was addressed, not what about: leave them out of the meaning too.
    cleaned = [clean_text(t).strip() or t for t in texts]
    with typer.progressbar(length=len(cleaned), label="Embedding", file=sys.stderr) as bar:
        return shared_embedder().embed(cleaned, progress=bar.update)


def _write(output: Path, rows: list[dict[str, Any]], fields: list[str], labels: dict[int, tuple[str, str]]) -> None:
    tmp = output.with_name(f".{output.name}.partial")
    try:
        with tmp.open("w", encoding="utf-8", newline="") as out:
            writer = SafeDictWriter(out, fieldnames=fields + [c for c in TOPIC_COLUMNS if c not in fields])
            writer.writeheader()
            for n, row in enumerate(rows):
                topic, subtopic = labels.get(n, ("", ""))
                writer.writerow({name: row.get(name) for name in fields} | {"topic": topic, "subtopic": subtopic})
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)


@text_app.command("discover")
@friendly_errors
def discover_stored(
    workspace: str = typer.Option("default", help="Workspace slug."),
    seed: int = typer.Option(0, min=0, help="Random seed: the same seed gives the same topics."),
    min_topic_size: int = typer.Option(DEFAULT_MIN_TOPIC_SIZE, "--min-topic-size", min=2, max=10_000),
    n_topics: int | None = typer.Option(None, "--topics", min=1, max=200, help="Topics to find (default: automatic)."),
    background: bool = typer.Option(False, "--background", help="Queue the job for `cem worker` instead."),
) -> None:
    """(Re-)discover the workspace's topics from its stored texts; renames, merges, splits and rules are kept.

    Runs the discovery here with a progress bar, or with --background queues the `text.topics.discover` job (follow
    it with `cem jobs show ID`). Stored embeddings are reused; texts without one are embedded first.
    """
    from cem.auth.principal import system_principal
    from cem.text.topics import runs

    db = open_db()
    workspace_id = workspace_id_of(db, workspace)
    if background:
        from cem.jobs.queue import enqueue

        with db.unit_of_work() as session:
            job = enqueue(
                session,
                "text.topics.discover",
                workspace_id=workspace_id,
                max_attempts=1,
                seed=seed,
                min_topic_size=min_topic_size,
                n_topics=n_topics,
                actor_label="cli",
            )
            job_id = job.id
        echo(f"Queued topic discovery as job {job_id}; follow it with `cem jobs show {job_id}`.")
        return
    with typer.progressbar(length=100, label="Discovering", file=sys.stderr) as bar:
        done = [0]

        def progress(_stage: str, fraction: float) -> None:
            step = int(fraction * 100) - done[0]
            if step > 0:
                bar.update(step)
                done[0] += step

        report = runs.discover_in_db(
            db,
            workspace_id,
            seed=seed,
            min_topic_size=min_topic_size,
            n_topics=n_topics,
            progress=progress,
            actor=system_principal(workspace_id),
        )
    echo(
        f"{report.topics} topics, {report.subtopics} subtopics from {report.texts} texts "
        f"({report.assigned} assigned, {report.kept_edited} edited topics kept, {report.suppressed} deleted themes "
        f"left out; {report.embedded} texts embedded now). Seconds: {report.seconds}."
    )
