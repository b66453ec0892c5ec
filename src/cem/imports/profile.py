"""What a column of an import file holds, read from its header and a sample of its values.

`profile_columns` is pure (header + sample rows in, one ColumnProfile per column out); the mapping suggestion
(cem/imports/suggest.py) builds on it. Dates are tested
against ISO 8601 (what imports read without a format) and then cem/imports/convert.py's COMMON_DATE_FORMATS,
the layouts imports suggest when a date does not parse.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime

from cem.imports.convert import COMMON_DATE_FORMATS

# The spellings feedback imports read as a boolean (cem.feedback.schemas typed_value), lower-cased.
TRUE_FALSE = frozenset({"true", "false", "yes", "no", "y", "n", "1", "0"})
# A column with at most this many distinct answers (and repeating itself) is a choice, not free text.
MAX_CHOICES = 20
# Free text: answers this long on average (or a long one with words), like a review or a ticket body.
TEXT_MEAN_LENGTH = 40
TEXT_MAX_LENGTH = 100
EXAMPLES = 3
EXAMPLE_LENGTH = 80

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
DATE_WORDS = frozenset({"date", "time", "timestamp", "day", "at", "created", "updated", "closed", "opened"})


def normalize(name: str) -> str:
    """A header as snake_case words: "Customer ID" and "customerID" both become customer_id."""
    spaced = _CAMEL.sub("_", name.strip())
    return _NOT_WORD.sub("_", spaced.lower()).strip("_")


@dataclass
class DateLayout:
    """How a column's dates read: ISO 8601 (format None) or a strftime format; `other` is a second format that
    reads every value too (month-first and day-first both fit)."""

    format: str | None
    other: str | None = None


@dataclass
class ColumnProfile:
    """One column: its header, its words, the non-empty sample values and what they look like."""

    name: str
    words: tuple[str, ...]
    values: list[str]
    empty: int
    distinct: int
    guessed_type: str = "string"
    numbers: list[float] = field(default_factory=list)
    date: DateLayout | None = None
    mean_length: float = 0.0

    @property
    def norm(self) -> str:
        return "_".join(self.words)

    @property
    def unique(self) -> bool:
        """Every sampled row has a value and no value repeats."""
        return bool(self.values) and not self.empty and self.distinct == len(self.values)

    @property
    def whole_numbers(self) -> bool:
        return bool(self.numbers) and all(n.is_integer() for n in self.numbers)

    def examples(self) -> list[str]:
        shown = list(dict.fromkeys(self.values))[:EXAMPLES]
        return [v if len(v) <= EXAMPLE_LENGTH else v[: EXAMPLE_LENGTH - 1] + "…" for v in shown]


def profile_columns(header: list[str], rows: list[list[str]]) -> list[ColumnProfile]:
    """One profile per header column, in header order; rows shorter than the header count as empty cells."""
    profiles = []
    for index, name in enumerate(header):
        cells = [row[index].strip() if index < len(row) else "" for row in rows]
        values = [c for c in cells if c]
        profile = ColumnProfile(
            name=name,
            words=tuple(w for w in normalize(name).split("_") if w),
            values=values,
            empty=len(cells) - len(values),
            distinct=len(set(values)),
        )
        _classify(profile)
        profiles.append(profile)
    return profiles


def _classify(p: ColumnProfile) -> None:
    """Set guessed_type: empty, boolean, date, integer, number, text, choice or string (first that fits)."""
    if not p.values:
        p.guessed_type = "empty"
        return
    p.mean_length = sum(len(v) for v in p.values) / len(p.values)
    lowered = {v.lower() for v in p.values}
    p.numbers = _numbers(p.values)
    if lowered <= TRUE_FALSE and (not p.numbers or lowered == {"0", "1"}):
        p.guessed_type = "boolean"
    elif (not p.numbers or DATE_WORDS & set(p.words)) and (layout := date_layout(p.values)) is not None:
        p.guessed_type, p.date = "date", layout
    elif p.numbers:
        p.guessed_type = "integer" if p.whole_numbers else "number"
    elif p.mean_length >= TEXT_MEAN_LENGTH or (max(map(len, p.values)) >= TEXT_MAX_LENGTH and _has_words(p)):
        p.guessed_type = "text"
    elif p.distinct <= MAX_CHOICES and p.distinct * 2 <= len(p.values):
        p.guessed_type = "choice"


def _numbers(values: list[str]) -> list[float]:
    """The values as numbers when every one is a finite number (no thousands separators), else []."""
    out = []
    for v in values:
        try:
            n = float(v)
        except ValueError:
            return []
        if not math.isfinite(n):
            return []
        out.append(n)
    return out


def _has_words(p: ColumnProfile) -> bool:
    return sum(" " in v for v in p.values) * 2 >= len(p.values)


def date_layout(values: list[str]) -> DateLayout | None:
    """ISO 8601 when every value reads as such, else the first common layout that reads every value (with a
    second one when month-first and day-first both fit), else None."""
    if all(_reads(v, None) for v in values):
        return DateLayout(None)
    fits = [fmt for fmt in COMMON_DATE_FORMATS if all(_reads(v, fmt) for v in values)]
    if not fits:
        return None
    return DateLayout(fits[0], fits[1] if len(fits) > 1 else None)


def _reads(value: str, fmt: str | None) -> bool:
    try:
        if fmt is None:
            datetime.fromisoformat(value)
        else:
            datetime.strptime(value, fmt)
    except ValueError:
        return False
    return True


_RANGE = re.compile(r"(?<![\d.])(\d{1,3})\s*(?:-|\u2013|to|_)\s*(\d{1,3})(?![\d.])")
_OUT_OF = re.compile(r"(?:out\s+of|/)\s*(\d{1,3})(?!\d)", re.IGNORECASE)
_POINTS = re.compile(r"(?<!\d)(\d{1,3})[\s_-]*(?:point|pt|star)s?\b", re.IGNORECASE)


def scale_hint(header: str) -> tuple[int, int] | None:
    """The scale a header states: "Rating (1-5)", "nps_0_10", "score out of 10", "satisfaction /7", "5-star"."""
    if found := _RANGE.search(header):
        low, high = int(found[1]), int(found[2])
        return (low, high) if low < high else None
    if found := _OUT_OF.search(header) or _POINTS.search(header):
        high = int(found[1])
        return (1, high) if high > 1 else None
    return None
