"""Response files -> survey responses of the imported survey: Qualtrics CSV exports and SurveyJS result JSON.

Two layouts exist (both in the shared data):
  * legacy: row 1 = column names V1..V10 then question export tags (Q2, Q9_1, Q3_TEXT, Q1#1_2), row 2 = texts;
  * newer ("Insights"): row 1 = names (ResponseID, ..., Q2, Q9_1), row 2 = texts, row 3 = {'ImportId': 'QID9-1'}.
Each data row becomes one response through `cem.responses.service.add_response` (the one path that also writes the
feedback records), with the Qualtrics ResponseID as submission id, so importing the same file again replaces
instead of duplicating. Rows whose answers do not fit the survey are reported with their line; the rest are stored.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from cem.customers import service as customer_service
from cem.customers.schemas import CustomerRef
from cem.errors import BadRequest, CEMError
from cem.interchange.importers.convert import QuestionCodes
from cem.json_input import parse_json
from cem.responses import service as response_service
from cem.surveys.models import Survey

NOT_SEEN = frozenset({"", "-99"})  # -99: "seen but not answered" in Qualtrics exports
LEGACY_FIXED = {
    "V1": "responseId",
    "V3": "name",
    "V4": "externalId",
    "V5": "email",
    "V8": "startDate",
    "V9": "endDate",
    "V10": "finished",
}
NEW_FIXED = {
    "responseId": "responseId",
    "startDate": "startDate",
    "endDate": "endDate",
    "finished": "finished",
    "panel-ExternalDataReference": "externalId",
    "panel-RecipientEmail": "email",
    "panel-RecipientFirstName": "firstName",
    "panel-RecipientLastName": "lastName",
}


@dataclass
class Column:
    index: int
    question: QuestionCodes | None
    parts: list[str]  # after the question: e.g. ["1"] (row/choice), ["TEXT"], ["1", "2"] (row, column)
    fixed: str | None = None  # responseId/startDate/endDate/finished


@dataclass
class ResponseImportResult:
    layout: str
    rows: int = 0
    stored: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "layout": self.layout,
            "rows": self.rows,
            "stored": self.stored,
            "rejected": len(self.errors),
            "errors": self.errors[:100],
            "ignored_columns": self.ignored_columns,
        }

    def store(self, session: Session, survey: Survey, line: int, submission_id: str, **response: Any) -> None:
        """Add one response (`response_service.add_response` arguments) in a savepoint; counted as stored, or
        reported with its line and the reasons it was refused."""
        try:
            with session.begin_nested():
                response_service.add_response(
                    session, survey, submission_id=submission_id, channel="import", **response
                )
            self.stored += 1
        except CEMError as exc:
            messages = [f"{'.'.join(map(str, e.get('loc', [])[1:]))}: {e.get('msg')}" for e in exc.errors] or [
                exc.detail
            ]
            self.errors.append({"line": line, "response_id": submission_id, "errors": messages})


def _read_rows(filename: str, content: bytes) -> list[list[str]]:
    if not content.strip():
        raise BadRequest(f"{filename} is empty.")
    if b"\x00" in content[:4096]:
        raise BadRequest(f"{filename} is a binary file, not a Qualtrics CSV export.")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"{filename} is not UTF-8 text (byte {exc.start}).") from None
    try:
        return list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise BadRequest(f"{filename} is not a readable CSV file: {exc}.") from None


def _import_id(cell: str) -> str | None:
    cell = cell.strip()
    if not cell.startswith("{") or "ImportId" not in cell:
        return None
    try:
        value = ast.literal_eval(cell)  # Qualtrics writes a Python-style dict: {'ImportId': 'QID2'}
    except (ValueError, SyntaxError):
        match = re.search(r"ImportId['\"]\s*:\s*['\"]([^'\"]+)", cell)
        return match.group(1) if match else None
    return str(value.get("ImportId")) if isinstance(value, dict) else None


class _Columns:
    def __init__(self, codes: Iterable[QuestionCodes]) -> None:
        codes_list = list(codes)
        self.by_ref: dict[str, QuestionCodes] = {}
        self.by_tag: dict[str, QuestionCodes] = {}
        for code in codes_list:
            self.by_ref[code.source_ref] = code
            self.by_ref[code.source_ref.split("#")[0]] = code
            if code.export_tag:
                self.by_tag[code.export_tag] = code
        # Legacy exports name a row by its own export tag ("question_one"), which repeats across questions: the
        # k-th column of a name belongs to the k-th question (in survey order) that has a row with that tag.
        self.by_row_tag: dict[str, list[tuple[QuestionCodes, list[str]]]] = {}
        # Side-by-side column groups after the first (their own cem questions) by (row tag, group position).
        self.by_group_row_tag: dict[tuple[str, int], list[tuple[QuestionCodes, list[str]]]] = {}
        positions: dict[str, int] = {}
        for code in codes_list:
            base = code.source_ref.split("#")[0]
            position = positions.get(base, 0)
            positions[base] = position + 1
            for raw_tag, row in code.row_tags.items():
                # Older exports write "orange-ish" as "orange_ish".
                for tag in dict.fromkeys([raw_tag, re.sub(r"[^\w: ]", "_", raw_tag)]):
                    if position:
                        self.by_group_row_tag.setdefault((tag, position), []).append((code, [row]))
                        continue
                    self.by_row_tag.setdefault(tag, []).append((code, [row]))
                    for column in code.columns:
                        self.by_row_tag.setdefault(f"{tag}_{column}", []).append((code, [row, column]))
        self.seen: dict[str, int] = {}
        self.groups: dict[str, list[str]] = {}  # row tag -> column group names in the order first seen

    def from_import_id(self, index: int, import_id: str) -> Column:
        if import_id in NEW_FIXED:
            return Column(index, None, [], fixed=NEW_FIXED[import_id])
        if import_id in self.by_ref:  # a question per statement (Qualtrics sliders): "QID5-1"
            return Column(index, self.by_ref[import_id], [])
        head, *parts = import_id.split("-")
        base, _, group = head.partition("#")
        code = self.by_ref.get(head) or self.by_ref.get(base)
        if code is None or (group and code.source_ref != head):
            return Column(index, None, [])
        return Column(index, code, parts)

    def from_name(self, index: int, name: str) -> Column:
        if name in LEGACY_FIXED:
            return Column(index, None, [], fixed=LEGACY_FIXED[name])
        for tag in sorted(self.by_tag, key=len, reverse=True):
            if name == tag or name.startswith((tag + "_", tag + "#")):
                code = self.by_tag[tag]
                rest = name[len(tag) :]
                sbs = re.match(r"^_(\w+): (\d+)(.*)$", rest)  # older side-by-side naming: Q6_<row>: <group>...
                if sbs:
                    if "#" in code.source_ref and code.source_ref.split("#")[1] != sbs.group(2):
                        # another column group: its own cem question (QID40#2), or none
                        sibling = self.by_ref.get(f"{code.source_ref.split('#')[0]}#{sbs.group(2)}")
                        if sibling is None:
                            return Column(index, None, [])
                        code = sibling
                    return Column(index, code, [sbs.group(1), *[p for p in sbs.group(3).split("_") if p]])
                if rest.startswith("#"):
                    group, _, rest = rest[1:].partition("_")
                    if code.source_ref != f"{code.question_id}#{group}" and not code.source_ref.endswith("#" + group):
                        return Column(index, None, [])
                    return Column(index, code, rest.split("_") if rest else [])
                return Column(index, code, rest.lstrip("_").split("_") if rest else [])
        tail: list[str] = []
        # Side-by-side row tags: "statement_one: <column group>[_<column>][_TEXT]".
        group_suffix = re.match(r"^(.+): ([A-Za-z0-9]+)((?:_\w+)*)$", name)
        if group_suffix:
            # The group is named by its number or an internal id: groups are told apart by the order they are
            # first seen for a tag (the first column group, then the second...).
            base, group, rest = group_suffix.groups()
            seen_groups = self.groups.setdefault(base, [])
            if group not in seen_groups:
                seen_groups.append(group)
            position = seen_groups.index(group)
            tail = [p for p in rest.split("_") if p]
            if "TEXT" in tail:
                candidates = []
            elif position:
                candidates = self.by_group_row_tag.get((base, position), [])
            else:
                candidates = self.by_row_tag.get(base, [])
        else:
            candidates = self.by_row_tag.get(name, [])
        if candidates:
            occurrence = self.seen.get(name, 0)
            self.seen[name] = occurrence + 1
            if occurrence < len(candidates):
                code, parts = candidates[occurrence]
                return Column(index, code, [*parts, *tail])
        return Column(index, None, [])


def _answers(columns: list[Column], row: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """One CSV row -> (answers by question id in the engine shape, fixed fields)."""
    answers: dict[str, Any] = {}
    fixed: dict[str, str] = {}
    for column in columns:
        raw = row[column.index].strip() if column.index < len(row) else ""
        if column.fixed:
            fixed[column.fixed] = raw
            continue
        code = column.question
        if code is None or raw in NOT_SEEN or not code.answers_importable:
            continue
        _put(answers, code, column.parts, raw)
    return {k: v for k, v in answers.items() if v not in (None, [], {})}, fixed


def _put(answers: dict[str, Any], code: QuestionCodes, parts: list[str], raw: str) -> None:
    qid, kind = code.question_id, code.type
    if kind == "text" and parts in (["TEXT"], []):  # a text entry question's own column ("QID18-TEXT")
        answers[qid] = raw
        return
    if parts and parts[-1] == "TEXT":
        answers[qid + ".other"] = raw
        return
    if kind in ("single_choice", "dropdown"):
        answers[qid] = code.choices.get(raw, raw)
    elif kind == "multiple_choice":
        if parts and raw == "1":
            answers.setdefault(qid, []).append(code.choices.get(parts[0], parts[0]))
        elif not parts:
            answers[qid] = [code.choices.get(v, v) for v in raw.split(",") if v]
    elif kind == "ranking":
        if parts:
            answers.setdefault(qid, []).append((int(raw) if raw.isdigit() else 999, code.choices.get(parts[0])))
    elif kind == "matrix":
        if not parts:
            return
        row = code.rows.get(parts[0], parts[0])
        cells = answers.setdefault(qid, {})
        if len(parts) >= 2:  # one column per (row, scale point): "1" marks the chosen point; cem keeps the first
            if raw == "1" and row not in cells:
                cells[row] = code.columns.get(parts[1], parts[1])
        else:
            cells[row] = code.columns.get(raw, raw)
    elif kind in ("nps", "csat", "ces", "rating"):
        answers[qid] = raw
    elif kind == "consent":
        answers[qid] = raw == (code.consent_value or "1") or raw.lower() in ("true", "1", "yes")
    elif kind == "cta":
        return
    else:
        answers[qid] = raw


def _finish_lists(answers: dict[str, Any], codes: dict[str, QuestionCodes]) -> None:
    """Rankings: choices by rank. Multiple choice: choices in the question's order (export columns may follow
    choice groups or display order instead)."""
    for qid, value in list(answers.items()):
        code = codes.get(qid)
        if code is None or not isinstance(value, list):
            continue
        if code.type == "ranking" and value and isinstance(value[0], tuple):
            answers[qid] = [choice for _, choice in sorted(value) if choice]
        elif code.type == "multiple_choice":
            order = {choice: n for n, choice in enumerate(dict.fromkeys(code.choices.values()))}
            answers[qid] = sorted(dict.fromkeys(value), key=lambda c: order.get(c, len(order)))


def _customer(session: Session, survey: Survey, fixed: dict[str, str]) -> int | None:
    """The respondent as a cem customer (created when new) from the export's panel fields, if it has any."""
    external_id, email = fixed.get("externalId") or None, fixed.get("email") or None
    if not external_id and not email:
        return None
    name = fixed.get("name") or " ".join(p for p in (fixed.get("firstName"), fixed.get("lastName")) if p) or None
    if name == "Anonymous":
        name = None
    try:
        ref = CustomerRef(external_id=external_id, email=email, name=name)
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"respondent not usable as a customer ({reasons})") from None
    return customer_service.resolve_customers(session, workspace_id=survey.workspace_id, refs=[ref])[0]


