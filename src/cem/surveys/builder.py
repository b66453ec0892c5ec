"""Builder edits: plain form fields -> changes to a definition (a JSON dict), one function per form.

Every function takes the working copy (a dict, not mutated) and the posted form (name -> list of values)
and returns the new dict; the caller saves it through service.update_survey, which validates it (a live
survey only accepts a valid definition and gets a new version). Bad input raises BuilderError.

Choice lists are edited as text, one choice per line: `id | label` (`| other` marks the free-text
choice); a line without `|` gets an id made from its label. Other languages: `id | label` lines too.

Conditions are edited as rows (`<prefix>_<n>_source/_ref/_operator/_value`) joined by `<prefix>_match`
(all = and, any = or): one row saves as a plain condition, several as a group, none as no condition.
The form shows empty spare rows, so one more row can be added per save without JavaScript. A group
inside a group (from the JSON editor or an import) is not shown as rows: it stays as it is unless cleared.
The single row of older forms (`<prefix>_ref`, ...) is still read as the first row.

Page calculations: existing ones are removed by index (`calc_remove`), one is added per save
(`calc_variable`, `calc_op`, `calc_source` value|question|hidden|attribute|variable, `calc_operand`,
and an optional condition row `calc_when_*`).
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar, get_args

from cem.surveys.definition import (
    CHOICE_TYPES,
    OPERATORS,
    QUESTION_DEFAULT_HEADLINES,
    QUESTION_TYPES,
    UNARY_OPERATORS,
    Calculation,
    Condition,
    ConditionGroup,
    ConditionNode,
)

Form = Mapping[str, list[str]]
T = TypeVar("T")
SOURCES = ("question", "hidden", "attribute", "variable")
ID_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
MATCHES = {"all": "and", "any": "or", "and": "and", "or": "or"}
CALC_OPS: tuple[str, ...] = get_args(Calculation.model_fields["op"].annotation)
CALC_OP_LABELS = {
    "set": "set to",
    "add": "add",
    "subtract": "subtract",
    "multiply": "multiply by",
    "divide": "divide by",
    "append": "append text",
}
TEXT_CALC_OPS = ("set", "append")
NUMBER_CALC_OPS = tuple(op for op in CALC_OPS if op != "append")


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


def _put(texts: dict[str, str], lang: str, value: str) -> None:
    """Set the text of one language; an empty value removes it."""
    if value:
        texts[lang] = value
    else:
        texts.pop(lang, None)


def _local(form: Form, prefix: str, defn: dict[str, Any], keep: dict[str, str] | None = None) -> dict[str, str]:
    """A LocalText from fields `<prefix>_<lang>`; languages not in the form keep their old text."""
    result = dict(keep or {})
    for lang in _languages(defn):
        if f"{prefix}_{lang}" in form:
            _put(result, lang, one(form, f"{prefix}_{lang}"))
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
    by_id = {c["id"]: c for c in choices}
    for lang, text_block in translations.items():
        for line in text_block.splitlines():
            ident, _, label = (p.strip() for p in line.partition("|"))
            if ident in by_id:
                _put(by_id[ident]["label"], lang, label)
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
        return _plain(float(raw))
    except ValueError:
        return raw


def _plain(number: float) -> int | float:
    """A whole number as an int (5, not 5.0), as people typed it."""
    return int(number) if number.is_integer() else number


def condition_from(form: Form, prefix: str) -> dict[str, Any] | None:
    """One condition row (`<prefix>_source/_ref/_operator/_value`), or None when left empty."""
    ref = one(form, f"{prefix}_ref")
    raw = one(form, f"{prefix}_value")
    if not ref:
        if raw:
            raise BuilderError(f"The condition compared with {raw!r} needs the id of what it tests.")
        return None
    source = one(form, f"{prefix}_source", "question")
    operator = one(form, f"{prefix}_operator", "equals")
    if source not in SOURCES:
        raise BuilderError(f"Unknown condition source {source!r}.")
    if operator not in OPERATORS:
        raise BuilderError(f"Unknown operator {operator!r}.")
    condition: dict[str, Any] = {"source": source, "ref": ref, "operator": operator}
    if operator not in UNARY_OPERATORS:
        if raw == "":
            raise BuilderError(f"The condition on {ref!r} needs a value to compare with.")
        condition["value"] = _value(raw)
    return condition


def condition_rows(form: Form, prefix: str) -> list[str]:
    """Prefixes of the condition rows posted for an editor: the older single row first, then `<prefix>_<n>`."""
    pattern = re.compile(rf"^{re.escape(prefix)}_(\d+)_ref$")
    numbered = sorted({int(m.group(1)) for key in form if (m := pattern.match(key))})
    rows = [prefix] if f"{prefix}_ref" in form else []
    return rows + [f"{prefix}_{n}" for n in numbered]


def has_condition_editor(form: Form, prefix: str) -> bool:
    """Whether the posted form carries the condition editor `prefix` (else the condition is not touched)."""
    return f"{prefix}_match" in form or bool(condition_rows(form, prefix))


def conditions_from(form: Form, prefix: str, label: str) -> dict[str, Any] | None:
    """A condition editor: its rows joined by `<prefix>_match` (all|any). One filled row is a plain
    condition, several make a group, none is None. Errors name the editor and the row."""
    match = one(form, f"{prefix}_match", "all").lower()
    if match not in MATCHES:
        raise BuilderError(f"{label}: match {match!r} must be all or any.")
    conditions: list[dict[str, Any]] = []
    for number, row in enumerate(condition_rows(form, prefix), start=1):
        try:
            condition = condition_from(form, row)
        except BuilderError as exc:
            raise BuilderError(f"{label}, row {number}: {exc}") from None
        if condition is not None:
            conditions.append(condition)
    if not conditions:
        return None
    if len(conditions) == 1:
        return conditions[0]
    return {"combinator": MATCHES[match], "conditions": conditions}


def is_nested(node: Any) -> bool:
    """A group holding a group (a definition dict): the form cannot show it as rows."""
    if not isinstance(node, Mapping) or "conditions" not in node:
        return False
    return any(isinstance(child, Mapping) and "conditions" in child for child in node.get("conditions") or [])


def condition_editor(node: ConditionNode | None) -> tuple[str, list[Condition], bool]:
    """How the form shows a condition: (match all|any, its rows, nested). A nested group has no rows."""
    if node is None:
        return "all", [], False
    if isinstance(node, Condition):
        return "all", [node], False
    match = "any" if node.combinator == "or" else "all"
    if any(isinstance(child, ConditionGroup) for child in node.conditions):
        return match, [], True
    return match, [child for child in node.conditions if isinstance(child, Condition)], False


def _logic(form: Form, item: dict[str, Any]) -> None:
    """Display logic (rows joined by all/any; a nested group is kept unless cleared) and jump rules
    (remove by index, add one whose condition is rows too)."""
    current = item.get("display_logic")
    if _flag(form, "display_clear"):
        item.pop("display_logic", None)
    elif has_condition_editor(form, "display") and not is_nested(current):
        condition = conditions_from(form, "display", "Display logic")
        if condition is None:
            item.pop("display_logic", None)
        else:
            item["display_logic"] = condition
    rules = _unchecked(item.get("jump_logic", []), form, "jump_remove")
    condition = conditions_from(form, "jump", "New jump rule")
    target = one(form, "jump_target")
    if condition is not None:
        if not target:
            raise BuilderError("Choose where the new jump rule goes.")
        rules.append({"condition": condition, "target": target})
    item["jump_logic"] = rules


def _unchecked(items: list[Any], form: Form, name: str) -> list[Any]:
    """The items whose index is not among the checked `name` boxes (the form's remove boxes)."""
    removed = {int(v) for v in form.get(name, []) if v.isdigit()}
    return [item for index, item in enumerate(items) if index not in removed]


def _check_reference(defn: dict[str, Any], source: str, ref: str, label: str) -> None:
    if source == "variable" and ref not in {v.get("id") for v in defn.get("variables", [])}:
        raise BuilderError(f"{label}: unknown variable {ref!r}.")
    if source == "hidden" and ref not in {h.get("id") for h in defn.get("hidden_fields", [])}:
        raise BuilderError(f"{label}: unknown hidden field {ref!r}.")
    if source == "question":
        questions = {q.get("id") for p in defn.get("pages", []) for q in p.get("questions", [])}
        if ref.partition(".")[0] not in questions:
            raise BuilderError(f"{label}: unknown question {ref!r}.")


def calculation_from(form: Form, defn: dict[str, Any]) -> dict[str, Any] | None:
    """The new calculation row of a page form (None when no variable is chosen and nothing typed)."""
    label = "New calculation"
    variable = one(form, "calc_variable")
    source = one(form, "calc_source", "value")
    raw = one(form, "calc_operand")
    if not variable:
        if raw or one(form, "calc_when_ref"):
            raise BuilderError(f"{label}: choose the variable it changes.")
        return None
    kinds = {v.get("id"): v.get("type", "number") for v in defn.get("variables", [])}
    if variable not in kinds:
        raise BuilderError(f"{label}: unknown variable {variable!r}; add it under Settings, Variables first.")
    op = one(form, "calc_op", "set")
    if op not in CALC_OPS:
        raise BuilderError(f"{label}: unknown operation {op!r}.")
    kind = kinds[variable]
    allowed = TEXT_CALC_OPS if kind == "text" else NUMBER_CALC_OPS
    if op not in allowed:
        raise BuilderError(f"{label}: {variable!r} is a {kind} variable; use {', '.join(allowed)}.")
    operand: dict[str, Any]
    if source == "value":
        if kind == "text":
            operand = {"value": raw}
        else:
            try:
                number = float(raw)
            except ValueError:
                raise BuilderError(f"{label}: a number is expected for {variable!r}, not {raw!r}.") from None
            if not math.isfinite(number):
                raise BuilderError(f"{label}: a number is expected for {variable!r}, not {raw!r}.")
            if op == "divide" and number == 0:
                raise BuilderError(f"{label}: {variable!r} cannot be divided by 0.")
            operand = {"value": _plain(number)}
    elif source in SOURCES:
        if not raw:
            raise BuilderError(f"{label}: give the id of the {source} to use.")
        _check_reference(defn, source, raw, label)
        operand = {"source": source, "ref": raw}
    else:
        raise BuilderError(f"{label}: unknown operand {source!r}.")
    calculation: dict[str, Any] = {"variable": variable, "op": op, "operand": operand}
    when = conditions_from(form, "calc_when", f"{label}, condition")
    if when is not None:
        calculation["when"] = when
    return calculation


def _calculations(form: Form, defn: dict[str, Any], page: dict[str, Any]) -> None:
    """Remove the checked calculations (by index), then add the new row's one at the end."""
    if "calc_variable" not in form and "calc_remove" not in form:
        return
    calculations = _unchecked(page.get("calculations") or [], form, "calc_remove")
    new = calculation_from(form, defn)
    if new is not None:
        calculations.append(new)
    page["calculations"] = calculations


# --------------------------------------------------------------------------------------------------
# Edits


def find_question(defn: dict[str, Any], question_id: str) -> tuple[int, int]:
    for p_index, page in enumerate(defn.get("pages", [])):
        for q_index, question in enumerate(page.get("questions", [])):
            if question.get("id") == question_id:
                return p_index, q_index
    raise BuilderError(f"There is no question {question_id!r}.")


def find_page(defn: dict[str, Any], page_id: str) -> int:
    return _index(defn.get("pages", []), page_id, "page")


def _index(items: list[dict[str, Any]], ident: str, what: str) -> int:
    index = next((i for i, item in enumerate(items) if item.get("id") == ident), None)
    if index is None:
        raise BuilderError(f"There is no {what} {ident!r}.")
    return index


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
        "headline": {lang: QUESTION_DEFAULT_HEADLINES.get(kind, "New question")},
    }
    if kind in CHOICE_TYPES:
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


