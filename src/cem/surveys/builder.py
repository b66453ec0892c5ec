"""Builder edits: plain form fields -> changes to a definition (a JSON dict), one function per form.

Every function takes the working copy (a dict, not mutated) and the posted form (name -> list of values)
and returns the new dict; the caller saves it through service.update_survey, which validates it (a live
survey only accepts a valid definition and gets a new version). Bad input raises BuilderError.

Choice lists are edited as text, one choice per line: `id | label` (`| other` marks the free-text
choice); a line without `|` gets an id made from its label. Other languages: `id | label` lines too.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cem.surveys.definition import OPERATORS, QUESTION_TYPES, UNARY_OPERATORS

Form = Mapping[str, list[str]]
SOURCES = ("question", "hidden", "attribute", "variable")
ID_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
TYPE_LABELS = {
    "nps": "NPS (0-10)",
    "csat": "CSAT",
    "ces": "CES (1-7)",
    "rating": "Rating",
    "single_choice": "Single choice",
    "multiple_choice": "Multiple choice",
    "dropdown": "Dropdown",
    "text": "Open text",
    "matrix": "Matrix",
    "ranking": "Ranking",
    "date": "Date",
    "consent": "Consent",
    "cta": "Call to action",
}
DEFAULT_HEADLINES = {
    "nps": "How likely are you to recommend us to a friend or colleague?",
    "csat": "How satisfied are you with us?",
    "ces": "The company made it easy for me to handle my issue.",
    "rating": "How would you rate your experience?",
    "consent": "I agree to be contacted about my answers.",
    "cta": "Tell others about us",
}


class BuilderError(ValueError):
    """A form value the builder cannot turn into a definition; the message names the field."""


def one(form: Form, name: str, default: str = "") -> str:
    values = form.get(name) or [default]
    return values[-1].strip()


def _flag(form: Form, name: str) -> bool:
    return one(form, name) in ("on", "true", "1", "yes")


def _languages(defn: dict[str, Any]) -> list[str]:
    default = defn.get("default_language", "en")
    return [default, *(x for x in defn.get("languages", []) if x != default)]


def _local(form: Form, prefix: str, defn: dict[str, Any], keep: dict[str, str] | None = None) -> dict[str, str]:
    """A LocalText from fields `<prefix>_<lang>`; languages not in the form keep their old text."""
    result = dict(keep or {})
    for lang in _languages(defn):
        name = f"{prefix}_{lang}"
        if name in form:
            value = one(form, name)
            if value:
                result[lang] = value
            else:
                result.pop(lang, None)
    return result


def slug_id(label: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:40] or "choice"
    if not base[0].isalpha():
        base = f"c_{base}"
    ident, n = base, 1
    while ident in taken:
        n += 1
        ident = f"{base}_{n}"
    taken.add(ident)
    return ident


def parse_choices(
    raw: str, defn: dict[str, Any], old: list[dict[str, Any]], translations: dict[str, str], field: str
) -> list[dict[str, Any]]:
    """Choice lines -> choices, keeping the labels of other languages for ids that stay."""
    default = defn.get("default_language", "en")
    previous = {c["id"]: c for c in old}
    taken: set[str] = set()
    choices = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 1:
            ident, label, flags = slug_id(parts[0], taken), parts[0], []
        else:
            ident, label, flags = parts[0], parts[1], [p.lower() for p in parts[2:]]
            if not ID_PATTERN.match(ident):
                raise BuilderError(
                    f"{field}, line {number}: the id {ident!r} must start with a letter (letters, digits, _ or -)."
                )
            taken.add(ident)
        if not label:
            raise BuilderError(f"{field}, line {number}: the label is empty.")
        labels = {k: v for k, v in previous.get(ident, {}).get("label", {}).items() if k != default}
        labels[default] = label
        choice: dict[str, Any] = {"id": ident, "label": labels}
        if "other" in flags:
            choice["other"] = True
        choices.append(choice)
    for lang, text_block in translations.items():
        by_id = {c["id"]: c for c in choices}
        for line in text_block.splitlines():
            ident, _, label = (p.strip() for p in line.partition("|"))
            if ident in by_id and label:
                by_id[ident]["label"][lang] = label
            elif ident in by_id:
                by_id[ident]["label"].pop(lang, None)
    return choices


def choices_text(choices: list[dict[str, Any]], lang: str) -> str:
    lines = []
    for c in choices:
        line = f"{c['id']} | {c.get('label', {}).get(lang, '')}"
        if c.get("other"):
            line += " | other"
        lines.append(line)
    return "\n".join(lines)


def _value(raw: str) -> Any:
    """Condition values typed in a form: numbers stay numbers, commas make lists (for includes_*)."""
    if "," in raw:
        return [v.strip() for v in raw.split(",") if v.strip()]
    try:
        number = float(raw)
    except ValueError:
        return raw
    return int(number) if number.is_integer() else number


def condition_from(form: Form, prefix: str) -> dict[str, Any] | None:
    """One condition row (`<prefix>_source/_ref/_operator/_value`), or None when left empty."""
    ref = one(form, f"{prefix}_ref")
    if not ref:
        return None
    source = one(form, f"{prefix}_source", "question")
    operator = one(form, f"{prefix}_operator", "equals")
    if source not in SOURCES:
        raise BuilderError(f"Unknown condition source {source!r}.")
    if operator not in OPERATORS:
        raise BuilderError(f"Unknown operator {operator!r}.")
    condition: dict[str, Any] = {"source": source, "ref": ref, "operator": operator}
    raw = one(form, f"{prefix}_value")
    if operator not in UNARY_OPERATORS:
        if raw == "":
            raise BuilderError(f"The condition on {ref!r} needs a value to compare with.")
        condition["value"] = _value(raw)
    return condition


def _logic(form: Form, item: dict[str, Any]) -> None:
    """Display logic (one row, or kept when it is a group edited as JSON) and jump rules (remove/add)."""
    if _flag(form, "display_clear"):
        item.pop("display_logic", None)
    elif "display_ref" in form:
        current = item.get("display_logic")
        if current is None or "ref" in current:  # a simple condition: the form owns it
            condition = condition_from(form, "display")
            if condition is None:
                item.pop("display_logic", None)
            else:
                item["display_logic"] = condition
    rules = list(item.get("jump_logic", []))
    removed = {int(v) for v in form.get("jump_remove", []) if v.isdigit()}
    rules = [rule for index, rule in enumerate(rules) if index not in removed]
    condition = condition_from(form, "jump")
    target = one(form, "jump_target")
    if condition is not None:
        if not target:
            raise BuilderError("Choose where the new jump rule goes.")
        rules.append({"condition": condition, "target": target})
    item["jump_logic"] = rules


# --------------------------------------------------------------------------------------------------
# Edits


def find_question(defn: dict[str, Any], question_id: str) -> tuple[int, int]:
    for p_index, page in enumerate(defn.get("pages", [])):
        for q_index, question in enumerate(page.get("questions", [])):
            if question.get("id") == question_id:
                return p_index, q_index
    raise BuilderError(f"There is no question {question_id!r}.")


def find_page(defn: dict[str, Any], page_id: str) -> int:
    for index, page in enumerate(defn.get("pages", [])):
        if page.get("id") == page_id:
            return index
    raise BuilderError(f"There is no page {page_id!r}.")


def _all_ids(defn: dict[str, Any]) -> set[str]:
    ids = {p["id"] for p in defn.get("pages", [])}
    ids |= {q["id"] for p in defn.get("pages", []) for q in p.get("questions", [])}
    ids |= {e["id"] for e in defn.get("endings", [])}
    return ids


def _new_id(form: Form, defn: dict[str, Any], name: str, prefix: str) -> str:
    wanted = one(form, name)
    taken = _all_ids(defn)
    if wanted:
        if not ID_PATTERN.match(wanted):
            raise BuilderError(f"The id {wanted!r} must start with a letter and use letters, digits, _ or -.")
        if wanted in taken:
            raise BuilderError(f"The id {wanted!r} is already used in this survey.")
        return wanted
    n = 1
    while f"{prefix}{n}" in taken:
        n += 1
    return f"{prefix}{n}"


def add_page(defn: dict[str, Any], form: Form) -> dict[str, Any]:
    new = copy.deepcopy(defn)
    page_id = _new_id(form, new, "page_id", "p")
    new.setdefault("pages", []).append({"id": page_id, "title": {}, "questions": []})
    return new


def new_question(defn: dict[str, Any], kind: str, question_id: str) -> dict[str, Any]:
    if kind not in QUESTION_TYPES:
        raise BuilderError(f"Unknown question type {kind!r}.")
    lang = defn.get("default_language", "en")
    question: dict[str, Any] = {
        "id": question_id,
        "type": kind,
        "headline": {lang: DEFAULT_HEADLINES.get(kind, "New question")},
    }
    if kind in ("single_choice", "multiple_choice", "dropdown", "ranking"):
        question["choices"] = [{"id": "a", "label": {lang: "Option A"}}, {"id": "b", "label": {lang: "Option B"}}]
    if kind == "matrix":
        question["rows"] = [{"id": "r1", "label": {lang: "Row 1"}}]
        question["scale"] = 5
    return question


def add_question(defn: dict[str, Any], page_id: str, form: Form) -> dict[str, Any]:
    new = copy.deepcopy(defn)
    index = find_page(new, page_id)
    question_id = _new_id(form, new, "question_id", "q")
    new["pages"][index].setdefault("questions", []).append(new_question(new, one(form, "type"), question_id))
    return new


def _int(form: Form, name: str, label: str) -> int | None:
    raw = one(form, name)
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise BuilderError(f"{label} must be a whole number.") from None


def edit_question(defn: dict[str, Any], question_id: str, form: Form) -> dict[str, Any]:
    new = copy.deepcopy(defn)
    p_index, q_index = find_question(new, question_id)
    question = new["pages"][p_index]["questions"][q_index]
    question["headline"] = _local(form, "headline", new, question.get("headline"))
    question["help"] = _local(form, "help", new, question.get("help"))
    question["required"] = _flag(form, "required")
    kind = question["type"]
    if "scale" in form:
        scale = _int(form, "scale", "The scale")
        if scale is None:
            question.pop("scale", None)
        else:
            question["scale"] = scale
    for name in ("style", "input", "validation"):
        if name in form:
            question[name] = one(form, name)
    if "lower_label" in form or "upper_label" in form:
        lang = new.get("default_language", "en")
        for name in ("lower_label", "upper_label"):
            labels = dict(question.get(name, {}))
            value = one(form, name)
            if value:
                labels[lang] = value
            else:
                labels.pop(lang, None)
            question[name] = labels
    if kind == "cta":
        question["button_label"] = _local(form, "button_label", new, question.get("button_label"))
        question["button_url"] = one(form, "button_url") or None
    for field in ("choices", "rows", "columns"):
        if field in form:
            translations = {
                lang: one(form, f"{field}_{lang}") for lang in _languages(new)[1:] if f"{field}_{lang}" in form
            }
            question[field] = parse_choices(one(form, field), new, question.get(field, []), translations, field)
    _logic(form, question)
    return new


def move(items: list[Any], index: int, direction: str) -> None:
    target = index - 1 if direction == "up" else index + 1
    if 0 <= target < len(items):
        items[index], items[target] = items[target], items[index]


def question_action(defn: dict[str, Any], question_id: str, action: str, form: Form) -> dict[str, Any]:
    """delete | up | down | to_page (move to the page named in `page`)."""
    new = copy.deepcopy(defn)
    p_index, q_index = find_question(new, question_id)
    questions = new["pages"][p_index]["questions"]
    if action == "delete":
        questions.pop(q_index)
    elif action in ("up", "down"):
        move(questions, q_index, action)
    elif action == "to_page":
        target = find_page(new, one(form, "page"))
        new["pages"][target].setdefault("questions", []).append(questions.pop(q_index))
    else:
        raise BuilderError(f"Unknown action {action!r}.")
    return new


def edit_page(defn: dict[str, Any], page_id: str, form: Form) -> dict[str, Any]:
    new = copy.deepcopy(defn)
    page = new["pages"][find_page(new, page_id)]
    page["title"] = _local(form, "title", new, page.get("title"))
    _logic(form, page)
    return new


def page_action(defn: dict[str, Any], page_id: str, action: str) -> dict[str, Any]:
    new = copy.deepcopy(defn)
    index = find_page(new, page_id)
    if action == "delete":
        new["pages"].pop(index)
    elif action in ("up", "down"):
        move(new["pages"], index, action)
    else:
        raise BuilderError(f"Unknown action {action!r}.")
    return new


def add_ending(defn: dict[str, Any], form: Form) -> dict[str, Any]:
    new = copy.deepcopy(defn)
    ending_id = _new_id(form, new, "ending_id", "end")
    lang = new.get("default_language", "en")
    new.setdefault("endings", []).append({"id": ending_id, "headline": {lang: "Thank you!"}})
    return new


def edit_ending(defn: dict[str, Any], ending_id: str, form: Form) -> dict[str, Any]:
    new = copy.deepcopy(defn)
    endings = new.get("endings", [])
    index = next((i for i, e in enumerate(endings) if e.get("id") == ending_id), None)
    if index is None:
        raise BuilderError(f"There is no ending {ending_id!r}.")
    if one(form, "action") == "delete":
        endings.pop(index)
        return new
    ending = endings[index]
    ending["headline"] = _local(form, "headline", new, ending.get("headline"))
    ending["message"] = _local(form, "message", new, ending.get("message"))
    ending["redirect_url"] = _local(form, "redirect_url", new, ending.get("redirect_url"))
    return new


def _datetime(form: Form, name: str, label: str) -> str | None:
    raw = one(form, name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise BuilderError(f"{label} is not a date and time (YYYY-MM-DD HH:MM).") from None
    return value.isoformat() if value.tzinfo else value.isoformat() + "+00:00"


def _lines(raw: str) -> list[str]:
    return [line.strip() for line in raw.splitlines() if line.strip()]


def edit_settings(defn: dict[str, Any], form: Form) -> dict[str, Any]:
    """Languages, title, behaviour, dates, hidden fields (`id` or `id = attribute`) and variables
    (`id` / `id: text` / `id: number = 5`)."""
    new = copy.deepcopy(defn)
    default = one(form, "default_language") or new.get("default_language", "en")
    languages = [x.strip() for x in re.split(r"[,\s]+", one(form, "languages")) if x.strip()]
    new["default_language"] = default
    new["languages"] = [default, *(x for x in languages if x != default)]
    new["title"] = _local(form, "title", new, new.get("title"))
    settings = dict(new.get("settings", {}))
    settings["progress_bar"] = _flag(form, "progress_bar")
    settings["allow_back"] = _flag(form, "allow_back")
    settings["close_after_responses"] = _int(form, "close_after_responses", "Close after N responses")
    settings["opens_at"] = _datetime(form, "opens_at", "The open date")
    settings["closes_at"] = _datetime(form, "closes_at", "The close date")
    settings["touchpoint"] = one(form, "touchpoint") or None
    new["settings"] = settings
    if "hidden_fields" in form:
        hidden = []
        for line in _lines(one(form, "hidden_fields")):
            ident, _, attribute = (p.strip() for p in line.partition("="))
            hidden.append({"id": ident, **({"attribute": attribute} if attribute else {})})
        new["hidden_fields"] = hidden
    if "variables" in form:
        variables = []
        for line in _lines(one(form, "variables")):
            match = re.match(r"^([^:=\s]+)\s*(?::\s*(number|text))?\s*(?:=\s*(.*))?$", line)
            if not match:
                raise BuilderError(f"Variables: cannot read {line!r}; write `name: number = 0`.")
            ident, kind, initial = match.group(1), match.group(2) or "number", match.group(3)
            if kind == "number":
                try:
                    value: Any = float(initial) if initial else 0
                except ValueError:
                    raise BuilderError(f"Variables: {ident!r} starts at a number, not {initial!r}.") from None
                value = int(value) if float(value).is_integer() else value
            else:
                value = initial or ""
            variables.append({"id": ident, "type": kind, "initial": value})
        new["variables"] = variables
    return new
