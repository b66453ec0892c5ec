"""LimeSurvey Expression Manager relevance -> cem conditions: and/or/parentheses over comparisons and is_empty(),
the subset cem can hold. Anything else raises `Unsupported` with the reason, which the importer
(`cem.interchange.importers.limesurvey`) turns into a warning naming the question and the expression."""

from __future__ import annotations

import re
from typing import Any

from cem.interchange.importers.expressions import Token, TokenStream
from cem.interchange.importers.ir import IRCondition


class Unsupported(Exception):
    pass


_TOKEN = re.compile(
    r"""\s*(?:(?P<str>"[^"]*"|'[^']*')|(?P<num>-?\d+(?:\.\d+)?(?![\w]))|(?P<op>==|!=|>=|<=|&&|\|\||[()<>!,])|
        (?P<name>[A-Za-z0-9_][\w.]*))""",
    re.VERBOSE,
)
_WORD_OPS = {"and": "&&", "or": "||", "eq": "==", "ne": "!=", "gt": ">", "lt": "<", "ge": ">=", "le": "<="}


def _operator_word(kind: str, value: str) -> Token:
    """LimeSurvey also spells the operators as words (and, or, eq, ...)."""
    if kind == "name" and value.lower() in _WORD_OPS:
        return "op", _WORD_OPS[value.lower()]
    return kind, value


_COMPARE = {
    "==": "equals",
    "!=": "not_equals",
    ">": "greater_than",
    "<": "less_than",
    ">=": "greater_or_equal",
    "<=": "less_or_equal",
}


class ExpressionParser(TokenStream):
    """and/or/parentheses over comparisons and is_empty() — the subset of LimeSurvey expressions cem can hold."""

    error = Unsupported
    end_message = "expected more"
    or_token = ("op", "||")
    and_token = ("op", "&&")

    def __init__(self, text: str, resolve: Any) -> None:
        super().__init__(text, _TOKEN, _operator_word)
        self.resolve = resolve

    def factor(self) -> IRCondition:
        token = self.peek()
        if token == ("op", "("):
            self.take()
            node = self.disjunction()
            self.take(")")
            return node
        negate = False
        if token == ("op", "!"):
            self.take()
            negate = True
            token = self.peek()
        if token is not None and token[0] == "name" and token[1] == "is_empty":
            self.take()
            self.take("(")
            ref = self.reference(self.take()[1])
            self.take(")")
            return IRCondition(ref=ref[0], operator="is_answered" if negate else "is_skipped")
        if negate:
            raise Unsupported("'!' is only supported before is_empty()")
        return self.comparison()

    def reference(self, name: str) -> tuple[str, str | None, str]:
        resolved = self.resolve(name)
        if resolved is None:
            raise Unsupported(f"{name!r} is not a question of this survey")
        code, sub, kind = resolved
        if kind == "*":
            raise Unsupported(f"{name!r} is an equation, whose formula is not imported")
        if sub and kind not in ("M", "P"):
            return f"{code}.{sub}", None, kind  # an array row: question.row
        return code, sub, kind

    def comparison(self) -> IRCondition:
        left = self.take()
        if left[0] != "name" or self.peek() is None or self.peek()[1] == "(":  # type: ignore[index]
            raise Unsupported(f"{left[1]!r} is a function or value, not a question")
        ref, sub, _kind = self.reference(left[1])
        op_token = self.take()
        if op_token[1] not in _COMPARE:
            raise Unsupported(f"operator {op_token[1]!r}")
        kind, raw = self.take()
        if kind not in ("str", "num"):
            raise Unsupported("comparison with another question")
        value = raw[1:-1] if kind == "str" else raw
        operator = _COMPARE[op_token[1]]
        if sub is not None:  # a multiple-choice option: "Y" when ticked
            ticked = (operator == "equals") == (value == "Y")
            return IRCondition(
                ref=ref, operator="includes_any" if ticked else "not_contains", value=[sub] if ticked else sub
            )
        if value == "" and operator in ("equals", "not_equals"):
            return IRCondition(ref=ref, operator="is_skipped" if operator == "equals" else "is_answered")
        return IRCondition(ref=ref, operator=operator, value=value)
