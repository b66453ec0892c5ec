"""A customer table as model features: numbers stay numbers, categories become indicator columns.

The rules follow the protocol cem's figures are reported with (../shared/docs/reference-results.md): the id column is
dropped; a column is numeric when every non-blank cell is a number, and a blank number reads as 0 (in the Telco data
a blank TotalCharges is a customer with no bill yet); any other column is a category, one-hot encoded with its first
category (in sorted order) dropped, as pandas' get_dummies(drop_first=True) does; a text column with more than
MAX_CATEGORIES values (an identifier, free text) is left out. Each feature remembers the column
it came from, so a reason can be said in the column's own words ("Contract = Month-to-month").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cem.errors import InvalidInput

# A text column with more distinct values than this is an identifier or free text, not a category: left out.
MAX_CATEGORIES = 50

POSITIVE = frozenset({"1", "yes", "true", "y", "churned", "churn"})
NEGATIVE = frozenset({"0", "no", "false", "n", "stayed", "retained"})


@dataclass(frozen=True)
class Feature:
    column: str
    category: str | None = None  # set for an indicator column: the category it marks

    @property
    def label(self) -> str:
        return self.column if self.category is None else f"{self.column} = {self.category}"


@dataclass(frozen=True)
class Encoding:
    """How to turn a table into a matrix; learnt from the training table, applied to any other."""

    numeric: tuple[str, ...]
    categories: dict[str, tuple[str, ...]]  # column -> the categories that get an indicator (first one dropped)
    features: tuple[Feature, ...]

    def matrix(self, rows: Sequence[Mapping[str, str]]) -> npt.NDArray[np.float64]:
        out = np.zeros((len(rows), len(self.features)))
        for i, row in enumerate(rows):
            for j, feature in enumerate(self.features):
                cell = (row.get(feature.column) or "").strip()
                if feature.category is None:
                    out[i, j] = _as_number(cell) or 0.0
                else:
                    out[i, j] = 1.0 if cell == feature.category else 0.0
        return out


def _as_number(cell: str) -> float | None:
    if not cell:
        return None
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if np.isfinite(value) else None


def learn_encoding(rows: Sequence[Mapping[str, str]], columns: Sequence[str]) -> Encoding:
    """Which columns are numeric and which categories each categorical column has, from the training rows."""
    numeric: list[str] = []
    categories: dict[str, tuple[str, ...]] = {}
    features: list[Feature] = []
    for column in columns:
        cells = [(row.get(column) or "").strip() for row in rows]
        filled = [c for c in cells if c]
        if filled and all(_as_number(c) is not None for c in filled):
            numeric.append(column)
            features.append(Feature(column))
            continue
        values = sorted(set(filled) | ({""} if len(filled) < len(cells) else set()))
        if len(values) > MAX_CATEGORIES:
            continue
        kept = tuple(values[1:])  # the first category is the baseline
        categories[column] = kept
        features.extend(Feature(column, value) for value in kept)
    if not features:
        raise InvalidInput("the table has no feature columns besides the id and the target")
    return Encoding(tuple(numeric), categories, tuple(features))


def target_labels(rows: Sequence[Mapping[str, str]], target: str) -> npt.NDArray[np.int_]:
    """1 for churned, 0 for stayed; both classes must be present."""
    labels = np.zeros(len(rows), dtype=int)
    for i, row in enumerate(rows):
        cell = (row.get(target) or "").strip().lower()
        if cell in POSITIVE:
            labels[i] = 1
        elif cell not in NEGATIVE:
            raise InvalidInput(
                f"row {i + 2}, column {target!r}: {cell[:40]!r} is not a churn label (use yes/no, true/false or 1/0)"
            )
    if labels.min() == labels.max():
        which = "churned" if labels[0] == 1 else "stayed"
        raise InvalidInput(f"every customer in column {target!r} {which}: a churn model needs both classes")
    return labels
