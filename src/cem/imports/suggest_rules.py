"""The rules that guess a mapping, one small function per mapping key, over a Guess (column profiles, the columns
already used, the mapping so far and its notes). cem/imports/suggest.py runs them per target."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from cem.imports.profile import ColumnProfile, scale_hint

# Scales used when a header states none; the note says so. NPS is 0-10 by definition.
DEFAULT_SCALES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7), "rating": (1, 5)}
STANDARD_TOPS = (3, 5, 7, 10)

UniqueCheck = Callable[[list[str]], int | None]  # columns -> line of the first repeated value, or None


@dataclass
class Guess:
    """The state the rules share: column profiles, columns already used, the mapping so far and its notes."""

    columns: list[ColumnProfile]
    check_unique: UniqueCheck | None = None
    source_name: str = "import"
    used: set[str] = field(default_factory=set)
    mapping: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def free(self) -> list[ColumnProfile]:
        return [c for c in self.columns if c.name not in self.used]

    def take(self, column: ColumnProfile) -> str:
        self.used.add(column.name)
        return column.name

    def first(
        self, columns: Iterable[ColumnProfile], *tests: Callable[[ColumnProfile], bool], reuse: str | None = None
    ) -> ColumnProfile | None:
        """The first free column (or `reuse`) with values passing the first test that any passes (tests in order
        of preference)."""
        pool = [c for c in columns if (c.name not in self.used or c.name == reuse) and c.values]
        for test in tests:
            found = next((c for c in pool if test(c)), None)
            if found is not None:
                return found
        return None


# -- header words --------------------------------------------------------------------------------


def named(*names: str) -> Callable[[ColumnProfile], bool]:
    """The header is one of these (snake_case)."""
    return lambda c: c.norm in names


def has_word(*words: str) -> Callable[[ColumnProfile], bool]:
    """The header contains one of these words."""
    return lambda c: any(w in c.words for w in words)


CUSTOMER_WORDS = ("customer", "user", "client", "account", "contact", "person", "member", "author")
ID_NAMES = ("submission_id", "response_id", "review_id", "ticket_id", "ticket", "case_id", "unique_key", "id")
ID_SUFFIXES = frozenset({"id", "uuid", "guid"})
NUMBERED = frozenset({"ticket", "case", "request", "sr", "incident", "review", "response", "unique", "submission"})


def id_like(c: ColumnProfile) -> bool:
    """id, *_id, customerID, ticket, "Ticket Number", 311's "Unique Key" and "Service Request Number"."""
    if not c.words:
        return False
    last = c.words[-1]
    return (
        last in ID_SUFFIXES
        or c.norm in ("ticket", "key")
        or (last in ("number", "no", "nr", "key") and bool(NUMBERED & set(c.words)))
    )


def customer_like(c: ColumnProfile) -> bool:
    return bool(c.words) and c.words[0] in CUSTOMER_WORDS


def email_like(c: ColumnProfile) -> bool:
    """Named email, or every sampled value looks like an address."""
    if {"email", "e_mail", "mail"} & set(c.words) or "e_mail" in c.norm:
        return True
    return bool(c.values) and all(re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v) for v in c.values)


# -- shared rules --------------------------------------------------------------------------------


def submission_id(g: Guess) -> None:
    """A column of ids unique in the sample (and in the file, when checked); else a key of two id columns; else
    the row's content."""
    ids = [c for c in g.columns if id_like(c) and c.values]
    ranked = sorted(ids, key=lambda c: (not named(*ID_NAMES)(c), customer_like(c), g.columns.index(c)))
    repeats: list[str] = []
    for column in ranked:
        if column.unique:
            line = _repeat_line(g, [column.name])
            if line is None:
                g.mapping["submission_id"] = g.take(column)
                return
            repeats.append(f"{column.name} is empty or repeats on a different row at line {line}")
    for pair in _pairs([c for c in ranked if not c.empty]):
        if len({tuple(v) for v in zip(pair[0].values, pair[1].values, strict=True)}) == len(pair[0].values):
            names = [c.name for c in pair]
            if _repeat_line(g, names) is None:
                g.mapping["row_key"] = [g.take(c) for c in pair]
                why = "; ".join(repeats) or "no single id column is unique"
                g.notes.append(f"row_key: {why}; together {' + '.join(names)} identify a row.")
                return
    g.mapping["row_key"] = "content"
    looked = "; ".join(repeats) or "no id-like column is unique in the sample"
    g.notes.append(
        f"row_key: no column holds a unique id ({looked}); each row is keyed by a hash of its "
        "content, so re-importing the file adds nothing but two identical rows count as one. Name columns that "
        'identify a row instead ("row_key": ["col", ...]) if you have them.'
    )


