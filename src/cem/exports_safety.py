"""The one guard against spreadsheet formula injection, for every CSV and XLSX file cem writes.

A spreadsheet opening a cell whose text starts with `=`, `+`, `-` or `@` (or with a tab or carriage return,
which some programs strip before looking again) may run it as a formula: `=HYPERLINK(...)` phishes,
`=WEBSERVICE(...)` leaks other cells. Any text a customer, agent or file supplied can end up in an export,
so every writer puts its cells through `neutralise` (OWASP's advice: prefix such text with a single quote,
which spreadsheets show as the start of plain text).

The value's type decides, not its look: a stored number (a score of -5, a change of -0.12) is written as a
number in CSV and XLSX alike, so a spreadsheet can still compute with it, and its text can never be a
formula. A text is always text: "+1", "-3" or "-2+3" typed into a comment box gets the quote even when it
looks numeric (Excel evaluates "-2+3", and "+1 555 0100" would lose its plus sign otherwise).

Why hand-written: `defusedcsv` (the library made for CSV) turns every value into text, so numeric columns
would become quoted text, it leaves tab/CR-led cells alone and rewrites `|`, and it does not cover XLSX
cells; the rule itself is one line, shared here by both formats.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


class _TextSink(Protocol):
    def write(self, text: str, /) -> Any: ...


def neutralise(value: Any) -> Any:
    """A text that a spreadsheet would run as a formula, prefixed with `'`; every other value unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def neutralise_row(row: Iterable[Any]) -> list[Any]:
    """`neutralise` over a row, for CSV writers and `worksheet.append` alike (None stays None: an empty cell)."""
    return [neutralise(value) for value in row]


class SafeCsvWriter:
    """`csv.writer` whose rows are neutralised before they are written."""

    def __init__(self, handle: _TextSink, **fmtparams: Any) -> None:
        self._writer = csv.writer(handle, **fmtparams)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow(neutralise_row(row))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        self._writer.writerows(neutralise_row(row) for row in rows)


def csv_writer(handle: _TextSink, **fmtparams: Any) -> SafeCsvWriter:
    """The CSV writer every export uses (same parameters as `csv.writer`)."""
    return SafeCsvWriter(handle, **fmtparams)


if TYPE_CHECKING:
    _DictWriter = csv.DictWriter[str]
else:  # not subscriptable at run time before Python 3.12
    _DictWriter = csv.DictWriter


class SafeDictWriter(_DictWriter):
    """`csv.DictWriter` whose values (and header) are neutralised before they are written."""

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        return super().writerow({key: neutralise(value) for key, value in rowdict.items()})

    def writerows(self, rowdicts: Iterable[Mapping[str, Any]]) -> None:
        for rowdict in rowdicts:  # the base class would write them without passing through writerow
            self.writerow(rowdict)