def _parsed(form: Form, name: str, parse: Callable[[str], T], problem: str) -> T | None:
    """The field read by `parse`, None when empty; a value `parse` refuses is a BuilderError saying `problem`."""
    raw = one(form, name)
    if not raw:
        return None
    try:
        return parse(raw)
    except ValueError:
        raise BuilderError(problem) from None


def _int(form: Form, name: str, label: str) -> int | None:
    return _parsed(form, name, int, f"{label} must be a whole number.")


def _number(form: Form, name: str, label: str) -> int | float | None:
    value = _parsed(form, name, lambda raw: float(raw.replace(",", ".")), f"{label} must be a number.")
    if value is None:
        return None
    if value != value or value in (float("inf"), float("-inf")):
        raise BuilderError(f"{label} must be a number.")
    return int(value) if value.is_integer() else value


def _slider_fields(form: Form, question: dict[str, Any]) -> None:
    """range_min / range_max / step as typed; an empty field falls back to the default (0, 100, 1). Whether they
    make a usable slider (min below max, a step dividing the range) is the definition validator's located error."""
    for name, label in (("range_min", "The minimum"), ("range_max", "The maximum"), ("step", "The step")):
        if name in form:
            value = _number(form, name, label)
            if value is None:
                question.pop(name, None)
            else:
                question[name] = value


