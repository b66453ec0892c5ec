"""The reading machinery the LimeSurvey and SurveyJS condition parsers share: a token stream over one expression
and the left-to-right chains of `and`/`or`. Each parser (limesurvey.py, surveyjs.py) brings its own token pattern,
grammar and error type."""

from __future__ import annotations

import re
from collections.abc import Callable

from cem.interchange.importers.ir import IRCondition

Token = tuple[str, str]  # (kind: the pattern's group name, text)


class TokenStream:
    """An expression cut into tokens by `pattern` (one named group per kind); `error` is what a parser raises."""

    error: type[Exception] = ValueError
    end_message = "unexpected end"  # taking a token past the last one
    or_token: Token
    and_token: Token

    def __init__(self, text: str, pattern: re.Pattern[str], normalize: Callable[[str, str], Token]) -> None:
        self.tokens: list[Token] = []
        pos = 0
        while pos < len(text):
            if not text[pos:].strip():
                break
            match = pattern.match(text, pos)
            if not match:
                raise self.error(f"cannot read {text[pos : pos + 20]!r}")
            kind = match.lastgroup or ""
            self.tokens.append(normalize(kind, match.group(kind)))
            pos = match.end()
        self.pos = 0

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None) -> Token:
        """The next token; with `value`, it must be that text."""
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise self.error(f"expected {value}" if value is not None else self.end_message)
        self.pos += 1
        return token

    def parse(self) -> IRCondition:
        """The whole expression: a disjunction that uses every token."""
        node = self.disjunction()
        token = self.peek()
        if token is not None:
            raise self.error(f"unexpected {token[1]!r}")
        return node

    def disjunction(self) -> IRCondition:
        return self.chain(self.or_token, "or", self.conjunction)

    def conjunction(self) -> IRCondition:
        return self.chain(self.and_token, "and", self.factor)

    def factor(self) -> IRCondition:
        """One operand of `and`: what each format's grammar puts there."""
        raise NotImplementedError

    def chain(self, separator: Token, kind: str, part: Callable[[], IRCondition]) -> IRCondition:
        """part (separator part)*: one part alone, or an IRCondition of `kind` ("and"/"or") over all of them."""
        items = [part()]
        while self.peek() == separator:
            self.take()
            items.append(part())
        return items[0] if len(items) == 1 else IRCondition(kind=kind, children=items)  # type: ignore[arg-type]