def _repeat_line(g: Guess, columns: list[str]) -> int | None:
    return g.check_unique(columns) if g.check_unique else None


def _pairs(columns: list[ColumnProfile]) -> list[tuple[ColumnProfile, ColumnProfile]]:
    return [(a, b) for i, a in enumerate(columns) for b in columns[i + 1 :]]


def date_column(g: Guess, key: str, names: tuple[str, ...], words: tuple[str, ...]) -> None:
    """`key` <- the best date column; `<key>_format` when the dates are not ISO 8601."""
    dates = [c for c in g.columns if c.date is not None]
    found = g.first(dates, named(*names), *(has_word(w) for w in words), lambda _: True)
    if found is None:
        return
    g.mapping[key] = g.take(found)
    layout = found.date
    assert layout is not None
    if layout.format:
        g.mapping[f"{key}_format"] = layout.format
        if layout.other:
            g.notes.append(
                f"{key}_format: every value of {found.name} reads both as {layout.format} and as {layout.other} "
                f"(e.g. {found.values[0]!r}); {layout.format} was assumed; change it if the day comes first."
            )
    others = [c.name for c in dates if c.name not in g.used]
    if others:
        g.notes.append(f"{key}: {found.name} was chosen; other date columns: {', '.join(others)}.")


def customer_ref(g: Guess) -> dict[str, str] | None:
    """external_id / email / name columns of the customer, if an id or an email is there. The customer id may
    also be the submission id (one answer per customer, as in a churn survey)."""
    ref: dict[str, str] = {}
    ext = g.first(
        g.columns,
        named("customer_id", "customer_external_id", "external_id", "customer_unique_id"),
        lambda c: customer_like(c) and id_like(c),
        reuse=g.mapping.get("submission_id"),
    )
    if ext is not None:
        ref["external_id"] = g.take(ext)
    email = g.first(g.columns, email_like)
    if email is not None:
        ref["email"] = g.take(email)
    if not ref:
        return None
    name = g.first(g.columns, named("name", "customer_name", "full_name", "contact_name", "client_name"))
    if name is not None:
        ref["name"] = g.take(name)
    return ref


def touchpoint(g: Guess) -> None:
    found = g.first(g.columns, has_word("touchpoint", "touchpoints"))
    if found is not None:
        g.mapping["touchpoint"] = g.take(found)
        g.notes.append(f"touchpoint: the values of {found.name} must be keys of touchpoints of the workspace.")


# -- feedback ------------------------------------------------------------------------------------


def source(g: Guess) -> None:
    """source_type from what the header is about (reviews, tickets, tweets, surveys), source_name from the file."""
    words = {w for c in g.columns for w in c.words}
    kinds = (("review", "review"), ("ticket", "ticket"), ("tweet", "social"), ("survey", "survey"))
    g.mapping["source_type"] = next((kind for word, kind in kinds if word in words), "csv")
    g.mapping["source_name"] = g.source_name
    g.notes.append(
        f"source_name: {g.source_name!r} (from the file name); keep one name for every export of this source, as "
        "re-imports skip ids already stored under the same source."
    )


def feedback_customer(g: Guess) -> None:
    ref = customer_ref(g)
    if ref is not None:
        g.mapping["customer"] = ref


def collected_at(g: Guess) -> None:
    names = ("collected_at", "submitted_at", "created_at", "date", "timestamp")
    words = ("answer", "answered", "submitted", "submission", "response", "responded", "completed", "created")
    date_column(g, "collected_at", names, (*words, "creation", "opened", "received"))


def context_rule(key: str, *tests: Callable[[ColumnProfile], bool]) -> Callable[[Guess], None]:
    """`key` <- the first column passing one of `tests` (tests in order of preference)."""

    def rule(g: Guess) -> None:
        found = g.first(g.columns, *tests)
        if found is not None:
            g.mapping[key] = g.take(found)

    rule.__name__ = key
    return rule


def short_values(limit: int) -> Callable[[ColumnProfile], bool]:
    return lambda c: all(len(v) <= limit for v in c.values)


