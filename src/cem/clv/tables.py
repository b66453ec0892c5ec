"""Reading the tables the CLV commands take: a per-customer summary, or raw purchase transactions.

Both are plain delimited text (CSV, or whitespace-separated as the CDNOW files are); a bad cell is reported with
its line and column, never skipped silently.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path

from cem.clv.summary import Purchase, Summary
from cem.errors import InvalidInput

# Each summary column by its default name, then the paper's symbol (the CDNOW files use either).
SUMMARY_COLUMNS: dict[str, tuple[str, ...]] = {
    "frequency": ("frequency", "x"),
    "recency": ("recency", "t_x"),
    "T": ("T",),
    "monetary_value": ("monetary_value", "zbar"),
}


def _rows(path: Path) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header and the numbered data rows of a comma- or whitespace-separated file."""
    handle = path.open(newline="", encoding="utf-8-sig")
    first = handle.readline()
    if not first.strip():
        handle.close()
        raise InvalidInput(f"{path.name} is empty: it needs a header row")
    whitespace = "," not in first and ";" not in first and "\t" not in first

    def split(line: str) -> list[str]:
        return line.split() if whitespace else next(csv.reader([line]))

    header = [h.strip() for h in split(first)]

    def body() -> Iterator[tuple[int, list[str]]]:
        with handle:
            for number, line in enumerate(handle, start=2):
                if line.strip():
                    yield number, [c.strip() for c in split(line)]

    return header, body()


def _index(header: Sequence[str], names: Sequence[str], what: str, path: Path) -> int:
    for name in names:
        if name in header:
            return header.index(name)
    raise InvalidInput(
        f"{path.name} has no {what} column (looked for {', '.join(repr(n) for n in names)}; "
        f"the header has {', '.join(header[:20])})"
    )


def _names(given: str | None, defaults: tuple[str, ...]) -> tuple[str, ...]:
    return (given,) if given else defaults


def _number(cell: str, line: int, column: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise InvalidInput(f"line {line}, column {column!r}: {cell[:40]!r} is not a number") from None
    if not math.isfinite(value):
        raise InvalidInput(f"line {line}, column {column!r}: the value must be a finite number")
    return value


def read_summary(
    path: Path,
    *,
    columns: Mapping[str, str | None] | None = None,
    id_column: str | None = None,
    with_spend: bool = False,
) -> Summary:
    """A summary table; `columns` overrides a column's name (frequency, recency, T, monetary_value)."""
    header, rows = _rows(path)
    wanted = ["frequency", "recency", "T", *(["monetary_value"] if with_spend else [])]
    overrides = columns or {}
    at = {key: _index(header, _names(overrides.get(key), SUMMARY_COLUMNS[key]), key, path) for key in wanted}
    id_at = _index(header, (id_column,), "id", path) if id_column else None
    values: dict[str, list[float]] = {key: [] for key in wanted}
    ids: list[str] = []
    for line, cells in rows:
        if len(cells) < len(header):
            raise InvalidInput(f"line {line} has {len(cells)} cells, the header {len(header)}")
        for key, index in at.items():
            values[key].append(_number(cells[index], line, header[index]))
        ids.append(cells[id_at] if id_at is not None else str(line - 1))
    if not ids:
        raise InvalidInput(f"{path.name} has a header but no customers")
    return Summary.from_arrays(
        values["frequency"], values["recency"], values["T"], values.get("monetary_value"), customers=ids
    )


def read_purchases(
    path: Path, *, customer_column: str, date_column: str, value_column: str, date_format: str | None = None
) -> list[Purchase]:
    """Purchase transactions (customer, day, value); dates ISO 8601 unless `date_format` (strftime) is given."""
    header, rows = _rows(path)
    c_at, d_at, v_at = (_index(header, (name,), name, path) for name in (customer_column, date_column, value_column))
    purchases: list[Purchase] = []
    for line, cells in rows:
        if len(cells) < len(header):
            raise InvalidInput(f"line {line} has {len(cells)} cells, the header {len(header)}")
        purchases.append(
            (cells[c_at], _day(cells[d_at], date_format, line, date_column), _number(cells[v_at], line, value_column))
        )
    if not purchases:
        raise InvalidInput(f"{path.name} has a header but no transactions")
    return purchases


def _day(cell: str, date_format: str | None, line: int, column: str) -> date:
    try:
        return datetime.strptime(cell, date_format).date() if date_format else date.fromisoformat(cell[:10])
    except ValueError:
        hint = f"the format {date_format!r}" if date_format else "ISO 8601 (YYYY-MM-DD); pass --date-format"
        raise InvalidInput(f"line {line}, column {column!r}: {cell[:40]!r} does not match {hint}") from None
