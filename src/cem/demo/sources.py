"""Where the demo data lives, and strict CSV reading with file/line positions for readable errors."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from cem.config import Settings
from cem.errors import InvalidInput

Row = dict[str, str]


class DemoDataError(InvalidInput):
    """A data file the demo cannot use (missing column, unreadable value); nothing is stored."""


@dataclass
class CsvTable:
    """Rows of one CSV file plus the line each row ends on, so errors can point at it."""

    name: str
    rows: list[Row]
    lines: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.lines:
            # Synthetic tables: line numbers as if written out with a header row.
            self.lines = list(range(2, len(self.rows) + 2))

    def __iter__(self) -> Iterator[tuple[int, Row]]:
        return iter(zip(self.lines, self.rows, strict=True))

    def __len__(self) -> int:
        return len(self.rows)


def read_csv(path: Path, required: tuple[str, ...]) -> CsvTable:
    """Read a UTF-8 CSV file, insisting on the columns the demo uses."""
    rows: list[Row] = []
    lines: list[int] = []
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise DemoDataError(f"{path}: missing column(s) {', '.join(missing)}.")
            for row in reader:
                rows.append({k: (v or "") for k, v in row.items() if k is not None})
                lines.append(reader.line_num)
    except UnicodeDecodeError:
        raise DemoDataError(f"{path}: not a UTF-8 text file.") from None
    except csv.Error as exc:
        raise DemoDataError(f"{path}: unreadable CSV ({exc}).") from None
    return CsvTable(name=path.name, rows=rows, lines=lines)


@contextmanager
def at_row(table: str, line: int) -> Iterator[None]:
    """Turn a bad value in one row into an error naming the file and line."""
    try:
        yield
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise DemoDataError(f"{table} line {line}: {where}: {first['msg']}") from None
    except (ValueError, KeyError) as exc:
        raise DemoDataError(f"{table} line {line}: {exc}") from None


def parse_timestamp(text: str) -> datetime:
    """`2017-07-09 21:57:05` (read as UTC) or with an offset (`... -0800`) -> an aware datetime."""
    text = text.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError(f"{text!r} is not a timestamp (YYYY-MM-DD HH:MM:SS)")


def optional_timestamp(text: str) -> datetime | None:
    """Like parse_timestamp, but a blank cell is None."""
    return parse_timestamp(text) if text.strip() else None


def parse_number(text: str) -> int | float | None:
    """`12` -> 12, `29.85` -> 29.85, blank -> None; anything else is a ValueError."""
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        return float(text)


def resolve_data_dir(settings: Settings, explicit: Path | None) -> Path:
    """The data folder to use: --data, else CEM_SHARED_DATA_DIR, else the first existing default location.

    Defaults are tried in order: next to the checkout (`<repo>/../shared/data`, the settings default),
    then `../shared/data` and `./shared/data` relative to the working directory, so a clone placed elsewhere
    still finds a data folder it is started next to. A missing explicit path is returned as is (the caller
    reports it and falls back to synthetic data).
    """
    if explicit is not None:
        return explicit.expanduser()
    if "shared_data_dir" in settings.model_fields_set:
        return settings.shared_data_dir.expanduser()
    candidates = [settings.shared_data_dir, Path.cwd().parent / "shared" / "data", Path.cwd() / "shared" / "data"]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate.resolve()
    return settings.shared_data_dir
