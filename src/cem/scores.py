"""The score vocabulary in one place: which scale a rating-like answer is on, which answers it allows, and how
the metrics read them (NPS promoters and detractors, the CSAT top box, bottom boxes, CES agreement).

Scales are declared, never guessed from the answers. Every NPS, CSAT, CES or rating record stores its scale
(feedback_record.scale_min / scale_max), declared by one of:

- the survey definition (a CSAT/rating question's `scale` points, a matrix's numeric scale; NPS and CES fixed);
- the import mapping or webhook mapping, per field: `scale_min` / `scale_max`, or `scale`, a name from NAMED_SCALES;
- the API payload (FeedbackIn: the same three keys).

A record that declares none gets its type's default (DEFAULT_SCALES), written into the record:

    nps     0-10 (the only scale NPS has; whole numbers)
    ces     1-7  (CES 2.0; the only scale CES has)
    csat    1-5
    rating  1-5
    number  none (a `number` field may declare a scale; then its values are checked against it)

Named scales (NAMED_SCALES):

    csat-3 1-3, csat-5 1-5, csat-7 1-7, csat-10 1-10   satisfaction scales of 3/5/7/10 points
    stars-5 1-5, stars-10 1-10                          star ratings
    likert-5 1-5, likert-7 1-7                          agreement scales
    nps 0-10, ces-7 1-7                                 the NPS and CES scales
    0-5, 0-10, 1-10, 0-100                              plain numeric ranges (0-100: sliders, percentages)

A value outside its record's scale is refused (`check_value`). Giving a name and numbers, a minimum not below
the maximum, or an NPS/CES scale other than its standard one is refused too (`declared_scale`).

Kernel level: imports nothing from a cem domain, so the feedback store (validation), the metric registry
(`cem.analytics.metrics`), the SQL engines and the in-memory analyses all read the same rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    """An inclusive answer range [low, high], low < high."""

    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.low:g}-{self.high:g}"


@dataclass(frozen=True)
class ScoreRule:
    """What a score type allows: its default scale; `fixed`: the only scale it may have; `whole`: whole numbers."""

    default: Scale
    fixed: bool = False
    whole: bool = False

    @property
    def low(self) -> float:
        return self.default.low

    @property
    def high(self) -> float:
        return self.default.high


SCORE_RULES: dict[str, ScoreRule] = {
    "nps": ScoreRule(Scale(0, 10), fixed=True, whole=True),
    "csat": ScoreRule(Scale(1, 5)),
    "ces": ScoreRule(Scale(1, 7), fixed=True),
    "rating": ScoreRule(Scale(1, 5)),
}
SCORE_TYPES: tuple[str, ...] = tuple(SCORE_RULES)
DEFAULT_SCALES: dict[str, Scale] = {kind: rule.default for kind, rule in SCORE_RULES.items()}
# Field types that may carry a scale: the score types and `number` (which has no default).
SCALED_TYPES: frozenset[str] = frozenset({*SCORE_TYPES, "number"})

NAMED_SCALES: dict[str, Scale] = {
    "csat-3": Scale(1, 3),
    "csat-5": Scale(1, 5),
    "csat-7": Scale(1, 7),
    "csat-10": Scale(1, 10),
    "stars-5": Scale(1, 5),
    "stars-10": Scale(1, 10),
    "likert-5": Scale(1, 5),
    "likert-7": Scale(1, 7),
    "nps": Scale(0, 10),
    "ces-7": Scale(1, 7),
    "0-5": Scale(0, 5),
    "0-10": Scale(0, 10),
    "1-10": Scale(1, 10),
    "0-100": Scale(0, 100),
}

# NPS: promoters answer 9-10, detractors 0-6 (passives 7-8 count only in n).
NPS_PROMOTER_MIN = 9.0
NPS_DETRACTOR_MAX = 6.0
# CES 1-7: 5-7 agree that the company made it easy, 1-3 disagree.
CES_AGREE_MIN = 5.0
CES_DISAGREE_MAX = 3.0
# The bottom box (a negative answer) is the lowest 40 % of the range: 1 of 1-3, 1-2 of 1-5, 1-3 of 1-7,
# 1-4 of 1-10, 0-4 of 0-10, 0-40 of 0-100.
BOTTOM_BOX_SHARE = 0.4


def default_scale(field_type: str) -> Scale | None:
    """The scale a record of this type gets when none is declared (None for `number` and non-numeric types)."""
    return DEFAULT_SCALES.get(field_type)


def declared_scale(
    field_type: str, *, name: str | None = None, low: float | None = None, high: float | None = None
) -> Scale | None:
    """The scale a declaration names (a NAMED_SCALES name, or low and high), else the type's default.

    ValueError says what is wrong: a name and numbers together, an unknown name, one bound without the other, a
    minimum not below the maximum, non-finite bounds, or an NPS/CES scale other than its standard one.
    """
    if name is not None and (low is not None or high is not None):
        raise ValueError("give a named scale or scale_min/scale_max, not both")
    if name is not None:
        if name not in NAMED_SCALES:
            raise ValueError(f"unknown scale {name!r}; named scales: {', '.join(NAMED_SCALES)}")
        scale: Scale | None = NAMED_SCALES[name]
    elif low is None and high is None:
        return default_scale(field_type)
    elif low is None or high is None:
        raise ValueError("give both scale_min and scale_max")
    else:
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError("scale_min and scale_max must be finite numbers")
        if low >= high:
            raise ValueError(f"scale_min ({low:g}) must be below scale_max ({high:g})")
        scale = Scale(float(low), float(high))
    if field_type not in SCALED_TYPES:
        raise ValueError(f"a {field_type} field has no scale")
    rule = SCORE_RULES.get(field_type)
    if rule is not None and rule.fixed and scale != rule.default:
        raise ValueError(f"an {field_type} scale is always {rule.default}, not {scale}")
    return scale


def check_value(field_type: str, number: float, scale: Scale | None) -> float:
    """`number` if it lies in `scale` (and is whole for NPS); ValueError says why not."""
    if scale is not None and not scale.low <= number <= scale.high:
        raise ValueError(f"a {field_type} value must be between {scale.low:g} and {scale.high:g}")
    rule = SCORE_RULES.get(field_type)
    if rule is not None and rule.whole and number != int(number):
        raise ValueError(f"an {field_type} value must be a whole number from {rule.low:g} to {rule.high:g}")
    return number


def top_box_min(low: float, high: float) -> float:
    """Answers at or above this are in the top box ("satisfied") of the scale [low, high].

    The general rule, for any range: the top two points (4-5 of 1-5, 6-7 of 1-7, 9-10 of 1-10 and of 0-10), except
    on a scale of three points or fewer, whose top box is its top point (3 of 1-3); on ranges wider than ten points
    (sliders, 0-100) the top tenth of the range (90-100 of 0-100). `top_box_sql` is the same rule in SQL.
    """
    width = high - low
    if width < 3:
        return high
    if width <= 10:
        return high - 1
    return high - width / 10


def top_box_sql(low: str, high: str) -> str:
    """`top_box_min` as a SQL expression over two columns (the same text for SQLite, PostgreSQL, DuckDB, Spark)."""
    width = f"({high} - {low})"
    return f"CASE WHEN {width} < 3 THEN {high} WHEN {width} <= 10 THEN {high} - 1 ELSE {high} - {width} / 10 END"


def bottom_box_max(low: float, high: float) -> float:
    """Answers at or below this are in the bottom box of the scale [low, high] (the lowest 40 % of the range)."""
    return low + BOTTOM_BOX_SHARE * (high - low)


def negative_threshold(field_type: str, scale: Scale) -> float:
    """Answers at or below this are negative: NPS detractors, CES 1-3, the bottom box of other scales."""
    if field_type == "nps":
        return NPS_DETRACTOR_MAX
    if field_type == "ces":
        return CES_DISAGREE_MAX
    return bottom_box_max(scale.low, scale.high)
