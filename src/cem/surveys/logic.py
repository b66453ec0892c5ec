"""The logic engine: conditions, display and jump logic, calculated variables and recall (piping).

Pure functions over a `Context` (answers so far, hidden fields, customer attributes, variables); no
database. The same rules run server-side on every page submit; the page's JavaScript mirrors only
display logic for instant feedback, the server stays the judge.

Semantics worth knowing:
- An unanswered operand makes every positive operator false; the negative ones (not_equals,
  not_contains) are exact negations, so they are true for an unanswered question.
- Numbers compare numerically when both sides parse as numbers; text compares case-insensitively.
- A list answer (multiple choice, ranking) `equals` a list with the same members; `contains` a member.
- before/after compare ISO dates (YYYY-MM-DD).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from cem.surveys.definition import (
    RECALL_PATTERN,
    Calculation,
    Condition,
    ConditionGroup,
    ConditionNode,
    Page,
    Question,
    SurveyDefinition,
    text,
)


@dataclass
class Context:
    answers: dict[str, Any] = field(default_factory=dict)
    hidden: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)


def answered(value: Any) -> bool:
    return value not in (None, "", [], {})


def resolve(source: str, ref: str, ctx: Context) -> Any:
    """The current value of an operand; matrix rows as `question.row`, other-text as `question.other`."""
    if source == "hidden":
        return ctx.hidden.get(ref)
    if source == "variable":
        return ctx.variables.get(ref)
    if source == "attribute":
        return ctx.attributes.get(ref)
    if ref in ctx.answers:
        return ctx.answers[ref]
    question_id, _, row = ref.partition(".")
    value = ctx.answers.get(question_id)
    if row and isinstance(value, dict):
        return value.get(row)
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _same(left: Any, right: Any) -> bool:
    a, b = _number(left), _number(right)
    if a is not None and b is not None:
        return a == b
    if isinstance(left, bool) or isinstance(right, bool):
        return str(left).lower() == str(right).lower()
    return str(left).strip().casefold() == str(right).strip().casefold()


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    return [value]


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(actual, list):
        return any(_same(item, expected) for item in actual)
    return str(expected).casefold() in str(actual).casefold()


def _compare(actual: Any, expected: Any, operator: str) -> bool:
    if operator in ("before", "after"):
        a, b = _day(actual), _day(expected)
        if a is None or b is None:
            return False
        return a < b if operator == "before" else a > b
    x, y = _number(actual), _number(expected)
    if x is None or y is None:
        return False
    return {
        "greater_than": x > y,
        "less_than": x < y,
        "greater_or_equal": x >= y,
        "less_or_equal": x <= y,
    }[operator]


def _test(actual: Any, operator: str, expected: Any) -> bool:
    if operator == "is_answered":
        return answered(actual)
    if operator == "is_skipped":
        return not answered(actual)
    if operator == "not_equals":
        return not _test(actual, "equals", expected)
    if operator == "not_contains":
        return not _test(actual, "contains", expected)
    if not answered(actual):
        return False
    if operator == "equals":
        if isinstance(actual, list) or isinstance(expected, list):
            left, right = _as_list(actual), _as_list(expected)
            return len(left) == len(right) and all(any(_same(a, b) for b in right) for a in left)
        return _same(actual, expected)
    if operator == "contains":
        return _contains(actual, expected)
    if operator == "includes_any":
        return any(_contains(_as_list(actual), item) for item in _as_list(expected))
    if operator == "includes_all":
        return all(_contains(_as_list(actual), item) for item in _as_list(expected))
    return _compare(actual, expected, operator)


def evaluate(node: ConditionNode | None, ctx: Context) -> bool:
    """Whether a condition tree holds; no condition means always."""
    if node is None:
        return True
    if isinstance(node, ConditionGroup):
        results = (evaluate(child, ctx) for child in node.conditions)
        return all(results) if node.combinator == "and" else any(results)
    assert isinstance(node, Condition)
    return _test(resolve(node.source, node.ref, ctx), node.operator, node.value)


def visible_questions(page: Page, ctx: Context) -> list[Question]:
    return [q for q in page.questions if evaluate(q.display_logic, ctx)]


def page_visible(page: Page, ctx: Context) -> bool:
    return evaluate(page.display_logic, ctx) and bool(visible_questions(page, ctx))


def first_page(defn: SurveyDefinition, ctx: Context) -> str | None:
    return _first_visible_from(defn, 0, ctx)


def _first_visible_from(defn: SurveyDefinition, start: int, ctx: Context) -> str | None:
    for page in defn.pages[start:]:
        if page_visible(page, ctx):
            return page.id
    return None


@dataclass(frozen=True)
class Target:
    """Where a respondent goes after a page: another page, or an ending (`ending_id` may be None: default)."""

    page_id: str | None = None
    ending_id: str | None = None

    @property
    def finished(self) -> bool:
        return self.page_id is None


def next_target(defn: SurveyDefinition, page: Page, ctx: Context) -> Target:
    """Jump rules of the page's visible questions first (in order), then the page's own, then the next page."""
    rules = [rule for q in visible_questions(page, ctx) for rule in q.jump_logic] + list(page.jump_logic)
    index = defn.page_index(page.id)
    assert index is not None
    endings = {e.id for e in defn.endings}
    for rule in rules:
        if not evaluate(rule.condition, ctx):
            continue
        if rule.target in endings:
            return Target(ending_id=rule.target)
        target_index = defn.page_index(rule.target)
        if target_index is not None and target_index > index:
            page_id = _first_visible_from(defn, target_index, ctx)
            return Target(page_id=page_id) if page_id else _default_ending(defn)
    page_id = _first_visible_from(defn, index + 1, ctx)
    return Target(page_id=page_id) if page_id else _default_ending(defn)


def _default_ending(defn: SurveyDefinition) -> Target:
    return Target(ending_id=defn.endings[0].id if defn.endings else None)


# --------------------------------------------------------------------------------------------------
# Calculated variables


def initial_variables(defn: SurveyDefinition) -> dict[str, Any]:
    return {v.id: v.initial for v in defn.variables}


def _tidy(number: float) -> float | int:
    return int(number) if number.is_integer() else round(number, 10)


def apply_calculations(defn: SurveyDefinition, calculations: list[Calculation], ctx: Context) -> None:
    """Run a page's assignments in order, updating ctx.variables; a bad operand leaves the variable as is."""
    kinds = {v.id: v.type for v in defn.variables}
    for calc in calculations:
        if not evaluate(calc.when, ctx):
            continue
        operand = calc.operand
        value = resolve(operand.source, operand.ref or "", ctx) if operand.source else operand.value
        current = ctx.variables.get(calc.variable)
        if kinds.get(calc.variable) == "text":
            if calc.op == "set":
                ctx.variables[calc.variable] = "" if value is None else _display_scalar(value)
            elif calc.op == "append":
                ctx.variables[calc.variable] = f"{current or ''}{'' if value is None else _display_scalar(value)}"
            continue
        number, base = _number(value), _number(current) or 0.0
        if number is None:
            continue
        if calc.op == "set":
            result = number
        elif calc.op == "add":
            result = base + number
        elif calc.op == "subtract":
            result = base - number
        elif calc.op == "multiply":
            result = base * number
        elif calc.op == "divide":
            if number == 0:
                continue
            result = base / number
        else:
            continue
        ctx.variables[calc.variable] = _tidy(result)


