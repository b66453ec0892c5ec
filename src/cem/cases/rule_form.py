"""The rule editor's form, without JSON: condition rows (field, operator, value) in an ALL/ANY group with
optional ANY/ALL sub-groups one level down, turned into the condition tree cem.cases.conditions validates, and back.

Every problem is reported per row in words ("Row 2: the regular expression does not compile: ..."), never as a
JSON path: the rows are what the person sees. A stored tree deeper than the form can show (from the API) is
reported as not editable here and shown read-only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from cem.cases.conditions import (
    CustomerAttributeCondition,
    Group,
    Leaf,
    ScoreCondition,
    SentimentScoreCondition,
    TextCondition,
    ValueCondition,
)

FIELDS: dict[str, str] = {
    "score:nps": "NPS score",
    "score:csat": "CSAT score",
    "score:ces": "CES score",
    "score:rating": "Rating",
    "score:number": "Number answer",
    "score_field": "Answer to question (id)",
    "source_type": "Source type",
    "source_name": "Source name",
    "survey": "Survey",
    "touchpoint": "Touchpoint",
    "journey_stage": "Journey stage",
    "text": "Text",
    "sentiment_label": "Sentiment label",
    "sentiment_score": "Sentiment score",
    "topic": "Topic",
    "customer_attribute": "Customer attribute",
}
OPS: dict[str, str] = {
    "<": "is less than",
    "<=": "is at most",
    "=": "equals",
    "!=": "is not equal to",
    ">=": "is at least",
    ">": "is more than",
    "is": "is",
    "is_not": "is not",
    "in": "is one of",
    "contains": "contains",
    "matches": "matches the regular expression",
}
NUMBER_OPS = ("<", "<=", "=", "!=", ">=", ">")
VALUE_OPS = ("is", "is_not", "in")
# Which operators each kind of field takes (the form offers all; the server says which fit).
FIELD_OPS: dict[str, tuple[str, ...]] = {
    **{name: NUMBER_OPS for name in FIELDS if name.startswith("score")},
    "sentiment_score": NUMBER_OPS,
    "text": ("contains", "matches"),
    "customer_attribute": ("is", "is_not", "<", "<=", ">=", ">"),
    **dict.fromkeys(("source_type", "source_name", "survey", "touchpoint", "journey_stage"), VALUE_OPS),
    **dict.fromkeys(("sentiment_label", "topic"), VALUE_OPS),
}
NEEDS_KEY = {"score_field": "the question id", "customer_attribute": "the customer attribute"}
MAX_ROWS = 50
MAX_GROUPS = 10
_LEAF: TypeAdapter[Any] = TypeAdapter(Leaf)


@dataclass
class Row:
    """One condition row as typed; `group` 0 is the rule's own group, 1.. its sub-groups."""

    field: str = "score:nps"
    key: str = ""
    op: str = "<="
    value: str = ""
    group: int = 0


@dataclass
class ConditionForm:
    match: str = "and"  # the rule's own group: and = ALL, or = ANY
    rows: list[Row] = field(default_factory=lambda: [Row()])
    group_ops: dict[int, str] = field(default_factory=dict)  # sub-group -> and/or

    def numbered(self, group: int) -> list[tuple[int, Row]]:
        """The rows of one group with their index (rows are numbered 1.. on the page in index order)."""
        return [(i, r) for i, r in enumerate(self.rows) if r.group == group]

    def groups(self) -> list[int]:
        return sorted(self.group_ops)


@dataclass
class Problems:
    rows: dict[int, str] = field(default_factory=dict)  # row index -> "Row n: ..."
    general: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.rows or self.general)

    def all(self) -> list[str]:
        return [*self.general, *(self.rows[i] for i in sorted(self.rows))]


# -- reading the posted form ----------------------------------------------------------------------------------