def _when(value: str) -> datetime | None:
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%m/%d/%Y %H:%M", "%Y-%m-%d %H:%M"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def import_responses(
    session: Session, survey: Survey, codes: dict[str, QuestionCodes], filename: str, content: bytes
) -> ResponseImportResult:
    """Store each row of a Qualtrics CSV export as a response of `survey`; bad rows are reported, not stored."""
    rows = _read_rows(filename, content)
    if len(rows) < 2:
        raise BadRequest(f"{filename} has no header rows; expected a Qualtrics response export.")
    mapper = _Columns(codes.values())
    import_ids = [_import_id(c) for c in rows[2]] if len(rows) > 2 else []
    if import_ids and sum(1 for i in import_ids if i) >= max(1, len(import_ids) // 2):
        layout, first_data = "qualtrics-3-header", 3
        columns = [mapper.from_import_id(i, imp or "") for i, imp in enumerate(import_ids)]
    elif rows[0] and rows[0][0].strip() == "V1":
        layout, first_data = "qualtrics-legacy-2-header", 2
        columns = [mapper.from_name(i, name.strip()) for i, name in enumerate(rows[0])]
    else:
        raise BadRequest(
            f"{filename} is not a Qualtrics response export: expected the legacy layout (V1..V10 then questions, "
            "2 header rows) or the newer one (3 header rows, the third with ImportId)."
        )
    if not any(c.fixed == "responseId" for c in columns):
        raise BadRequest(f"{filename} has no ResponseID column; cannot import responses without their ids.")
    result = ResponseImportResult(layout=layout)
    result.ignored_columns = [
        rows[0][c.index]
        for c in columns
        if (c.question is None or not c.question.answers_importable) and not c.fixed and rows[0][c.index].strip()
    ]
    for line, row in enumerate(rows[first_data:], start=first_data + 1):
        if not any(cell.strip() for cell in row):
            continue
        result.rows += 1
        answers, fixed = _answers(columns, row)
        _finish_lists(answers, codes)
        response_id = fixed.get("responseId", "")
        if not response_id:
            result.errors.append({"line": line, "response_id": "", "errors": ["no ResponseID"]})
            continue
        try:
            customer_id = _customer(session, survey, fixed)
        except ValueError as exc:
            result.errors.append({"line": line, "response_id": response_id, "errors": [str(exc)]})
            continue
        result.store(
            session,
            survey,
            line,
            response_id,
            answers=answers,
            customer_id=customer_id,
            started_at=_when(fixed.get("startDate", "")),
            completed_at=_when(fixed.get("endDate", "")),
            completed=fixed.get("finished", "1") in ("1", "True", "true", ""),
            metadata={"import": {"format": layout, "file": filename[:200], "line": line}},
        )
    return result


# -- SurveyJS results ------------------------------------------------------------------------------------------


def _surveyjs_value(code: QuestionCodes, value: Any) -> Any:
    kind = code.type
    if kind in ("single_choice", "dropdown"):
        return code.choices.get(str(value), str(value))
    if kind in ("multiple_choice", "ranking"):
        items = value if isinstance(value, list) else [value]
        return [code.choices.get(str(v), str(v)) for v in items]
    if kind == "matrix":
        # A dropdown/dynamic matrix answers each cell with an object or a row list: cem keeps one answer per row,
        # so such answers cannot be imported (the definition import already warned about that question).
        if not isinstance(value, dict) or any(isinstance(c, dict | list) for c in value.values()):
            return None
        return {code.rows.get(str(r), str(r)): code.columns.get(str(c), str(c)) for r, c in value.items()}
    if kind == "consent":
        return value is True or (code.consent_value is not None and str(value) == code.consent_value)
    if kind == "text" and isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return value


def import_surveyjs_results(
    session: Session, survey: Survey, codes: dict[str, QuestionCodes], filename: str, content: bytes
) -> ResponseImportResult:
    """A SurveyJS result object (or a list of them) -> responses. SurveyJS results carry no id: the submission id
    is a hash of the result, so importing the same file again stores nothing new."""
    try:
        data = parse_json(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"{filename} is not valid JSON: {exc}.") from None
    results = data if isinstance(data, list) else [data]
    if not results or not all(isinstance(r, dict) for r in results):
        raise BadRequest(f"{filename}: expected a SurveyJS result object (answers by question name) or a list of them.")
    by_name = {c.source_ref: c for c in codes.values()}
    result = ResponseImportResult(layout="surveyjs-results")
    ignored: set[str] = set()
    for index, record in enumerate(results, start=1):
        result.rows += 1
        answers: dict[str, Any] = {}
        for key, value in record.items():
            if key.endswith("-Comment") and key[: -len("-Comment")] in by_name:
                answers[by_name[key[: -len("-Comment")]].question_id + ".other"] = str(value)
            elif key in by_name and value not in (None, "", [], {}):
                code = by_name[key]
                converted = _surveyjs_value(code, value) if code.type != "cta" else None
                if converted is None:
                    ignored.add(f"{key} (answer shape not supported)")
                else:
                    answers[code.question_id] = converted
            elif key not in by_name:
                ignored.add(key)
        digest = hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()[:32]
        result.store(
            session,
            survey,
            index,
            f"surveyjs-{digest}",
            answers=answers,
            metadata={"import": {"format": "surveyjs", "file": filename[:200], "index": index}},
        )
    result.ignored_columns = sorted(ignored)
    return result


def import_response_file(
    session: Session, survey: Survey, codes: dict[str, QuestionCodes], filename: str, content: bytes
) -> ResponseImportResult:
    """Qualtrics CSV (.csv) or SurveyJS results (.json), by extension."""
    lowered = filename.lower()
    if lowered.endswith(".json"):
        if not content.strip():
            raise BadRequest(f"{filename} is empty.")
        return import_surveyjs_results(session, survey, codes, filename, content)
    if lowered.endswith((".csv", ".txt")):
        return import_responses(session, survey, codes, filename, content)
    raise BadRequest(f"Cannot import responses from {filename!r}: expected a Qualtrics .csv export or SurveyJS .json.")
