"""The logic engine as a table of cases: operators, groups, operands, jumps, calculations, recall."""

from __future__ import annotations

from typing import Any

import pytest

from cem.surveys import logic
from cem.surveys.definition import Calculation, Condition, ConditionGroup, parse_definition
from tests.surveys.samples import sample_definition

CTX = logic.Context(
    answers={
        "nps": 7,
        "issues": ["price", "other"],
        "name": "Ana Lima",
        "when": "2024-05-01",
        "grid": {"speed": 4},
        "blank": "",
    },
    hidden={"plan": "Pro"},
    attributes={"country": "BR", "spend": "120.5"},
    variables={"score": 3},
)

OPERATOR_CASES: list[tuple[str, str, str, Any, bool]] = [
    ("question", "nps", "equals", 7, True),
    ("question", "nps", "equals", "7", True),
    ("question", "nps", "not_equals", 7, False),
    ("question", "nps", "greater_than", 6, True),
    ("question", "nps", "greater_than", 7, False),
    ("question", "nps", "greater_or_equal", 7, True),
    ("question", "nps", "less_than", 7, False),
    ("question", "nps", "less_or_equal", 7, True),
    ("question", "nps", "is_answered", None, True),
    ("question", "blank", "is_skipped", None, True),
    ("question", "ghost", "is_skipped", None, True),
    ("question", "ghost", "equals", 1, False),
    ("question", "ghost", "not_equals", 1, True),  # negations hold for unanswered questions
    ("question", "ghost", "greater_than", -1, False),
    ("question", "name", "contains", "lima", True),
    ("question", "name", "not_contains", "silva", True),
    ("question", "name", "greater_than", 1, False),  # text is not a number
    ("question", "issues", "contains", "price", True),
    ("question", "issues", "equals", ["other", "price"], True),
    ("question", "issues", "equals", ["price"], False),
    ("question", "issues", "includes_any", ["speed", "other"], True),
    ("question", "issues", "includes_all", ["price", "speed"], False),
    ("question", "issues", "includes_all", ["price", "other"], True),
    ("question", "when", "before", "2024-06-01", True),
    ("question", "when", "after", "2024-06-01", False),
    ("question", "when", "after", "not a date", False),
    ("question", "grid.speed", "greater_or_equal", 4, True),
    ("hidden", "plan", "equals", "pro", True),  # case-insensitive text
    ("attribute", "country", "equals", "BR", True),
    ("attribute", "spend", "greater_than", 100, True),
    ("variable", "score", "less_than", 5, True),
]


@pytest.mark.parametrize(("source", "ref", "operator", "value", "expected"), OPERATOR_CASES)
def test_operators(source: str, ref: str, operator: str, value: Any, expected: bool) -> None:
    condition = Condition(source=source, ref=ref, operator=operator, value=value)  # type: ignore[arg-type]
    assert logic.evaluate(condition, CTX) is expected


def test_nested_and_or_groups() -> None:
    yes = Condition(ref="nps", operator="equals", value=7)
    no = Condition(ref="nps", operator="equals", value=1)
    assert logic.evaluate(ConditionGroup(combinator="or", conditions=[no, yes]), CTX)
    assert not logic.evaluate(ConditionGroup(combinator="and", conditions=[no, yes]), CTX)
    nested = ConditionGroup(conditions=[yes, ConditionGroup(combinator="or", conditions=[no, yes])])
    assert logic.evaluate(nested, CTX)
    assert logic.evaluate(None, CTX)


@pytest.mark.parametrize(
    ("nps", "plan", "after_p1", "after_p3"),
    [(3, "basic", "p2", "thanks"), (9, "basic", "p3", "thanks"), (10, "pro", "p3", "promoter_end")],
)
def test_jumps(nps: int, plan: str, after_p1: str, after_p3: str) -> None:
    defn = parse_definition(sample_definition())
    ctx = logic.Context(answers={"nps": nps}, hidden={"plan": plan})
    assert logic.next_target(defn, defn.pages[0], ctx).page_id == after_p1
    target = logic.next_target(defn, defn.pages[2], ctx)
    assert target.finished and target.ending_id == after_p3


def test_hidden_pages_are_skipped_and_display_logic_hides_questions() -> None:
    raw = sample_definition()
    raw["pages"][1]["display_logic"] = {"source": "hidden", "ref": "plan", "operator": "equals", "value": "basic"}
    defn = parse_definition(raw)
    assert logic.next_target(defn, defn.pages[0], logic.Context(answers={"nps": 2})).page_id == "p3"
    ctx = logic.Context(answers={"nps": 6}, hidden={"plan": "basic"})
    assert [q.id for q in logic.visible_questions(defn.pages[1], ctx)] == ["issues"]


def test_calculations() -> None:
    raw = sample_definition()
    raw["variables"].append({"id": "label", "type": "text", "initial": ""})
    defn = parse_definition(raw)
    ctx = logic.Context(answers={"nps": 8}, hidden={"plan": "pro"}, variables=logic.initial_variables(defn))
    calcs = [
        *defn.pages[0].calculations,
        Calculation(variable="score", op="multiply", operand={"value": 2}),  # type: ignore[arg-type]
        Calculation(variable="score", op="divide", operand={"value": 0}),  # type: ignore[arg-type]
        Calculation(variable="label", op="set", operand={"source": "hidden", "ref": "plan"}),  # type: ignore[arg-type]
        Calculation(variable="label", op="append", operand={"value": "!"}),  # type: ignore[arg-type]
        Calculation(variable="score", op="subtract", operand={"source": "question", "ref": "ghost"}),  # type: ignore[arg-type]
    ]
    logic.apply_calculations(defn, calcs, ctx)
    assert ctx.variables == {"score": 216, "label": "pro!"}


def test_recall() -> None:
    defn = parse_definition(sample_definition())
    ctx = logic.Context(
        answers={"nps": 9, "issues": ["price", "speed"]}, hidden={"plan": "pro"}, variables={"score": 2.5}
    )
    template = "{{nps}} / {{issues}} / {{hidden.plan}} / {{var.score}} / {{name}}."
    assert logic.recall(template, defn, ctx, "de") == "9 / Preis, Tempo / pro / 2.5 / ."
    assert logic.recall(template, defn, ctx, "en") == "9 / Price, Speed / pro / 2.5 / ."
