"""A customer's purchase history as the buy-till-you-die models read it: frequency, recency, age and mean spend.

Fader, Hardie & Lee (2005) count in a calibration period that ends at a fixed date: `frequency` (x) is the number of
repeat purchases (purchase days after the first; several purchases on one day are one, their values summed),
`recency` (t_x) the time from the first to the last purchase, `T` the time from the first purchase to the end of the
calibration, and `monetary_value` (zbar) the mean value of the repeat purchases (0 without any). Times are in
`unit_days` (7: weeks, as in the paper). Customers whose first purchase is after the calibration end are left out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import numpy.typing as npt

from cem.errors import InvalidInput

Purchase = tuple[Hashable, date | datetime, float]  # (customer, when, value)


@dataclass(frozen=True)
class Summary:
    """One row per customer, in `customers` order: the arrays every model fits on."""

    customers: list[Hashable]
    frequency: npt.NDArray[np.float64]
    recency: npt.NDArray[np.float64]
    T: npt.NDArray[np.float64]
    monetary_value: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.customers)

    @classmethod
    def from_arrays(
        cls,
        frequency: Iterable[float],
        recency: Iterable[float],
        T: Iterable[float],
        monetary_value: Iterable[float] | None = None,
        customers: Iterable[Hashable] | None = None,
    ) -> Summary:
        """A summary given as columns (e.g. the CDNOW summary CSV), checked: the models need x >= 0 whole,
        0 <= t_x <= T, T > 0, and for repeat buyers a positive mean spend."""
        x = np.asarray(list(frequency), dtype=float)
        t_x = np.asarray(list(recency), dtype=float)
        age = np.asarray(list(T), dtype=float)
        spend = np.zeros_like(x) if monetary_value is None else np.asarray(list(monetary_value), dtype=float)
        ids: list[Hashable] = list(customers) if customers is not None else list(range(1, len(x) + 1))
        if not len(x) == len(t_x) == len(age) == len(spend) == len(ids):
            raise InvalidInput("frequency, recency, T and monetary value must have one value per customer")
        _check_summary(x, t_x, age, spend)
        return cls(ids, x, t_x, age, spend)


def purchase_day(customer: Hashable, when: date | datetime, value: float) -> date:
    """The day of a purchase, after checking its value is a number >= 0 (the one rule for every reader)."""
    if value is None or not np.isfinite(value) or value < 0:
        raise InvalidInput(f"customer {customer!r}: a purchase value must be a number >= 0, got {value!r}")
    return when.date() if isinstance(when, datetime) else when


def summarise(
    purchases: Iterable[Purchase],
    *,
    calibration_end: date,
    unit_days: float = 7.0,
    observation_start: date | None = None,
) -> Summary:
    """The calibration summary of every customer with a purchase on or before `calibration_end` (inclusive)."""
    by_customer: dict[Hashable, dict[date, float]] = defaultdict(lambda: defaultdict(float))
    for customer, when, value in purchases:
        day = purchase_day(customer, when, value)
        if day > calibration_end or (observation_start is not None and day < observation_start):
            continue
        by_customer[customer][day] += float(value)
    if not by_customer:
        raise InvalidInput(f"no purchases on or before the calibration end {calibration_end.isoformat()}")
    customers = sorted(by_customer, key=str)
    x, t_x, age, spend = (np.zeros(len(customers)) for _ in range(4))
    for i, customer in enumerate(customers):
        days = sorted(by_customer[customer])
        first, last = days[0], days[-1]
        x[i] = len(days) - 1
        t_x[i] = (last - first).days / unit_days
        age[i] = (calibration_end - first).days / unit_days
        repeat_values = [by_customer[customer][d] for d in days[1:]]
        spend[i] = float(np.mean(repeat_values)) if repeat_values else 0.0
    # A first purchase on the calibration's last day has T = 0: no time to observe anything. Half a day keeps the
    # likelihood defined without pretending the customer was watched longer.
    age = np.maximum(age, 0.5 / unit_days)
    return Summary(customers, x, t_x, age, spend)


def _check_summary(
    x: npt.NDArray[np.float64],
    t_x: npt.NDArray[np.float64],
    age: npt.NDArray[np.float64],
    spend: npt.NDArray[np.float64],
) -> None:
    problems: list[str] = []
    arrays = {"frequency": x, "recency": t_x, "T": age, "monetary value": spend}
    for name, values in arrays.items():
        if not np.all(np.isfinite(values)):
            problems.append(f"{name} has missing or non-finite values")
    if not problems:
        if np.any(x < 0) or np.any(x != np.round(x)):
            problems.append("frequency must be a whole number >= 0 (repeat purchases)")
        if np.any(age <= 0):
            problems.append("T must be > 0")
        if np.any(t_x < 0) or np.any(t_x > age + 1e-9):
            problems.append("recency must lie between 0 and T")
        if np.any((x == 0) & (t_x != 0)):
            problems.append("recency must be 0 for customers without repeat purchases")
        if np.any(spend < 0):
            problems.append("monetary value must be >= 0")
    if problems:
        raise InvalidInput("Invalid purchase summary: " + "; ".join(problems) + ".")
