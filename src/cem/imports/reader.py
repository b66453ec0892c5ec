"""Reading import files: encoding and delimiter checks up front, then a stream of rows with line numbers.

Every file-level problem is found by `inspect_file` before anything is stored, so a bad file never
leaves half of itself behind; rows are then streamed in constant memory.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cem.errors import InvalidInput

DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
NDJSON_SUFFIXES = (".ndjson", ".jsonl")
CHUNK = 1 << 20
NOT_FILE_ENCODINGS = frozenset({"idna", "punycode", "undefined", "unicode-escape", "raw-unicode-escape"})
# Text fields may be up to 100,000 characters; longer cells become a row error, not a csv.Error.
csv.field_size_limit(16 * 1024 * 1024)

Kind = Literal["csv", "ndjson"]


class ImportFileError(InvalidInput, code="invalid_file"):
    """The whole file cannot be imported (encoding, delimiter, header, missing columns)."""


@dataclass
class FileInfo:
    path: Path
    kind: Kind
    encoding: str
    delimiter: str
    header: list[str]
    estimated_rows: int


def file_kind(path: Path, kind: str | None = None) -> Kind:
    """CSV unless the name ends in .ndjson/.jsonl or the caller says so."""
    if kind in ("csv", "ndjson"):
        return kind  # type: ignore[return-value]
    return "ndjson" if path.suffix.lower() in NDJSON_SUFFIXES else "csv"


def inspect_file(
    path: Path, *, encoding: str | None = None, delimiter: str | None = None, kind: str | None = None
) -> FileInfo:
    """Check the whole file can be decoded and has a header and data; sniff the delimiter."""
    if not path.is_file():
        raise ImportFileError(f"File not found: {path}")
    if path.stat().st_size == 0:
        raise ImportFileError("The file is empty.")
    codec = _codec(encoding)
    lines = _scan(path, codec, given=encoding is not None)
    info = FileInfo(path, file_kind(path, kind), codec, "", [], lines)
    if info.kind == "ndjson":
        if next(iter_ndjson(info), None) is None:
            raise ImportFileError("The file holds no records (every line is blank).")
        return info
    first = _first_line(path, codec)
    info.delimiter = _delimiter(first, delimiter)
    info.header = _header(path, codec, info.delimiter)
    info.estimated_rows = max(lines - 1, 1)  # physical lines minus the header (quoted newlines make it an estimate)
    return info


def _codec(encoding: str | None) -> str:
    if not encoding:
        return "utf-8-sig"  # UTF-8 with or without a byte order mark
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise ImportFileError(f"Unknown encoding {encoding!r}; try utf-8, latin-1 or cp1252.") from None
    # Python also registers bytes-to-bytes and str-to-str codecs (zlib_codec, bz2, base64, hex, rot13): reading a
    # file "in" one of them is no text at all, and zlib inflated a 1 MB upload into 2.1 GB of memory.
    # CPython marks the real character encodings with `_is_text_encoding`; a few of those still are no file
    # encoding (domain-name and escape codecs, and "undefined", which fails on any byte).
    if not getattr(info, "_is_text_encoding", True) or info.name in NOT_FILE_ENCODINGS:
        raise ImportFileError(
            f"{encoding!r} is not a character encoding for files ({info.name}); "
            "use the file's text encoding, e.g. utf-8, latin-1 or cp1252."
        )
    return "utf-8-sig" if info.name == "utf-8" else info.name


def _scan(path: Path, codec: str, *, given: bool) -> int:
    """Decode the whole file once (cheap) so an encoding error is a file error, not a crash mid-import."""
    decoder = codecs.getincrementaldecoder(codec)()
    offset = newlines = 0
    last = b""
    with path.open("rb") as fh:
        head = fh.read(4)
        fh.seek(0)
        if not given and head[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise ImportFileError("The file is UTF-16 encoded; re-save it as UTF-8 or pass the encoding utf-16.")
        while chunk := fh.read(CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                raise _decode_error(codec, offset + exc.start, newlines + chunk.count(b"\n", 0, exc.start)) from None
            if b"\x00" in chunk and codec.startswith("utf-8"):
                line = newlines + chunk.count(b"\n", 0, chunk.index(b"\x00")) + 1
                raise ImportFileError(f"The file contains NUL bytes (line {line}); it is binary, not a text file.")
            offset += len(chunk)
            newlines += chunk.count(b"\n")
            last = chunk[-1:]
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise _decode_error(codec, offset, newlines) from None
    return newlines + (0 if last == b"\n" else 1)


def _decode_error(codec: str, byte: int, newlines: int) -> ImportFileError:
    shown = "UTF-8" if codec.startswith("utf-8") else codec
    return ImportFileError(
        f"The file is not valid {shown} at byte {byte} (line {newlines + 1}); "
        "re-save it as UTF-8 or pass the file's encoding (e.g. --encoding latin-1)."
    )


def _first_line(path: Path, codec: str) -> str:
    with path.open(encoding=codec, newline="") as fh:
        return fh.readline()


def _delimiter(first_line: str, given: str | None) -> str:
    if given:
        given = {"\\t": "\t", "tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}.get(given, given)
        if given not in DELIMITERS:
            raise ImportFileError(f"Unsupported delimiter {given!r}; use one of , ; tab |.")
        return given
    counts = {d: first_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])  # ties keep the earlier (comma first)
    return best if counts[best] else ","


def _header(path: Path, codec: str, delimiter: str) -> list[str]:
    with path.open(encoding=codec, newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        header = [h.strip() for h in next(reader, [])]
        if not any(header):
            raise ImportFileError("The first line (the header) is empty; the file needs a header row.")
        dupes = sorted({h for h in header if h and header.count(h) > 1})
        if dupes:
            raise ImportFileError(f"The header repeats column names: {', '.join(dupes)}.")
        if not any(row for row in reader):
            raise ImportFileError("The file has a header but no data rows.")
    return header


def delimiter_hint(info: FileInfo) -> str:
    """A hint when the header was not split at all but contains another delimiter."""
    if len(info.header) == 1:
        other = [DELIMITER_NAMES[d] for d in DELIMITERS if d != info.delimiter and d in info.header[0]]
        if other:
            return f" The header looks {other[0]}-separated; pass that delimiter."
    return ""


def check_columns(info: FileInfo, columns: list[str]) -> None:
    """Whole-file error naming every mapped column the header lacks (with a delimiter hint)."""
    missing = [c for c in columns if c not in info.header]
    if not missing:
        return
    found = ", ".join(info.header[:20]) + (" ..." if len(info.header) > 20 else "")
    hint = delimiter_hint(info)
    raise ImportFileError(
        f"missing columns: {', '.join(missing)}. The header has: {found} "
        f"(delimiter: {DELIMITER_NAMES[info.delimiter]}).{hint}",
        errors=[{"loc": ["file", "header"], "msg": f"no column named {c!r}"} for c in missing],
    )


@dataclass
class MalformedRow:
    """A record the CSV parser merged out of several lines: reported as a row error, never stored."""

    reason: str
    value: str


class _LineTap:
    """The file's lines as csv.reader pulls them, keeping those of the record being read (and one peeked)."""

    def __init__(self, lines: Iterator[str]) -> None:
        self.lines = lines
        self.record: list[str] = []
        self.peeked: str | None = None

    def __iter__(self) -> _LineTap:
        return self

    def __next__(self) -> str:
        if self.peeked is not None:
            line, self.peeked = self.peeked, None
        else:
            line = next(self.lines)
        self.record.append(line)
        return line

    def at_end(self) -> bool:
        """Whether the file has no more lines (a peeked line is handed to the reader next)."""
        if self.peeked is None:
            try:
                self.peeked = next(self.lines)
            except StopIteration:
                return True
        return False