def parse(data: Mapping[str, Any]) -> ConditionForm:
    """The form as posted (rows-N-field, rows-N-key, rows-N-op, rows-N-value, rows-N-group, groups-N-op)."""
    indexes = sorted({int(m.group(1)) for k in data if (m := re.fullmatch(r"rows-(\d{1,3})-field", k))})
    rows = [
        Row(
            field=str(data.get(f"rows-{i}-field", "")),
            key=str(data.get(f"rows-{i}-key", "")).strip(),
            op=str(data.get(f"rows-{i}-op", "")),
            value=str(data.get(f"rows-{i}-value", "")).strip(),
            group=_int(data.get(f"rows-{i}-group"), 0),
        )
        for i in indexes[:MAX_ROWS]
    ]
    group_ops = {
        int(m.group(1)): "or" if str(v) == "or" else "and"
        for k, v in data.items()
        if (m := re.fullmatch(r"groups-(\d{1,2})-op", k)) and int(m.group(1)) > 0
    }
    for row in rows:
        if row.group not in group_ops:
            row.group = 0
    form = ConditionForm(match="or" if data.get("match") == "or" else "and", rows=rows, group_ops=group_ops)
    _in_page_order(form)
    return form


def _in_page_order(form: ConditionForm) -> None:
    """The page shows the rule's own rows, then each group's: keep the list in that order, so "Row n" in a
    message is the n-th row on the page."""
    form.rows.sort(key=lambda r: r.group)


def _int(value: Any, default: int) -> int:
    try:
        return int(str(value))
    except ValueError:
        return default


def edit(form: ConditionForm, command: str) -> None:
    """The editor's buttons without JavaScript: add-row:G, remove-row:N, add-group, remove-group:G."""
    name, _, arg = command.partition(":")
    if name == "add-row" and len(form.rows) < MAX_ROWS:
        group = _int(arg, 0)
        form.rows.append(Row(group=group if group in form.group_ops else 0))
    elif name == "remove-row" and 0 <= _int(arg, -1) < len(form.rows):
        del form.rows[_int(arg, -1)]
    elif name == "add-group" and len(form.group_ops) < MAX_GROUPS and len(form.rows) < MAX_ROWS:
        group = max(form.group_ops, default=0) + 1
        form.group_ops[group] = "or"
        form.rows.append(Row(group=group))
    elif name == "remove-group":
        group = _int(arg, 0)
        form.group_ops.pop(group, None)
        form.rows = [r for r in form.rows if r.group != group]
    _in_page_order(form)


# -- form -> condition tree -------------------------------------------------------------------------------------


def to_condition(form: ConditionForm) -> tuple[Group | None, Problems]:
    """The validated tree, or the problems located at their rows (then the tree is None)."""
    problems = Problems()
    nodes: dict[int, list[dict[str, Any]]] = {0: [], **{g: [] for g in form.group_ops}}
    for index, row in enumerate(form.rows):
        try:
            nodes[row.group].append(leaf_of(row))
        except ValueError as exc:
            problems.rows[index] = f"Row {index + 1}: {exc}"
    if problems:
        return None, problems
    conditions: list[dict[str, Any]] = list(nodes[0])
    conditions += [{"op": form.group_ops[g], "conditions": nodes[g]} for g in form.groups() if nodes[g]]
    if not conditions:
        problems.general.append("Add at least one condition.")
        return None, problems
    try:
        return Group.model_validate({"op": form.match, "conditions": conditions}), problems
    except ValidationError as exc:
        problems.general.extend(_sentence(e["msg"]) for e in exc.errors())
        return None, problems


def leaf_of(row: Row) -> dict[str, Any]:
    """One row as a condition leaf; ValueError in words when the row cannot be one."""
    label = FIELDS.get(row.field)
    if label is None:
        raise ValueError("choose what the condition looks at.")
    if row.op not in FIELD_OPS[row.field]:
        fits = ", ".join(f"“{OPS[o]}”" for o in FIELD_OPS[row.field])
        raise ValueError(f"“{OPS.get(row.op, row.op)}” does not apply to {label}; use {fits}.")
    if row.field in NEEDS_KEY and not row.key:
        raise ValueError(f"name {NEEDS_KEY[row.field]}.")
    if not row.value:
        raise ValueError("enter a value.")
    leaf: dict[str, Any] = {"field": row.field, "op": row.op, "value": row.value}
    if row.field.startswith("score"):
        leaf = {"field": "score", "op": row.op, "value": _number(row.value)}
        if row.field == "score_field":
            leaf["field_id"] = row.key
        else:
            leaf["field_type"] = row.field.partition(":")[2]
    elif row.field == "sentiment_score":
        leaf["value"] = _number(row.value)
        if not -1 <= leaf["value"] <= 1:
            raise ValueError("a sentiment score lies between -1 and 1.")
    elif row.field == "customer_attribute":
        leaf["key"] = row.key
    elif row.op == "in":
        leaf["value"] = [v.strip() for v in row.value.split(",") if v.strip()]
    try:
        return dict(_LEAF.validate_python(leaf).model_dump(mode="json", exclude_none=True))
    except ValidationError as exc:
        raise ValueError(_sentence(exc.errors()[0]["msg"])) from None


