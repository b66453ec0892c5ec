"""A mapping guessed from a file's header and first rows, to edit and pass back (`cem import --suggest-mapping`,
`POST /api/v1/imports/suggest-mapping`).

`suggest_mapping` is pure: header + sample rows (+ an optional whole-file uniqueness check) in, a Suggestion out, so
any other front end (a web import wizard) can call it too. Each mapping key is guessed by one small rule in
cem/imports/suggest_rules.py; every rule that assumes something says so in `notes`, and a rating-like field's scale
comes from its header or the type's default, never from the largest answer seen. `suggest_for_file` reads the file
exactly as an import does (cem/imports/reader.py) and calls it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import Field

from cem.imports.profile import profile_columns
from cem.imports.reader import FileInfo, ImportFileError, MalformedRow, delimiter_hint, inspect_file, iter_csv
from cem.imports.schemas import parse_target
from cem.imports.suggest_rules import CUSTOMERS_RULES, EVENTS_RULES, FEEDBACK_RULES, Guess, UniqueCheck
from cem.schemas import ReadModel

SAMPLE_ROWS = 1000
# An id unique in the sample is checked against this many rows of the file (about 3 s per 200,000 rows).
UNIQUE_CHECK_ROWS = 200_000


class ColumnSummary(ReadModel):
    name: str
    guessed_type: str = Field(description="empty, boolean, date, integer, number, text, choice or string")
    examples: list[str] = Field(description="up to three distinct values of the sample")
    distinct: int = Field(description="distinct non-empty values in the sample")
    empty: int = Field(description="empty cells in the sample")


class Suggestion(ReadModel):
    target: str
    sample_rows: int = Field(description="how many data rows the guess read")
    mapping: dict[str, Any] = Field(description="pass back as the import's mapping (after editing)")
    columns: list[ColumnSummary]
    notes: list[str] = Field(description="what was assumed and what to check")


RULES: dict[str, tuple[Callable[[Guess], None], ...]] = {
    "feedback": FEEDBACK_RULES,
    "customers": CUSTOMERS_RULES,
    "events": EVENTS_RULES,
}


def suggest_mapping(
    header: list[str],
    rows: list[list[str]],
    *,
    target: str = "feedback",
    check_unique: UniqueCheck | None = None,
    source_name: str = "import",
) -> Suggestion:
    """The mapping the header and sample rows suggest for `target`, with a summary of every column and notes.

    `check_unique(columns)` may tell the line where the values of `columns` first repeat in the whole file, so an
    id unique only in the sample is not chosen."""
    parse_target(target)
    if not rows:
        raise ImportFileError("The file has a header but no data rows; a mapping is guessed from rows.")
    g = Guess(profile_columns(header, rows), check_unique=check_unique, source_name=source_name)
    for rule in RULES[target]:
        rule(g)
    summaries = [
        ColumnSummary(
            name=c.name, guessed_type=c.guessed_type, examples=c.examples(), distinct=c.distinct, empty=c.empty
        )
        for c in g.columns
    ]
    return Suggestion(target=target, sample_rows=len(rows), mapping=g.mapping, columns=summaries, notes=g.notes)


# -- reading the file ----------------------------------------------------------------------------


def suggest_for_file(
    path: Path,
    *,
    target: str = "feedback",
    encoding: str | None = None,
    delimiter: str | None = None,
    sample_rows: int = SAMPLE_ROWS,
    source_name: str | None = None,
) -> Suggestion:
    """Read the file as an import does (same checks and errors) and suggest a mapping from its first rows."""
    parse_target(target)
    info = inspect_file(path, encoding=encoding, delimiter=delimiter)
    if info.kind == "ndjson":
        raise ImportFileError(
            "NDJSON files hold one feedback record per line in the API's shape and import without a mapping; "
            "--suggest-mapping reads CSV files."
        )
    rows, skipped = read_sample(info, sample_rows)
    if not rows and skipped:
        raise ImportFileError(
            f"None of the first {skipped} rows has as many cells as the header ({len(info.header)}) or they are "
            f"malformed.{delimiter_hint(info)}"
        )
    suggestion = suggest_mapping(
        info.header,
        rows,
        target=target,
        check_unique=lambda columns: first_repeat(info, columns, limit=UNIQUE_CHECK_ROWS),
        source_name=source_name or source_name_of(path.name),
    )
    keyed: list[str] = [k for k in ("submission_id", "external_id") if k in suggestion.mapping]
    if isinstance(suggestion.mapping.get("row_key"), list):
        keyed.append("row_key")
    if keyed and info.estimated_rows > UNIQUE_CHECK_ROWS:
        suggestion.notes.append(
            f"{' and '.join(keyed)}: unique in the first {UNIQUE_CHECK_ROWS:,} rows of about {info.estimated_rows:,}; "
            "a later repeat is reported as a duplicate row when importing."
        )
    if skipped:
        suggestion.notes.append(f"{skipped} rows of the sample were malformed or had the wrong number of cells.")
    return suggestion


def read_sample(info: FileInfo, limit: int) -> tuple[list[list[str]], int]:
    """The first `limit` well-formed rows with as many cells as the header, and how many were passed over."""
    rows: list[list[str]] = []
    skipped = 0
    for _line, cells in iter_csv(info):
        if isinstance(cells, MalformedRow) or len(cells) != len(info.header):
            skipped += 1
            continue
        rows.append(cells)
        if len(rows) >= limit:
            break
    return rows, skipped


def first_repeat(info: FileInfo, columns: list[str], *, limit: int | None = None) -> int | None:
    """The line where the values of `columns` are empty, or repeat on a row that differs from the first one, in the
    file (or its first `limit` rows); None when they identify every row. An exact copy of a row is a duplicate (an
    import reports it), not a sign that the columns do not identify a row."""
    indexes = [info.header.index(c) for c in columns]
    seen: dict[tuple[str, ...], int] = {}
    for number, (line, cells) in enumerate(iter_csv(info)):
        if limit is not None and number >= limit:
            break
        if isinstance(cells, MalformedRow) or len(cells) != len(info.header):
            continue
        key = tuple(cells[i].strip() for i in indexes)
        if not all(key) or seen.setdefault(key, hash(tuple(cells))) != hash(tuple(cells)):
            return line
    return None


def source_name_of(filename: str) -> str:
    """A source name from the file's name: "Reviews 2024.csv" -> "Reviews-2024"."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(filename).stem).strip("-")[:200] or "import"