# --------------------------------------------------------------------------------------------------
# Recall (piping)


def _display_scalar(value: Any) -> str:
    if isinstance(value, float):
        return str(_tidy(value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def display_answer(question: Question | None, value: Any, lang: str | None, default: str) -> str:
    """An answer as the respondent would read it: choice labels in their language, lists joined."""
    if not answered(value):
        return ""
    if question is None:
        return ", ".join(_display_scalar(v) for v in value) if isinstance(value, list) else _display_scalar(value)
    labels = {c.id: text(c.label, lang, default) for c in question.choices}
    if question.type == "matrix" and isinstance(value, dict):
        rows = {r.id: text(r.label, lang, default) for r in question.rows}
        columns = {c.id: text(c.label, lang, default) for c in question.columns}
        return "; ".join(f"{rows.get(r, r)}: {columns.get(str(v), _display_scalar(v))}" for r, v in value.items())
    if isinstance(value, list):
        return ", ".join(labels.get(str(v), _display_scalar(v)) for v in value)
    if question.type == "consent" and value is True:
        return "✓"
    return labels.get(str(value), _display_scalar(value))


def recall(template: str, defn: SurveyDefinition, ctx: Context, lang: str | None) -> str:
    """Replace {{question}}, {{hidden.x}}, {{var.x}} with current values (plain text; escape when rendering)."""
    if "{{" not in template:
        return template
    questions = defn.question_map()

    def substitute(match: Any) -> str:
        ref: str = match.group(1)
        if ref.startswith("hidden."):
            return _display_scalar(ctx.hidden.get(ref[7:], "") or "")
        if ref.startswith("var."):
            value = ctx.variables.get(ref[4:], "")
            return _display_scalar(value) if value is not None else ""
        question_id = ref.partition(".")[0]
        value = resolve("question", ref, ctx)
        question = questions.get(question_id)
        if ref != question_id:  # a matrix row or other-text: show the raw cell
            return display_answer(None, value, lang, defn.default_language)
        return display_answer(question, value, lang, defn.default_language)

    return RECALL_PATTERN.sub(substitute, template)


def localised(lt: dict[str, str], defn: SurveyDefinition, ctx: Context, lang: str | None) -> str:
    """A LocalText in the respondent's language with recall applied."""
    return recall(text(lt, lang, defn.default_language), defn, ctx, lang)
