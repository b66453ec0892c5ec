"""Survey definition importers: Qualtrics .qsf, LimeSurvey .lss and SurveyJS JSON.

`read_definition(filename, content)` detects the format, parses the file into the intermediate representation
(`ir`), maps it onto the cem survey definition (`convert`) and returns it with every located warning. Unreadable
files raise `cem.errors.BadRequest` with the reason (unknown extension, empty, too large, binary, corrupt JSON/XML,
XML entities, another kind of export...) and `errors` locating it: ["file", filename] and, for a syntax error,
the line and column. XML is read with defusedxml, which refuses DTDs and entities (billion laughs, external files).
Storing the survey is `cem.interchange.importers.store.import_survey`.
"""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError
from defusedxml.ElementTree import fromstring as xml_fromstring

from cem.errors import BadRequest
from cem.interchange.importers.convert import ImportedSurvey, to_definition
from cem.interchange.importers.ir import IRSurvey
from cem.interchange.importers.limesurvey import parse_lss
from cem.interchange.importers.qualtrics import parse_qsf
from cem.interchange.importers.surveyjs import looks_like_response, parse_surveyjs
from cem.json_input import parse_json

FORMATS = {".qsf": "qualtrics", ".lss": "limesurvey", ".json": "surveyjs"}
MAX_DEFINITION_BYTES = 20 * 1024 * 1024


def refused(filename: str, message: str, *, line: int | None = None, column: int | None = None) -> BadRequest:
    """The error for a file that cannot be imported, located at the file (and the line and column when known)."""
    loc: list[str | int] = ["file", filename]
    if line is not None:
        loc += ["line", line, "column", column or 0]
    return BadRequest(message, errors=[{"loc": loc, "msg": message}])


def _decode(filename: str, content: bytes) -> str:
    if len(content) > MAX_DEFINITION_BYTES:
        raise refused(filename, f"{filename} is larger than {MAX_DEFINITION_BYTES // (1024 * 1024)} MB.")
    if not content.strip():
        raise refused(filename, f"{filename} is empty.")
    if b"\x00" in content[:4096]:
        raise refused(filename, f"{filename} is a binary file, not a survey definition (.qsf, .lss or SurveyJS .json).")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise refused(filename, f"{filename} is not UTF-8 text (byte {exc.start}); survey exports are UTF-8.") from None


def _json(filename: str, text: str) -> dict[str, Any]:
    try:
        data = parse_json(text)
    except json.JSONDecodeError as exc:
        message = f"{filename} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}."
        raise refused(filename, message, line=exc.lineno, column=exc.colno) from None
    if not isinstance(data, dict):
        raise refused(filename, f"{filename} holds a JSON {type(data).__name__}; a survey definition is a JSON object.")
    return data


def _xml(filename: str, text: str) -> Element:
    try:
        return xml_fromstring(text.encode("utf-8"))
    except DefusedXmlException as exc:
        raise refused(filename, f"{filename}: XML entities/DTDs are not allowed in an import ({exc}).") from None
    except ParseError as exc:
        line, column = exc.position
        message = f"{filename} is not valid XML: {exc}."
        raise refused(filename, message, line=line, column=column + 1) from None


def detect_format(filename: str) -> str:
    suffix = PurePath(filename).suffix.lower()
    if suffix not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise refused(
            filename, f"Cannot import {filename!r}: unknown file type {suffix or '(none)'!r}; expected {known}."
        )
    return FORMATS[suffix]


def parse_file(filename: str, content: bytes) -> IRSurvey:
    """The file as the intermediate representation (format from the extension, checked against the content)."""
    fmt = detect_format(filename)
    text = _decode(filename, content)
    if fmt == "limesurvey":
        root = _xml(filename, text)
        if root.tag != "document" or (root.find("questions") is None and root.find("surveys") is None):
            raise refused(filename, f"{filename} is XML but not a LimeSurvey survey structure (.lss) export.")
        doctype = (root.findtext("LimeSurveyDocType") or "Survey").strip()
        if doctype != "Survey":  # a question (.lsq) or group (.lsg) export renamed: no survey around it
            raise refused(filename, f"{filename} is a LimeSurvey {doctype} export, not a survey structure (.lss).")
        return parse_lss(root)
    data = _json(filename, text)
    if "SurveyElements" in data:
        if not isinstance(data.get("SurveyElements"), list):
            raise refused(filename, f"{filename}: SurveyElements must be a list in a Qualtrics .qsf file.")
        return parse_qsf(data)
    if fmt == "qualtrics":
        raise refused(filename, f"{filename} is JSON but not a Qualtrics survey export (no SurveyElements).")
    if looks_like_response(data):
        raise refused(
            filename,
            f"{filename} looks like SurveyJS response data (answers by question name), not a survey definition; "
            "import it into a survey with `cem surveys import-responses`.",
        )
    return parse_surveyjs(data)


def read_definition(filename: str, content: bytes) -> ImportedSurvey:
    return to_definition(parse_file(filename, content))


__all__ = ["FORMATS", "ImportedSurvey", "detect_format", "parse_file", "read_definition"]