def edit_question(defn: dict[str, Any], question_id: str, form: Form) -> dict[str, Any]:
    new = copy.deepcopy(defn)
    p_index, q_index = find_question(new, question_id)
    question = new["pages"][p_index]["questions"][q_index]
    question["headline"] = _local(form, "headline", new, question.get("headline"))
    question["help"] = _local(form, "help", new, question.get("help"))
    kind = question["type"]
    if kind == "display":  # display text takes no answer
        question.pop("required", None)
    else:
        question["required"] = _flag(form, "required")
    if kind == "slider":
        _slider_fields(form, question)
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
            question[name] = dict(question.get(name, {}))
            _put(question[name], lang, one(form, name))
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


def _reorder(items: list[Any], index: int, action: str) -> None:
    """delete | up | down of one item of a list; another action is a BuilderError."""
    if action == "delete":
        items.pop(index)
    elif action in ("up", "down"):
        move(items, index, action)
    else:
        raise BuilderError(f"Unknown action {action!r}.")


def question_action(defn: dict[str, Any], question_id: str, action: str, form: Form) -> dict[str, Any]:
    """delete | up | down | to_page (move to the page named in `page`)."""
    new = copy.deepcopy(defn)
    p_index, q_index = find_question(new, question_id)
    questions = new["pages"][p_index]["questions"]
    if action == "to_page":
        target = find_page(new, one(form, "page"))
        new["pages"][target].setdefault("questions", []).append(questions.pop(q_index))
    else:
        _reorder(questions, q_index, action)
    return new


