"""Stable submission ids for sources without one, and the column-or-constant rule of import and webhook mappings.

A review export has no id column, yet re-importing it must update its records, not duplicate them. A mapping's
`row_key` names the values that identify a row (columns of a file, JSON paths of a webhook record), or "content"
for all of it; `row_key_id` hashes them into the submission id. The values are JSON-encoded as one array before
hashing, so no choice of cell text can make two different rows collide by concatenation ("a|b" + "c" vs
"a" + "b|c"). Editing a keyed value therefore makes a new record; the old one stays as it was.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BeforeValidator, Discriminator, Field, Tag

CONTENT = "content"
PREFIX = "k:"  # a keyed submission id reads as one (k: + 32 hex digits), unlike any id a source hands out
MAX_KEY_PARTS = 50
T = TypeVar("T")


def _readable_spec(value: Any) -> Any:
    # One clear message instead of one per member of the union below.
    if isinstance(value, str) and value != CONTENT:
        raise ValueError(f'a row key is a list of names or "{CONTENT}", not {value[:40]!r}')
    if isinstance(value, list) and not value:
        raise ValueError("a row key needs at least one name")
    if not isinstance(value, str | list):
        raise ValueError(f'a row key is a list of names or "{CONTENT}"')
    return value


# A mapping's row key: the values (columns, JSON paths) that identify a row, or "content" for the whole row.
# The discriminator validates a list against the list alone, so a bad name is one error at row_key.<index>.
RowKeySpec = Annotated[
    Annotated[list[T], Field(min_length=1, max_length=MAX_KEY_PARTS), Tag("names")]
    | Annotated[Literal["content"], Tag(CONTENT)],
    Discriminator(lambda value: CONTENT if isinstance(value, str) else "names"),
    BeforeValidator(_readable_spec),
]


def row_key_id(values: Sequence[Any]) -> str:
    """The submission id of a row identified by `values` (JSON values): PREFIX + 128 bits of SHA-256."""
    canonical = json.dumps(list(values), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return PREFIX + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def exclusive(value: Any, given: Mapping[str, Any], name: str, *others: str) -> Any:
    """`value` of the mapping key `name`, unless one of the keys `others` is given too (ValueError: give one)."""
    if value is not None:
        both = [other for other in others if given.get(other) is not None]
        if both:
            raise ValueError(f"give {both[0]} or {name}, not both")
    return value


def one_of(first: Any, second: Any, first_label: str, second_label: str) -> None:
    """ValueError unless at least one of two mapping keys is given (`exclusive` refuses both)."""
    if first is None and second is None:
        raise ValueError(f"give {first_label} or {second_label}")
