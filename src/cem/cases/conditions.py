"""Alert rule conditions: the JSON a rule stores, validated as pydantic models, and their evaluation on one
submission (all records of one act of giving feedback: an NPS answer and its comment match together).

A leaf matches a submission when any of its records satisfies it; groups combine leaves with AND/OR and nest.
Evaluation returns the matched leaves with the values that matched: the firing's logged reason.

Regular expressions use the `regex` module, which takes a per-call timeout (the stdlib `re` has none): a
pattern is refused at save time when it does not compile, is too long, or is slow on adversarial probes, and a
match that still runs longer than MATCH_TIMEOUT_SECONDS counts as no match, so ingest never hangs on a rule.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import regex
from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from cem.schemas import InputModel, Key

MAX_PATTERN = 300
MAX_LEAVES = 50
MAX_DEPTH = 5
MATCH_TIMEOUT_SECONDS = 0.05
PROBE_TIMEOUT_SECONDS = 0.05
PROBE_LENGTH = 2000


def _probes(pattern: str) -> list[str]:
    """Inputs that make backtracking patterns explode: long runs of the pattern's own literal characters (and of
    what \\w, \\d, \\s and . match), each ended by a character nothing expects, so the match must fail late."""
    chars = sorted({c for c in pattern if c.isalnum()} | {"a", "1", " ", "-"})[:40]
    runs = [c * PROBE_LENGTH + "\x00" for c in chars]
    runs += [(a + b) * (PROBE_LENGTH // 2) + "\x00" for a, b in itertools.pairwise(chars)][:20]
    return runs


NumOp = Literal["<", "<=", "=", "!=", ">=", ">"]
_NUM_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    "=": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    ">": operator.gt,
}
Word = Annotated[str, Field(min_length=1, max_length=200)]


def compile_pattern(pattern: str) -> regex.Pattern[str]:
    """The compiled pattern, or ValueError saying why it is refused (syntax, length or slowness)."""
    if len(pattern) > MAX_PATTERN:
        raise ValueError(f"A regular expression may be at most {MAX_PATTERN} characters long.")
    try:
        compiled = regex.compile(pattern, regex.IGNORECASE)
    except regex.error as exc:
        raise ValueError(f"The regular expression does not compile: {exc}.") from None
    for probe in _probes(pattern):
        try:
            compiled.search(probe, timeout=PROBE_TIMEOUT_SECONDS)
        except TimeoutError:
            raise ValueError(
                "The regular expression is catastrophically slow on some inputs (nested repetition such as "
                "(a+)+); simplify it."
            ) from None
    return compiled


class ScoreCondition(InputModel):
    """A typed answer's number: `nps <= 6`, `csat <= 2`, or one question's answer by its field id."""

    field: Literal["score"]
    field_type: Literal["nps", "csat", "ces", "rating", "number"] | None = None
    field_id: Key | None = None
    op: NumOp
    value: float

    @model_validator(mode="after")
    def _names_the_score(self) -> ScoreCondition:
        if self.field_type is None and self.field_id is None:
            raise ValueError("Name the score by field_type (nps, csat, ces, rating, number) or field_id.")
        return self


class ValueCondition(InputModel):
    """Where the feedback came from or what enrichment found: one value or any of several."""

    field: Literal["source_type", "source_name", "survey", "touchpoint", "journey_stage", "sentiment_label", "topic"]
    op: Literal["is", "is_not", "in"] = "is"
    value: Word | list[Word]

    @model_validator(mode="after")
    def _list_for_in(self) -> ValueCondition:
        if (self.op == "in") != isinstance(self.value, list):
            raise ValueError("Use a list of values with op 'in', and a single value with 'is' and 'is_not'.")
        return self


class TextCondition(InputModel):
    """The feedback text contains a keyword (case-insensitive) or matches a regular expression."""

    field: Literal["text"]
    op: Literal["contains", "matches"]
    value: Annotated[str, Field(min_length=1, max_length=MAX_PATTERN)]

    @field_validator("value")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("The keyword or pattern is blank.")
        return value

    @model_validator(mode="after")
    def _pattern_compiles(self) -> TextCondition:
        if self.op == "matches":
            compile_pattern(self.value)
        return self


class SentimentScoreCondition(InputModel):
    field: Literal["sentiment_score"]
    op: NumOp
    value: Annotated[float, Field(ge=-1, le=1)]


class CustomerAttributeCondition(InputModel):
    """A customer attribute (`plan = enterprise`); a number compares numerically when both sides are numbers."""

    field: Literal["customer_attribute"]
    key: Key
    op: Literal["is", "is_not", "<", "<=", ">=", ">"] = "is"
    value: str | float | bool


Leaf = Annotated[
    ScoreCondition | ValueCondition | TextCondition | SentimentScoreCondition | CustomerAttributeCondition,
    Field(discriminator="field"),
]


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "group" if "conditions" in value else "leaf"
    return "group" if isinstance(value, Group) else "leaf"


Node = Annotated[Annotated["Group", Tag("group")] | Annotated[Leaf, Tag("leaf")], Discriminator(_kind)]


class Group(InputModel):
    """Conditions joined by AND (all must match) or OR (any); a condition may be a nested group."""

    op: Literal["and", "or"] = "and"
    conditions: list[Node] = Field(min_length=1, max_length=MAX_LEAVES)

    @model_validator(mode="after")
    def _bounded(self) -> Group:
        if depth(self) > MAX_DEPTH:
            raise ValueError(f"Groups may nest at most {MAX_DEPTH} deep.")
        if len(list(leaves(self))) > MAX_LEAVES:
            raise ValueError(f"A rule may have at most {MAX_LEAVES} conditions.")
        return self


def depth(group: Group) -> int:
    return 1 + max((depth(c) for c in group.conditions if isinstance(c, Group)), default=0)


def leaves(group: Group) -> list[Any]:
    found: list[Any] = []
    for c in group.conditions:
        found.extend(leaves(c) if isinstance(c, Group) else [c])
    return found


def needs_enrichment(group: Group) -> bool:
    """Whether a condition reads what text enrichment adds (sentiment, topics)."""
    return any(getattr(leaf, "field", "") in ("sentiment_label", "sentiment_score", "topic") for leaf in leaves(group))


# -- evaluation -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordFacts:
    """One stored record as conditions see it."""

    record_id: int
    field_id: str
    field_type: str
    value_number: float | None
    value_text: str | None
    sentiment_label: str | None = None
    sentiment_score: float | None = None
    topics: tuple[str, ...] = ()


@dataclass(frozen=True)
class SubmissionFacts:
    """One submission: its source, customer, touchpoint and stage keys, and its records."""

    source_type: str
    source_name: str
    submission_id: str
    customer_id: int | None
    records: Sequence[RecordFacts]
    touchpoint: str | None = None
    journey_stage: str | None = None
    customer_attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Match:
    condition: str
    value: Any
    record_id: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {"condition": self.condition, "value": self.value, "record_id": self.record_id}


class Evaluator:
    """Evaluates one condition tree on many submissions, compiling its patterns once."""

    def __init__(self, group: Group) -> None:
        self.group = group
        self._patterns = {
            leaf.value: regex.compile(leaf.value, regex.IGNORECASE)
            for leaf in leaves(group)
            if isinstance(leaf, TextCondition) and leaf.op == "matches"
        }

    def evaluate(self, facts: SubmissionFacts) -> list[Match] | None:
        """The matched leaves (the reason) when the tree matches, else None."""
        return self._group(self.group, facts)

    def _group(self, group: Group, facts: SubmissionFacts) -> list[Match] | None:
        found: list[Match] = []
        for node in group.conditions:
            matched = self._group(node, facts) if isinstance(node, Group) else self._leaf(node, facts)
            if group.op == "or" and matched is not None:
                return matched
            if group.op == "and":
                if matched is None:
                    return None
                found.extend(matched)
        return found if group.op == "and" else None

    def _leaf(self, leaf: Any, facts: SubmissionFacts) -> list[Match] | None:
        label = describe(leaf)
        if isinstance(leaf, ScoreCondition):
            for r in facts.records:
                if r.value_number is None or r.field_type not in ("nps", "csat", "ces", "rating", "number"):
                    continue
                if leaf.field_type not in (None, r.field_type) or leaf.field_id not in (None, r.field_id):
                    continue
                if _NUM_OPS[leaf.op](r.value_number, leaf.value):
                    return [Match(label, r.value_number, r.record_id)]
            return None
        if isinstance(leaf, TextCondition):
            return self._text(leaf, label, facts)
        if isinstance(leaf, SentimentScoreCondition):
            for r in facts.records:
                if r.sentiment_score is not None and _NUM_OPS[leaf.op](r.sentiment_score, leaf.value):
                    return [Match(label, round(r.sentiment_score, 4), r.record_id)]
            return None
        if isinstance(leaf, CustomerAttributeCondition):
            actual = facts.customer_attributes.get(leaf.key)
            return [Match(label, actual)] if _attribute_matches(leaf, actual) else None
        return _value(leaf, label, facts)

    def _text(self, leaf: TextCondition, label: str, facts: SubmissionFacts) -> list[Match] | None:
        for r in facts.records:
            if not r.value_text:
                continue
            if leaf.op == "contains":
                at = r.value_text.casefold().find(leaf.value.casefold())
                if at >= 0:
                    return [Match(label, r.value_text[at : at + len(leaf.value)], r.record_id)]
                continue
            try:
                hit = self._patterns[leaf.value].search(r.value_text, timeout=MATCH_TIMEOUT_SECONDS)
            except TimeoutError:
                continue  # bounded: a pathological text never holds up evaluation
            if hit is not None:
                return [Match(label, hit.group(0)[:200], r.record_id)]
        return None


def _value(leaf: ValueCondition, label: str, facts: SubmissionFacts) -> list[Match] | None:
    wanted = {v.casefold() for v in (leaf.value if isinstance(leaf.value, list) else [leaf.value])}
    if leaf.field in ("sentiment_label", "topic"):
        for r in facts.records:
            values = [r.sentiment_label] if leaf.field == "sentiment_label" else list(r.topics)
            present = [v for v in values if v is not None]
            if not present:
                continue
            hit = next((v for v in present if v.casefold() in wanted), None)
            if leaf.op != "is_not" and hit is not None:
                return [Match(label, hit, r.record_id)]
            if leaf.op == "is_not" and hit is None:
                return [Match(label, present[0], r.record_id)]
        return None
    actual = _submission_value(leaf.field, facts)
    if actual is None:
        return [Match(label, None)] if leaf.op == "is_not" else None
    inside = actual.casefold() in wanted
    return [Match(label, actual)] if inside != (leaf.op == "is_not") else None


def _submission_value(name: str, facts: SubmissionFacts) -> str | None:
    if name == "survey":
        return facts.source_name if facts.source_type == "survey" else None
    values = {
        "source_type": facts.source_type,
        "source_name": facts.source_name,
        "touchpoint": facts.touchpoint,
        "journey_stage": facts.journey_stage,
    }
    return values.get(name)


def _attribute_matches(leaf: CustomerAttributeCondition, actual: Any) -> bool:
    if leaf.op in ("is", "is_not"):
        same = actual is not None and str(actual).casefold() == str(leaf.value).casefold()
        if isinstance(actual, bool) or isinstance(leaf.value, bool):
            same = actual is leaf.value or str(actual).casefold() == str(leaf.value).casefold()
        return same if leaf.op == "is" else not same
    try:
        return _NUM_OPS[leaf.op](float(actual), float(leaf.value))
    except (TypeError, ValueError):
        return False


def describe(leaf: Any) -> str:
    """A leaf as a person reads it: `nps <= 6`, `text matches 'refund|chargeback'`, `customer.plan is enterprise`."""
    if isinstance(leaf, ScoreCondition):
        name = leaf.field_id or leaf.field_type
        return f"{name} {leaf.op} {leaf.value:g}"
    if isinstance(leaf, CustomerAttributeCondition):
        return f"customer.{leaf.key} {leaf.op} {leaf.value}"
    value = leaf.value if not isinstance(leaf.value, list) else "[" + ", ".join(leaf.value) + "]"
    if isinstance(leaf, TextCondition):
        return f"text {leaf.op} {value!r}"
    return f"{leaf.field} {leaf.op} {value}"
