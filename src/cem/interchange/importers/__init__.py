"""Survey definition importers: Qualtrics .qsf, LimeSurvey .lss and SurveyJS JSON.

`read_definition(filename, content)` detects the format, parses the file into the intermediate representation
(`ir`), maps it onto the cem survey definition (`convert`) and returns it with every located warning. Unreadable
files raise `cem.errors.BadRequest` with the reason (unknown extension, empty, binary, corrupt JSON/XML...).
Storing the survey is `cem.interchange.importers.store.import_survey`.
"""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Any

from defusedxml import DefusedXmlException
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


def _decode(filename: str, content: bytes) -> str:
    if not content.strip():
        raise BadRequest(f"{filename} is empty.")
    if len(content) > MAX_DEFINITION_BYTES:
        raise BadRequest(f"{filename} is larger than {MAX_DEFINITION_BYTES // (1024 * 1024)} MB.")
    if b"\x00" in content[:4096]:
        raise BadRequest(f"{filename} is a binary file, not a survey definition (.qsf, .lss or SurveyJS .json).")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"{filename} is not UTF-8 text (byte {exc.start}); survey exports are UTF-8.") from None


def _json(filename: str, text: str) -> dict[str, Any]:
    try:
        data = parse_json(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"{filename} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.") from None
    if not isinstance(data, dict):
        raise BadRequest(f"{filename} holds a JSON {type(data).__name__}; a survey definition is a JSON object.")
    return data


def detect_format(filename: str) -> str:
    suffix = PurePath(filename).suffix.lower()
    if suffix not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise BadRequest(f"Cannot import {filename!r}: unknown file type {suffix or '(none)'!r}; expected {known}.")
    return FORMATS[suffix]


def parse_file(filename: str, content: bytes) -> IRSurvey:
    """The file as the intermediate representation (format from the extension, checked against the content)."""
    fmt = detect_format(filename)
    text = _decode(filename, content)
    if fmt == "limesurvey":
        try:
            root = xml_fromstring(text.encode("utf-8"))
        except DefusedXmlException as exc:
            raise BadRequest(f"{filename}: XML entities/DTDs are not allowed in an import ({exc}).") from None
        except Exception as exc:  # ParseError comes from expat via defusedxml
            raise BadRequest(f"{filename} is not valid XML: {exc}.") from None
        if root.tag != "document" or (root.find("questions") is None and root.find("surveys") is None):
            raise BadRequest(f"{filename} is XML but not a LimeSurvey survey structure (.lss) export.")
        return parse_lss(root)
    data = _json(filename, text)
    if "SurveyElements" in data:
        if not isinstance(data.get("SurveyElements"), list):
            raise BadRequest(f"{filename}: SurveyElements must be a list in a Qualtrics .qsf file.")
        return parse_qsf(data)
    if fmt == "qualtrics":
        raise BadRequest(f"{filename} is JSON but not a Qualtrics survey export (no SurveyElements).")
    if looks_like_response(data):
        raise BadRequest(
            f"{filename} looks like SurveyJS response data (answers by question name), not a survey definition; "
            "import it into a survey with `cem surveys import-responses`."
        )
    return parse_surveyjs(data)


def read_definition(filename: str, content: bytes) -> ImportedSurvey:
    return to_definition(parse_file(filename, content))


__all__ = ["FORMATS", "ImportedSurvey", "detect_format", "parse_file", "read_definition"]
