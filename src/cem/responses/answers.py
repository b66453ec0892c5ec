"""Answer checking (one clear message per question), HTML form parsing, and answers -> feedback records.

Form field names of the hosted page (also what the prefill query uses):
    q_<question_id>                   the value (repeated for multiple choice)
    q_<question_id>__other            text typed into an "other" choice
    q_<question_id>__<row_id>         a matrix row's column
    q_<question_id>__<choice_id>      a ranking position (1 = best) when ranking without JavaScript

Feedback records of one answer (source_type "survey", source_name = survey slug, submission_id =
response.submission_id, field_id = question id):
    scores -> one record, value_number;  slider -> value_number, field type number;
    text -> value_text (number validation: field type number);
    single choice/dropdown -> value_text = choice label in the default language, metadata.choice_id;
    multiple choice/ranking -> ONE record, value_text = labels joined with "; " (ranking: best first),
        metadata.choice_ids = the ids in order;
    "other" text -> an extra text record "<question_id>.other";
    matrix -> one record per answered row, field_id "<question_id>.<row_id>" (rating with a scale, else choice);
    date -> value_date;  consent/cta -> value_bool;  display blocks -> nothing (they take no answer).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from cem.surveys.definition import CHOICE_TYPES, SCORE_TYPES, Question, SurveyDefinition, field_type, text

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9 ()./-]{6,20}$")
URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
MAX_TEXT = 10_000
REQUIRED_MESSAGE = "This question needs an answer."
CONSENT_MESSAGE = "Please give your consent to continue."
OTHER_SUFFIX = ".other"


class AnswerError(ValueError):
    """A respondent-facing reason why an answer is not accepted."""


def form_name(question_id: str, part: str | None = None) -> str:
    return f"q_{question_id}" if part is None else f"q_{question_id}__{part}"


def _score(question: Question, raw: Any) -> int:
    low, high = question.points()
    if isinstance(raw, bool):
        raise AnswerError(f"Choose a number from {low} to {high}.")
    try:
        number = float(str(raw).strip()) if not isinstance(raw, int | float) else float(raw)
    except ValueError:
        raise AnswerError(f"Choose a number from {low} to {high}.") from None
    if not number.is_integer() or not low <= number <= high:
        raise AnswerError(f"Choose a number from {low} to {high}.")
    return int(number)


def _slider(question: Question, raw: Any) -> int | float:
    """A number of the slider's range on one of its steps (range_min + k * step)."""
    low, high = question.points()
    reason = f"Choose a number from {low:g} to {high:g} in steps of {question.step:g}."
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise AnswerError(reason)
    try:
        number = float(raw.strip().replace(",", ".")) if isinstance(raw, str) else float(raw)
    except ValueError:
        raise AnswerError(reason) from None
    if not low <= number <= high:  # also refuses NaN and infinities
        raise AnswerError(reason)
    steps = (number - low) / question.step
    if abs(steps - round(steps)) > 1e-6:
        raise AnswerError(reason)
    number = round(float(low + round(steps) * question.step), 10)  # drops float noise such as 0.30000000000000004
    return int(number) if number.is_integer() else number


def _choice_ids(question: Question) -> dict[str, bool]:
    return {c.id: c.other for c in question.choices}


def _single(question: Question, raw: Any) -> str:
    value = str(raw).strip()
    if value not in _choice_ids(question):
        raise AnswerError("Choose one of the options.")
    return value


def _multiple(question: Question, raw: Any) -> list[str]:
    values = raw if isinstance(raw, list) else [raw]
    allowed = _choice_ids(question)
    picked: list[str] = []
    for item in values:
        value = str(item).strip()
        if value not in allowed:
            raise AnswerError("Choose among the options.")
        if value not in picked:
            picked.append(value)
    return picked


def _ranking(question: Question, raw: Any) -> list[str]:
    try:
        order = _multiple(question, raw)
    except AnswerError:
        raise AnswerError("Rank every option, each once.") from None
    if len(order) != len(question.choices) or len(order) != len(raw if isinstance(raw, list) else [raw]):
        raise AnswerError("Rank every option, each once.")
    return order