def _both(*tests: Callable[[ColumnProfile], bool]) -> Callable[[ColumnProfile], bool]:
    return lambda c: all(test(c) for test in tests)


# Per-row context by header name. "group" alone is too common ("age group") to mean a team unless it is the header.
channel = context_rule("channel", has_word("channel", "medium", "via"))
agent = context_rule(
    "agent",
    _both(
        has_word("agent", "assignee", "assigned", "owner", "representative", "rep"), lambda c: c.norm != "user_agent"
    ),
)
team = context_rule("team", has_word("team", "queue", "department"), named("group", "assigned_group", "support_group"))
language = context_rule("language", _both(has_word("language", "lang", "locale"), short_values(16)))  # codes: <= 16


SCORE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("nps", ("nps", "recommend", "recommendation", "likelihood", "likely")),
    ("csat", ("csat", "satisfaction", "satisfied")),
    ("ces", ("ces", "effort")),
    ("rating", ("rating", "ratings", "stars", "star", "score", "rate")),
)
TEXT_WORDS: tuple[str, ...] = ("comment", "comments", "feedback", "text", "message", "review", "body", "description")
TEXT_WORDS += ("verbatim", "title", "subject", "remarks", "notes", "complaint", "answer", "content")
CATEGORY_WORDS = frozenset({"type", "category", "kind", "code", "status", "id", "key"})


def fields(g: Guess) -> None:
    """Rating-like numbers (with their scale), free text, choices and true/false columns become fields."""
    entries: list[dict[str, Any]] = []
    for c in g.free():
        entry = _score_field(g, c) or _plain_field(c)
        if entry is not None:
            entries.append({"column": g.take(c), "field_id": _field_id(c, entries), **entry, "label": c.name})
    g.mapping["fields"] = entries
    if not entries:
        g.notes.append("fields: no answer column was recognised; add at least one field.")


def _score_field(g: Guess, c: ColumnProfile) -> dict[str, Any] | None:
    if not c.numbers or c.guessed_type == "boolean":
        return None
    kind = next((k for k, words in SCORE_WORDS if has_word(*words)(c) or c.norm.startswith(words[0])), None)
    if kind is None:
        return None
    if kind == "nps" and not (c.whole_numbers and 0 <= min(c.numbers) and max(c.numbers) <= 10):
        g.notes.append(f"{c.name}: named like NPS but its values are not whole numbers 0-10; imported as a number.")
        return {"field_type": "number"}
    low, high = _scale(g, c, kind)
    return {"field_type": kind, "scale_min": low, "scale_max": high}


def _scale(g: Guess, c: ColumnProfile, kind: str) -> tuple[int, int]:
    """The header's scale, else the type's default; widened (with a note) only when answers fall outside it."""
    seen_low, seen_high = min(c.numbers), max(c.numbers)
    seen = f"answers seen: {_num(seen_low)}-{_num(seen_high)}"
    if kind == "nps":
        return DEFAULT_SCALES["nps"]
    hinted = scale_hint(c.name)
    if hinted is not None:
        outside = sum(not hinted[0] <= n <= hinted[1] for n in c.numbers)
        if outside:
            g.notes.append(f"{c.name}: the header states {hinted[0]}-{hinted[1]} but {outside} answers lie outside.")
        return hinted
    low, high = DEFAULT_SCALES[kind]
    if low <= seen_low and seen_high <= high:
        g.notes.append(
            f"{c.name}: {kind} scale {low}-{high} assumed (the {kind} default; the header names no scale; {seen}); "
            "set scale_min / scale_max if the survey used another."
        )
        return low, high
    low = min(low, 0 if seen_low >= 0 else int(seen_low))
    high = next((top for top in STANDARD_TOPS if seen_high <= top), int(seen_high))
    g.notes.append(
        f"{c.name}: {seen} do not fit the {kind} default {DEFAULT_SCALES[kind][0]}-{DEFAULT_SCALES[kind][1]}; "
        f"{low}-{high} assumed (the smallest standard scale holding them); set the scale the question really had."
    )
    return low, high


def _num(n: float) -> str:
    return str(int(n)) if n.is_integer() else str(n)


