"""How well a purchase model predicts a holdout period, as Fader, Hardie & Lee (2005) show it.

Two views: the conditional expectations (expected vs actual purchases in the holdout, by the number of repeat
purchases in the calibration, the paper's figure 4) and weekly cumulative tracking (expected vs actual repeat
purchases of the whole cohort week by week, figure 2). Both take raw transactions so they count what happened.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np

from cem.clv import btyd
from cem.clv.summary import Purchase, Summary, summarise
from cem.errors import InvalidInput


@dataclass(frozen=True)
class FrequencyRow:
    frequency: str  # "0" .. "6", then "7+"
    customers: int
    actual: float  # mean holdout purchases
    expected: float


@dataclass(frozen=True)
class TrackingRow:
    period: int  # periods since the start of the observation
    actual: float  # cumulative repeat purchases of the cohort
    expected: float


@dataclass(frozen=True)
class Validation:
    calibration: Summary
    fit: btyd.Fit
    by_frequency: list[FrequencyRow]
    tracking: list[TrackingRow]
    holdout_actual: float
    holdout_expected: float


def validate(
    purchases: Sequence[Purchase],
    *,
    model: str,
    start: date,
    calibration_end: date,
    holdout_end: date,
    unit_days: float = 7.0,
    top_group: int = 7,
) -> Validation:
    """Fit on the calibration period and compare with what the customers did up to `holdout_end`."""
    if not start <= calibration_end < holdout_end:
        raise InvalidInput("the dates must be in order: start <= calibration end < holdout end")
    calibration = summarise(purchases, calibration_end=calibration_end, unit_days=unit_days)
    fit = btyd.fit(model, calibration)
    horizon = (holdout_end - calibration_end).days / unit_days
    days = _purchase_days(purchases, holdout_end)
    known = set(calibration.customers)
    actual = np.array([sum(1 for d in days[c] if d > calibration_end) for c in calibration.customers], dtype=float)
    expected = btyd.expected_purchases(fit, calibration, horizon)
    rows = []
    for x in range(top_group + 1):
        group = calibration.frequency == x if x < top_group else calibration.frequency >= top_group
        if group.any():
            label = str(x) if x < top_group else f"{top_group}+"
            rows.append(
                FrequencyRow(label, int(group.sum()), float(actual[group].mean()), float(expected[group].mean()))
            )
    tracking = _tracking(fit, {c: days[c] for c in known}, start, holdout_end, unit_days)
    return Validation(calibration, fit, rows, tracking, float(actual.sum()), float(expected.sum()))


def _purchase_days(purchases: Sequence[Purchase], until: date) -> dict[Hashable, list[date]]:
    days: dict[Hashable, set[date]] = defaultdict(set)
    for customer, when, _value in purchases:
        day = when.date() if isinstance(when, datetime) else when
        if day <= until:
            days[customer].add(day)
    return {c: sorted(d) for c, d in days.items()}


def _tracking(
    fit: btyd.Fit, days: dict[Hashable, list[date]], start: date, end: date, unit_days: float
) -> list[TrackingRow]:
    """Cumulative repeat purchases per period: actual, and expected as the sum over customers of E[X(t - t0)]."""
    periods = math.ceil((end - start).days / unit_days)  # the last, partial period counts too
    first = np.array([(d[0] - start).days / unit_days for d in days.values()])
    repeat_times = np.sort(np.array([(d - start).days / unit_days for ds in days.values() for d in ds[1:]]))
    rows = []
    for period in range(1, periods + 1):
        t = float(period)
        expected = float(btyd.expected_purchases_new(fit, np.maximum(t - first, 0.0)).sum())
        actual = float(np.searchsorted(repeat_times, t, side="right"))
        rows.append(TrackingRow(period, actual, expected))
    return rows
