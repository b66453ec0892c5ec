"""The score vocabulary in one place: which answers an NPS, CSAT, CES or rating question allows, and how the
metrics read them (NPS promoters and detractors, the CSAT top box of each scale, CES agreement).

Kernel level: imports nothing from a cem domain, so the feedback store (validation), the metric registry
(`cem.analytics.metrics`), the SQL engines and the in-memory analyses all read the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScoreRule:
    """The inclusive range an answer of one score type must lie in; `whole`: only whole numbers (NPS 0-10)."""

    low: float
    high: float
    whole: bool = False


# CSAT allows 3/5/7/10-point scales (so 1-10), CES 2.0 is 1-7, NPS is a whole number from 0 to 10.
SCORE_RULES: dict[str, ScoreRule] = {
    "nps": ScoreRule(0, 10, whole=True),
    "csat": ScoreRule(1, 10),
    "ces": ScoreRule(1, 7),
    "rating": ScoreRule(0, 10),
}
SCORE_TYPES: tuple[str, ...] = tuple(SCORE_RULES)

# NPS: promoters answer 9-10, detractors 0-6 (passives 7-8 count only in n).
NPS_PROMOTER_MIN = 9.0
NPS_DETRACTOR_MAX = 6.0
# CES 1-7: 5-7 agree that the company made it easy, 1-3 disagree.
CES_AGREE_MIN = 5.0
CES_DISAGREE_MAX = 3.0

# A scale is known by the largest answer seen for the question: the smallest standard scale that holds it.
STANDARD_SCALES = (3, 5, 7, 10)
# Top box (CSAT "satisfied"): 3 of 3; 4-5 of 5; 6-7 of 7; 9-10 of 10.
TOP_BOX = {3: 3.0, 5: 4.0, 7: 6.0, 10: 9.0}
# Bottom box (a negative answer on other scales): 1 of 3; 1-2 of 5; 1-3 of 7; 0-4 of 10.
BOTTOM_BOX = {3: 1.0, 5: 2.0, 7: 3.0, 10: 4.0}


def scale_top(seen_max: float) -> int:
    """The smallest standard scale (3/5/7/10) that holds the largest answer seen."""
    return next((s for s in STANDARD_SCALES if seen_max <= s), STANDARD_SCALES[-1])


def top_box_threshold(seen_max: float) -> float:
    """Answers at or above this are in the top box of the question's scale."""
    return TOP_BOX[scale_top(seen_max)]


def negative_threshold(field_type: str, seen_max: float) -> float:
    """Answers at or below this are negative: NPS detractors, CES 1-3, bottom box of other scales."""
    if field_type == "nps":
        return NPS_DETRACTOR_MAX
    if field_type == "ces":
        return CES_DISAGREE_MAX
    return BOTTOM_BOX[scale_top(seen_max)]


def top_box_sql(seen_max: str) -> str:
    """The top-box threshold as a SQL CASE over a column holding the largest answer seen (both dialects)."""
    steps = " ".join(f"WHEN {seen_max} <= {top} THEN {TOP_BOX[top]:g}" for top in STANDARD_SCALES[:-1])
    return f"CASE {steps} ELSE {TOP_BOX[STANDARD_SCALES[-1]]:g} END"
