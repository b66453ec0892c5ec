"""RFM scoring on small hand-checked tables: the quintile rule, ties, and every cell of the segment grid."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pytest

from cem.clv import rfm
from cem.errors import InvalidInput


def test_distinct_values_fill_each_quintile_equally() -> None:
    assert rfm.quintile_scores([10, 20, 30, 40, 50]).tolist() == [1, 2, 3, 4, 5]
    # ten values: two per quintile, whatever the input order
    values = [7, 1, 9, 3, 5, 2, 10, 4, 8, 6]
    assert rfm.quintile_scores(values).tolist() == [4, 1, 5, 2, 3, 1, 5, 2, 4, 3]
    # lower is better (recency in days): the most recent scores 5
    assert rfm.quintile_scores([1, 100, 50, 10, 5], higher_is_better=False).tolist() == [5, 1, 2, 3, 4]


def test_ties_share_the_lowest_quintile_their_value_reaches() -> None:
    # six of ten bought once: all F 1; the next value has 6 of 10 below it, so 1 + floor(5 * 0.6) = 4
    frequency = [1, 1, 1, 1, 1, 1, 2, 2, 3, 9]
    assert rfm.quintile_scores(frequency).tolist() == [1, 1, 1, 1, 1, 1, 4, 4, 5, 5]
    # a value everyone shares scores 1 for all (zero spend everywhere says nothing about anyone)
    assert rfm.quintile_scores([0.0, 0.0, 0.0]).tolist() == [1, 1, 1]
    # the same values in another order give the same scores to the same values
    shuffled = [9, 2, 1, 3, 1, 1, 2, 1, 1, 1]
    by_value = dict(zip(shuffled, rfm.quintile_scores(shuffled).tolist(), strict=True))
    assert by_value == {1: 1, 2: 4, 3: 5, 9: 5}
    assert rfm.quintile_scores([]).tolist() == []
    with pytest.raises(InvalidInput):
        rfm.quintile_scores([1.0, float("nan")])


def test_fm_is_the_mean_of_f_and_m_rounded_half_up() -> None:
    assert [rfm.fm_score(f, m) for f, m in [(1, 1), (1, 2), (2, 3), (4, 5), (5, 5), (1, 5)]] == [1, 2, 3, 5, 5, 3]


# (R, F, M) -> segment, one row per rule of the grid (and its edges), checked by hand against the module docstring.
CASES = [
    ((5, 5, 5), rfm.CHAMPIONS),
    ((5, 4, 3), rfm.CHAMPIONS),  # FM ceil(3.5) = 4
    ((4, 5, 5), rfm.LOYAL),
    ((3, 4, 4), rfm.LOYAL),
    ((5, 2, 3), rfm.POTENTIAL_LOYALISTS),  # FM 3
    ((4, 2, 2), rfm.POTENTIAL_LOYALISTS),
    ((5, 1, 1), rfm.NEW),
    ((4, 1, 1), rfm.NEW),  # the grid's "promising"
    ((3, 3, 3), rfm.HIBERNATING),  # the grid's "need attention"
    ((3, 1, 2), rfm.HIBERNATING),  # "about to sleep"
    ((2, 2, 2), rfm.HIBERNATING),
    ((2, 3, 4), rfm.AT_RISK),  # FM 4
    ((1, 3, 3), rfm.AT_RISK),
    ((2, 5, 5), rfm.CANT_LOSE),
    ((1, 5, 4), rfm.CANT_LOSE),  # FM ceil(4.5) = 5
    ((1, 1, 1), rfm.LOST),
    ((1, 2, 2), rfm.LOST),
]


@pytest.mark.parametrize(("scores", "expected"), CASES)
def test_each_segment_rule(scores: tuple[int, int, int], expected: str) -> None:
    assert rfm.segment(*scores) == expected


def test_the_grid_puts_every_cell_in_exactly_one_segment_and_uses_all_eight() -> None:
    seen = set()
    for r in range(1, 6):
        for fm in range(1, 6):
            matches = [name for name, rs, fms in rfm.RULES if r in rs and fm in fms]
            assert len(matches) == 1, (r, fm, matches)
            seen.add(matches[0])
    assert seen == set(rfm.SEGMENTS) and len(rfm.SEGMENTS) == 8
    with pytest.raises(ValueError, match="1-5"):
        rfm.segment(0, 3, 3)


def test_score_from_purchases_with_one_purchase_zero_values_and_same_day_purchases() -> None:
    today = date(2026, 3, 31)
    purchases: list[rfm.Purchase] = [
        ("a", datetime(2026, 3, 30, 9), 100.0),
        ("a", datetime(2026, 3, 30, 18), 50.0),  # same day: one purchase day, both values count
        ("a", date(2026, 1, 10), 25.0),
        ("b", date(2025, 6, 1), 0.0),  # one purchase, zero value
        ("c", date(2026, 2, 1), 10.0),
        ("c", date(2026, 4, 5), 999.0),  # after today: left out
        ("d", date(2026, 5, 1), 5.0),  # only in the future: not a customer yet
        ("e", date(2025, 12, 1), 0.0),
        ("e", date(2026, 3, 1), 0.0),
    ]
    scored = rfm.score(purchases, today=today)
    assert scored.customers == ["a", "b", "c", "e"]
    assert scored.recency_days.tolist() == [1, 303, 58, 30]
    assert scored.frequency.tolist() == [2, 1, 1, 2]
    assert scored.monetary.tolist() == [175.0, 0.0, 10.0, 0.0]
    # four customers: 1 + floor(5 * worse / 4), so 3 worse gives 4 (with four customers nobody reaches 5)
    assert scored.r_score.tolist() == [4, 1, 2, 3]
    assert scored.f_score.tolist() == [3, 1, 1, 3]  # two tie at 1 purchase day (F 1), two at 2 (2 worse: F 3)
    assert scored.m_score.tolist() == [4, 1, 3, 1]  # both zero spenders share the lowest score
    # a: R 4, FM ceil(3.5) = 4; b: R 1, FM 1; c: R 2, FM 2; e: R 3, FM 2
    assert scored.segment == [rfm.LOYAL, rfm.LOST, rfm.HIBERNATING, rfm.HIBERNATING]
    assert np.all(np.isfinite(scored.monetary))
    with pytest.raises(InvalidInput, match="must be a number >= 0"):
        rfm.score([("x", today, -5.0)], today=today)