def _text(question: Question, raw: Any) -> str | float:
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        raise AnswerError("Type your answer as text.")
    value = str(raw).strip()
    if len(value) > MAX_TEXT:
        raise AnswerError(f"Keep it under {MAX_TEXT:,} characters.")
    if question.validation == "email" and not EMAIL.match(value):
        raise AnswerError("Enter an email address like name@example.com.")
    if question.validation == "phone" and not PHONE.match(value):
        raise AnswerError("Enter a phone number (digits, spaces, + and dashes).")
    if question.validation == "url" and not URL.match(value):
        raise AnswerError("Enter a web address starting with http:// or https://.")
    if question.validation == "number":
        try:
            number = float(value.replace(",", ".")) if isinstance(raw, str) else float(raw)
        except ValueError:
            raise AnswerError("Enter a number.") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise AnswerError("Enter a number.")
        return int(number) if number.is_integer() else number
    return value


def _matrix(question: Question, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise AnswerError("Answer the rows of the table.")
    rows = {r.id for r in question.rows}
    columns = {c.id for c in question.columns}
    result: dict[str, Any] = {}
    for row, cell in raw.items():
        if row not in rows:
            raise AnswerError(f"Unknown row {row!r}.")
        if cell in (None, ""):
            continue
        if question.scale:
            result[row] = _score(question, cell)
        elif str(cell) in columns:
            result[row] = str(cell)
        else:
            raise AnswerError("Choose one of the columns in each row.")
    if question.required and len(result) < len(rows):
        raise AnswerError("Answer every row.")
    return result


def _date(raw: Any) -> str:
    try:
        return date.fromisoformat(str(raw).strip()[:10]).isoformat()
    except ValueError:
        raise AnswerError("Enter a date as YYYY-MM-DD.") from None


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    value = str(raw).strip().lower()
    if value in ("true", "1", "yes", "on", "clicked", "accepted"):
        return True
    if value in ("false", "0", "no", "off", "dismissed", "declined"):
        return False
    raise AnswerError("Answer yes or no.")


def check_answer(question: Question, raw: Any) -> Any:
    """The normalised value of an answer (None when skipped), or AnswerError with a readable reason."""
    if raw in (None, "", [], {}) or (isinstance(raw, dict) and not any(v not in (None, "") for v in raw.values())):
        if question.required:
            raise AnswerError(CONSENT_MESSAGE if question.type == "consent" else REQUIRED_MESSAGE)
        return None
    kind = question.type
    if kind in SCORE_TYPES:
        return _score(question, raw)
    if kind == "slider":
        return _slider(question, raw)
    if kind in ("single_choice", "dropdown"):
        return _single(question, raw)
    if kind == "multiple_choice":
        return _multiple(question, raw)
    if kind == "ranking":
        return _ranking(question, raw)
    if kind == "text":
        return _text(question, raw)
    if kind == "matrix":
        return _matrix(question, raw)
    if kind == "date":
        return _date(raw)
    value = _boolean(raw)  # consent, cta
    if kind == "consent" and question.required and not value:
        raise AnswerError(CONSENT_MESSAGE)
    return value


def check_other(question: Question, value: Any, raw_other: Any) -> str | None:
    """Text of the "other" choice, required when that choice is picked."""
    if question.type not in CHOICE_TYPES or value is None:
        return None
    picked = value if isinstance(value, list) else [value]
    others = {c.id for c in question.choices if c.other}
    if not others.intersection(picked) or question.type == "ranking":
        return None
    other = str(raw_other or "").strip()
    if not other:
        raise AnswerError("Tell us what you mean by other.")
    if len(other) > MAX_TEXT:
        raise AnswerError(f"Keep it under {MAX_TEXT:,} characters.")
    return other


def check_answers(questions: Sequence[Question], raw: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Check every question: (normalised values incl. "<id>.other" keys, errors by question id).
    Display blocks take no answer: they get no value, and anything posted for them is ignored."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for question in questions:
        if not question.answerable:
            continue
        try:
            value = check_answer(question, raw.get(question.id))
            other = check_other(question, value, raw.get(question.id + OTHER_SUFFIX))
        except AnswerError as exc:
            errors[question.id] = str(exc)
            continue
        values[question.id] = value
        values[question.id + OTHER_SUFFIX] = other
    return values, errors


def parse_form(questions: Sequence[Question], form: Mapping[str, list[str]]) -> dict[str, Any]:
    """Raw answers (engine shape, unchecked) from posted form fields."""
    raw: dict[str, Any] = {}
    for q in questions:
        if not q.answerable:
            continue
        name = form_name(q.id)
        values = [v for v in form.get(name, []) if v != ""]
        if q.type == "multiple_choice":
            raw[q.id] = values
        elif q.type == "ranking":
            raw[q.id] = _ranking_from_form(q, form, values)
        elif q.type == "matrix":
            raw[q.id] = {r.id: _first(form.get(form_name(q.id, r.id), [])) for r in q.rows}
        else:
            raw[q.id] = values[-1] if values else None
        other = _first(form.get(form_name(q.id, "other"), []))
        if other:
            raw[q.id + OTHER_SUFFIX] = other
    return raw


def _first(values: list[str]) -> str | None:
    return values[0] if values and values[0] != "" else None


def _ranking_from_form(q: Question, form: Mapping[str, list[str]], ordered: list[str]) -> list[str] | None:
    """JavaScript posts the order as repeated q_<id>; without it, one rank number per choice."""
    if ordered:
        return ordered
    ranks: list[tuple[int, str]] = []
    for choice in q.choices:
        position = _first(form.get(form_name(q.id, choice.id), []))
        if position is None:
            continue
        try:
            ranks.append((int(position), choice.id))
        except ValueError:
            return ["?invalid"]
    if not ranks:
        return None
    if len({r for r, _ in ranks}) != len(ranks):
        return ["?invalid"]  # two options share a rank: reported as "rank every option, each once"
    return [choice_id for _, choice_id in sorted(ranks)]


def form_values(questions: Sequence[Question], answers: Mapping[str, Any]) -> dict[str, Any]:
    """Values to show in a re-rendered form: what was typed (raw) or stored (normalised)."""
    shown: dict[str, Any] = {}
    for q in questions:
        if q.id in answers:
            shown[q.id] = answers[q.id]
        if q.id + OTHER_SUFFIX in answers:
            shown[q.id + OTHER_SUFFIX] = answers[q.id + OTHER_SUFFIX]
    return shown


# --------------------------------------------------------------------------------------------------
# Feedback records


def feedback_fields(
    defn: SurveyDefinition, question: Question, value: Any, other: str | None
) -> list[tuple[str, str, str, Any, dict[str, Any]]]:
    """(field_id, field_label, field_type, value, metadata) tuples for one answered question."""
    lang = defn.default_language
    label = text(question.headline, lang, lang)[:1000]
    kind = field_type(question)
    fields: list[tuple[str, str, str, Any, dict[str, Any]]] = []
    labels = {c.id: text(c.label, lang, lang) for c in question.choices}
    if question.type == "matrix":
        rows = {r.id: text(r.label, lang, lang) for r in question.rows}
        columns = {c.id: text(c.label, lang, lang) for c in question.columns}
        for row_id, cell in value.items():
            row_label = f"{label} — {rows.get(row_id, row_id)}"[:1000]
            if question.scale:
                fields.append((f"{question.id}.{row_id}", row_label, kind, cell, {}))
            else:
                fields.append(
                    (f"{question.id}.{row_id}", row_label, kind, columns.get(cell, cell), {"choice_id": cell})
                )
        return fields
    if question.type in ("multiple_choice", "ranking"):
        fields.append((question.id, label, kind, [labels[c] for c in value], {"choice_ids": list(value)}))
    elif question.type in ("single_choice", "dropdown"):
        fields.append((question.id, label, kind, labels[value], {"choice_id": value}))
    else:
        fields.append((question.id, label, kind, value, {}))
    if other:
        fields.append((question.id + OTHER_SUFFIX, f"{label} — other"[:1000], "text", other, {}))
    return fields


def all_field_ids(question: Question) -> list[str]:
    """Every field id a question can produce (to remove stale records when an answer is withdrawn)."""
    if not question.answerable:
        return []
    if question.type == "matrix":
        return [f"{question.id}.{r.id}" for r in question.rows]
    return [question.id, question.id + OTHER_SUFFIX]