def _plain_field(c: ColumnProfile) -> dict[str, Any] | None:
    named_text = has_word(*TEXT_WORDS)(c) and c.words[-1] not in CATEGORY_WORDS  # "Comment", not "Complaint Type"
    if c.guessed_type == "text" or (c.guessed_type == "string" and named_text):
        return {"field_type": "text"}
    if c.guessed_type == "choice":
        return {"field_type": "choice"}
    if c.guessed_type == "boolean":
        return {"field_type": "boolean"}
    return None


def _field_id(c: ColumnProfile, entries: list[dict[str, Any]]) -> str:
    """The header in snake_case, numbered when two headers normalise alike ("Rating" and "rating")."""
    base, taken = c.norm or "field", {e["field_id"] for e in entries}
    number = 1
    candidate = base
    while candidate in taken:
        number += 1
        candidate = f"{base}_{number}"
    return candidate


def metadata(g: Guess) -> None:
    """Every column no rule used is kept as metadata, so nothing of the file is dropped."""
    g.mapping["metadata"] = [g.take(c) for c in g.free()]


FEEDBACK_RULES: tuple[Callable[[Guess], None], ...] = (
    source,
    submission_id,
    feedback_customer,
    collected_at,
    channel,
    touchpoint,
)
FEEDBACK_RULES += (agent, team, language, fields, metadata)


# -- customers -----------------------------------------------------------------------------------


def customer_identity(g: Guess) -> None:
    ext = g.first(
        g.columns,
        named("customer_id", "customer_external_id", "external_id", "customer_unique_id"),
        lambda c: customer_like(c) and id_like(c) and c.unique,
        lambda c: id_like(c) and c.unique,
    )
    if ext is not None:
        g.mapping["external_id"] = g.take(ext)
    email = g.first(g.columns, email_like)
    if email is not None:
        g.mapping["email"] = g.take(email)
    if ext is None and email is None:
        g.notes.append("external_id / email: no customer id or email column found; name one of them.")
    name = g.first(g.columns, named("name", "customer_name", "full_name", "contact_name", "client_name"))
    if name is not None:
        g.mapping["name"] = g.take(name)


def attributes(g: Guess) -> None:
    """Every other column becomes an attribute named like its header (snake_case)."""
    attrs: dict[str, str] = {}
    for c in g.free():
        attrs[c.norm or c.name] = g.take(c)
    g.mapping["attributes"] = attrs


CUSTOMERS_RULES = (customer_identity, attributes)


# -- events --------------------------------------------------------------------------------------


def event_customer(g: Guess) -> None:
    ref = customer_ref(g)
    if ref is None:
        g.notes.append("customer: no customer id or email column found; an event needs one.")
        ref = {}
    g.mapping["customer"] = ref


def event_type(g: Guess) -> None:
    found = g.first(
        g.columns, named("type", "event_type", "event", "event_name", "action", "activity"), has_word("event")
    )
    if found is not None and found.guessed_type in ("choice", "string"):
        g.mapping["type"] = g.take(found)
        odd = next((v for v in found.values if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,100}", v)), None)
        if odd is not None:
            g.notes.append(
                f"type: {found.name} holds values such as {odd!r} that are no event type key (letters, digits and "
                "_ . : - only); those rows will be rejected: clean the column or set type_value."
            )
        return
    g.mapping["type_value"] = "event"
    g.notes.append('type_value: no event type column found; every row becomes an event of type "event": rename it.')


def occurred_at(g: Guess) -> None:
    names = ("occurred_at", "timestamp", "event_time", "date", "created_at", "time")
    date_column(g, "occurred_at", names, ("timestamp", "purchase", "created", "date", "time"))
    if "occurred_at" not in g.mapping:
        g.notes.append("occurred_at: no date column found; an event needs its time.")


def event_external_id(g: Guess) -> None:
    found = g.first(g.columns, lambda c: id_like(c) and c.unique and _repeat_line(g, [c.name]) is None)
    if found is not None:
        g.mapping["external_id"] = g.take(found)
    else:
        g.notes.append("external_id: no unique id column; each event is keyed by its content.")


def event_value(g: Guess) -> None:
    found = g.first(
        g.columns, lambda c: bool(c.numbers) and has_word("value", "amount", "revenue", "price", "total")(c)
    )
    if found is not None:
        g.mapping["value"] = g.take(found)


def properties(g: Guess) -> None:
    g.mapping["properties"] = [g.take(c) for c in g.free()]


EVENTS_RULES = (event_customer, event_type, occurred_at, event_external_id, touchpoint, event_value, properties)
