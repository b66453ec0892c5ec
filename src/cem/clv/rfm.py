"""RFM scoring: recency, frequency and monetary value in quintile scores 1-5, and the named segment they put a
customer in.

Per customer, from the same purchases as the lifetime-value summary (cem.clv.summary):
- recency: whole days from the last purchase day to the scoring day (fewer is better);
- frequency: the number of purchase days (several purchases on one day are one, as in the CLV summary, so it is the
  CLV summary's repeat purchases + 1);
- monetary: the total value of all purchases (valueless purchases count 0).

Quintile scores, ties included, follow one deterministic rule: a customer's score is 1 + floor(5 x the share of
customers with a strictly worse value), so equal values always share a score and the score is the lowest quintile
their value reaches. The best customers get 5, the worst 1. With heavy ties some scores stay unused: when 60 % of
customers bought once, they all get F 1 and the next value starts at F 4 (no score pretends that one-time buyers
differ). A value that every customer shares scores 1 for all.

Segments come from R and FM, where FM = ceil((F + M) / 2), the mean of the frequency and monetary scores rounded
half up. The grid is the common R x FM segment map popularised by Putler's "RFM Analysis For Successful Customer
Segmentation" (putler.com/rfm-analysis) in its widely copied non-overlapping form (champions 5/4-5, loyal customers
3-4/4-5, potential loyalists 4-5/2-3, new customers 5/1, promising 4/1, need attention 3/3, about to sleep 3/1-2,
at risk 1-2/3-4, can't lose them 1-2/5, hibernating 1-2/1-2), reduced to eight names: promising joins new
(recent, one low-value purchase so far), need attention and about to sleep join hibernating (gone quiet, middling
or low value), and the grid's bottom cells (R 1, FM 1-2: longest gone, least bought) are lost.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from cem.clv.summary import Purchase, purchase_day
from cem.errors import InvalidInput

CHAMPIONS = "champions"
LOYAL = "loyal"
POTENTIAL_LOYALISTS = "potential loyalists"
NEW = "new"
AT_RISK = "at risk"
CANT_LOSE = "can't lose"
HIBERNATING = "hibernating"
LOST = "lost"
# Best first: the order lists and charts show them in.
SEGMENTS = (CHAMPIONS, LOYAL, POTENTIAL_LOYALISTS, NEW, AT_RISK, CANT_LOSE, HIBERNATING, LOST)

# (segment, R scores, FM scores): the 25 cells of the grid, each in exactly one rule (a test checks it).
RULES: tuple[tuple[str, range, range], ...] = (
    (CHAMPIONS, range(5, 6), range(4, 6)),
    (LOYAL, range(3, 5), range(4, 6)),
    (POTENTIAL_LOYALISTS, range(4, 6), range(2, 4)),
    (NEW, range(4, 6), range(1, 2)),
    (HIBERNATING, range(3, 4), range(1, 4)),
    (HIBERNATING, range(2, 3), range(1, 3)),
    (AT_RISK, range(1, 3), range(3, 5)),
    (CANT_LOSE, range(1, 3), range(5, 6)),
    (LOST, range(1, 2), range(1, 3)),
)


@dataclass(frozen=True)
class Rfm:
    """One row per customer, in `customers` order."""

    customers: list[Hashable]
    recency_days: npt.NDArray[np.int64]
    frequency: npt.NDArray[np.int64]
    monetary: npt.NDArray[np.float64]
    r_score: npt.NDArray[np.int64]
    f_score: npt.NDArray[np.int64]
    m_score: npt.NDArray[np.int64]
    segment: list[str]

    def __len__(self) -> int:
        return len(self.customers)

    def index(self) -> dict[Hashable, int]:
        return {customer: i for i, customer in enumerate(self.customers)}


def quintile_scores(
    values: Sequence[float] | npt.NDArray[np.float64], *, higher_is_better: bool = True
) -> npt.NDArray[np.int64]:
    """1 + floor(5 x share of values strictly worse), so ties share a score (see the module docstring)."""
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if not np.all(np.isfinite(array)):
        raise InvalidInput("RFM scores need finite values")
    keyed = array if higher_is_better else -array
    worse = np.searchsorted(np.sort(keyed), keyed, side="left")  # how many are strictly below each value
    return (1 + (5 * worse) // array.size).astype(np.int64)


def fm_score(f_score: int, m_score: int) -> int:
    """The mean of F and M rounded half up."""
    return (f_score + m_score + 1) // 2


def segment(r_score: int, f_score: int, m_score: int) -> str:
    """The named segment of a customer's R, F and M scores (each 1-5)."""
    fm = fm_score(f_score, m_score)
    for name, recency, frequency_monetary in RULES:
        if r_score in recency and fm in frequency_monetary:
            return name
    raise ValueError(f"RFM scores must be 1-5, got R {r_score}, F {f_score}, M {m_score}")


def score(purchases: Iterable[Purchase], *, today: date) -> Rfm:
    """RFM of every customer with a purchase on or before `today` (later ones are left out)."""
    days: dict[Hashable, set[date]] = {}
    totals: dict[Hashable, float] = {}
    for customer, when, value in purchases:
        day = purchase_day(customer, when, value)
        if day > today:
            continue
        days.setdefault(customer, set()).add(day)
        totals[customer] = totals.get(customer, 0.0) + float(value)
    customers = sorted(days, key=str)
    recency = np.array([(today - max(days[c])).days for c in customers], dtype=np.int64)
    frequency = np.array([len(days[c]) for c in customers], dtype=np.int64)
    monetary = np.array([totals[c] for c in customers], dtype=float)
    r = quintile_scores(recency.astype(float), higher_is_better=False)
    f = quintile_scores(frequency.astype(float))
    m = quintile_scores(monetary)
    names = [segment(int(r[i]), int(f[i]), int(m[i])) for i in range(len(customers))]
    return Rfm(customers, recency, frequency, monetary, r, f, m, names)