def iter_csv(info: FileInfo) -> Iterator[tuple[int, list[str] | MalformedRow]]:
    """(physical line where the record starts, cells) for every non-blank data row.

    A quote left open swallows the following lines into one cell, up to the next quote or the end of the
    file, and Python's lenient csv reader says nothing. So a record spanning several lines, and the last one,
    is parsed again strictly: if that fails, its lines come back as one MalformedRow (a row error with its
    line), and the rows before and after it import as usual.
    """
    with info.path.open(encoding=info.encoding, newline="") as fh:
        tap = _LineTap(iter(fh))
        reader = csv.reader(tap, delimiter=info.delimiter)
        next(reader)
        line = reader.line_num
        try:
            for row in reader:
                spans_lines = reader.line_num - line > 1
                if spans_lines or tap.at_end():
                    problem = _open_quote(tap.record, info.delimiter, line + 1, reader.line_num)
                    if problem is not None:
                        yield line + 1, problem
                        row = []
                if row:
                    yield line + 1, row
                tap.record.clear()
                line = reader.line_num
        except csv.Error as exc:
            raise ImportFileError(f"The CSV is malformed near line {line + 1}: {exc}.") from None


def _open_quote(lines: list[str], delimiter: str, first: int, last: int) -> MalformedRow | None:
    """A MalformedRow when the record's lines are not valid CSV under the strict rules (an unclosed quote)."""
    try:
        list(csv.reader(lines, delimiter=delimiter, strict=True))
    except csv.Error:
        where = f"line {first} was" if first == last else f"lines {first}-{last} were"
        return MalformedRow(
            f"A quoted value opened on line {first} is not closed where it should be, so {where} read as one "
            "row and not imported; close the quote (or double a quote inside a value) and import again.",
            "".join(lines)[:200],
        )
    return None


def iter_ndjson(info: FileInfo) -> Iterator[tuple[int, bytes]]:
    """(line number, UTF-8 JSON bytes) for every non-blank line."""
    utf8 = info.encoding.startswith("utf-8")
    with info.path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if number == 1 and line.startswith(codecs.BOM_UTF8):
                line = line[len(codecs.BOM_UTF8) :]
            if line.strip():
                yield number, line if utf8 else line.decode(info.encoding).encode()
