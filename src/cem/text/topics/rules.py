"""Rule topics: a keyword query that a text matches or not (case- and accent-insensitive, whole words).

Query syntax, kept small enough to explain in one line of the UI:
    refund, money back, reembols*, -coupon
Comma-separated alternatives: a text matches when it contains ANY of them. An alternative of several words is a
phrase (the words in that order). A trailing * matches any ending ("reembols*": reembolso, reembolsado). A term
starting with - excludes texts that contain it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from cem.errors import InvalidInput

MAX_QUERY = 500


def fold(text: str) -> str:
    """Lower case without accents, so "Reembolso" and "reembolsó" match "reembolso"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _term_pattern(term: str) -> str:
    words = term.split()
    parts = [re.escape(w[:-1]) + r"\w*" if w.endswith("*") else re.escape(w) for w in words]
    return r"\b" + r"\W+".join(parts) + (r"" if words[-1].endswith("*") else r"\b")


@dataclass(frozen=True)
class Rule:
    include: re.Pattern[str]
    exclude: re.Pattern[str] | None

    def matches(self, text: str | None) -> bool:
        if not text:
            return False
        folded = fold(text)
        return bool(self.include.search(folded)) and not (self.exclude and self.exclude.search(folded))


def parse_rule(query: str) -> Rule:
    """The compiled rule; InvalidInput with the reason when the query cannot work."""
    query = (query or "").strip()
    if not query:
        raise InvalidInput("A rule topic needs a keyword query, e.g. 'refund, money back, -coupon'.")
    if len(query) > MAX_QUERY:
        raise InvalidInput(f"The keyword query is longer than {MAX_QUERY} characters.")
    include: list[str] = []
    exclude: list[str] = []
    for raw in query.split(","):
        term = fold(raw.strip())
        negative = term.startswith("-")
        term = term.lstrip("-").strip()
        if not term:
            continue
        if not re.search(r"\w", term.replace("*", "")):
            raise InvalidInput(f"The term {raw.strip()!r} has no letters or digits to match.")
        (exclude if negative else include).append(_term_pattern(term))
    if not include:
        raise InvalidInput("The keyword query needs at least one term to match (terms with - only exclude).")
    return Rule(
        include=re.compile("|".join(include)),
        exclude=re.compile("|".join(exclude)) if exclude else None,
    )