def edit_page(defn: dict[str, Any], page_id: str, form: Form) -> dict[str, Any]:
    new = copy.deepcopy(defn)
    page = new["pages"][find_page(new, page_id)]
    page["title"] = _local(form, "title", new, page.get("title"))
    _logic(form, page)
    _calculations(form, new, page)
    return new


def page_action(defn: dict[str, Any], page_id: str, action: str) -> dict[str, Any]:
    new = copy.deepcopy(defn)
    _reorder(new["pages"], find_page(new, page_id), action)
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
    index = _index(endings, ending_id, "ending")
    if one(form, "action") == "delete":
        endings.pop(index)
        return new
    ending = endings[index]
    ending["headline"] = _local(form, "headline", new, ending.get("headline"))
    ending["message"] = _local(form, "message", new, ending.get("message"))
    ending["redirect_url"] = _local(form, "redirect_url", new, ending.get("redirect_url"))
    return new


def _datetime(form: Form, name: str, label: str) -> str | None:
    value = _parsed(form, name, datetime.fromisoformat, f"{label} is not a date and time (YYYY-MM-DD HH:MM).")
    if value is None:
        return None
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
                    value: Any = _plain(float(initial)) if initial else 0
                except ValueError:
                    raise BuilderError(f"Variables: {ident!r} starts at a number, not {initial!r}.") from None
            else:
                value = initial or ""
            variables.append({"id": ident, "type": kind, "initial": value})
        new["variables"] = variables
    return new