def _number(text: str) -> float:
    try:
        return float(text.replace(",", "."))
    except ValueError:
        raise ValueError(f"“{text}” is not a number.") from None


def _sentence(msg: str) -> str:
    """Pydantic's "Value error, The regular ..." -> "the regular ..." (the row number goes first)."""
    msg = msg.removeprefix("Value error, ").strip()
    msg = msg[:1].lower() + msg[1:]
    return msg if msg.endswith(".") else msg + "."


# -- condition tree -> form and words ---------------------------------------------------------------------------


def from_condition(condition: Mapping[str, Any]) -> ConditionForm | None:
    """The form showing a stored tree, or None when the form cannot show it (deeper nesting, mixed leaves)."""
    group = Group.model_validate(condition)
    form = ConditionForm(match=group.op, rows=[], group_ops={})
    for node in group.conditions:
        if isinstance(node, Group):
            if any(isinstance(c, Group) for c in node.conditions):
                return None
            number = len(form.group_ops) + 1
            form.group_ops[number] = node.op
            members = [row_of(c) for c in node.conditions]
            if any(r is None for r in members):
                return None
            form.rows += [Row(r.field, r.key, r.op, r.value, number) for r in members if r is not None]
            continue
        row = row_of(node)
        if row is None:
            return None
        form.rows.append(row)
    return form


def row_of(leaf: Any) -> Row | None:
    if isinstance(leaf, ScoreCondition):
        if leaf.field_id is not None and leaf.field_type is not None:
            return None
        name = "score_field" if leaf.field_id else f"score:{leaf.field_type}"
        return Row(name, leaf.field_id or "", leaf.op, f"{leaf.value:g}")
    if isinstance(leaf, SentimentScoreCondition):
        return Row("sentiment_score", "", leaf.op, f"{leaf.value:g}")
    if isinstance(leaf, CustomerAttributeCondition):
        return Row("customer_attribute", leaf.key, leaf.op, _plain(leaf.value))
    if isinstance(leaf, TextCondition | ValueCondition):
        value = ", ".join(leaf.value) if isinstance(leaf.value, list) else leaf.value
        return Row(leaf.field, "", leaf.op, value)
    return None


def _plain(value: str | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:g}" if isinstance(value, float) else value


def summary(condition: Mapping[str, Any]) -> str:
    """The tree in words: `NPS score is at most 6 and (text contains “refund” or topic is billing)`."""
    try:
        return _words(Group.model_validate(condition), top=True)
    except ValidationError:
        return "(a condition this version cannot read)"


def _words(group: Group, *, top: bool = False) -> str:
    parts = [_words(c) if isinstance(c, Group) else _leaf_words(c) for c in group.conditions]
    joined = f" {'and' if group.op == 'and' else 'or'} ".join(parts)
    return joined if top or len(parts) == 1 else f"({joined})"


def _leaf_words(leaf: Any) -> str:
    row = row_of(leaf)
    if row is None:  # a score named by both type and question id
        return f"{leaf.field_type} answer to {leaf.field_id} {OPS[leaf.op]} {leaf.value:g}"
    name = FIELDS[row.field]
    if row.field in NEEDS_KEY:
        name = f"answer to “{row.key}”" if row.field == "score_field" else f"customer {row.key}"
    value = f"“{row.value}”" if row.field == "text" else row.value
    return f"{name} {OPS[row.op]} {value}"
