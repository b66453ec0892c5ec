"""Key driver analysis: how much of an outcome's variance each driver rating explains.

Two decompositions of the regression R^2 that, unlike raw coefficients, stay meaningful when drivers correlate:
- Johnson's relative weights (Johnson 2000): regress on the orthogonal counterpart Z of X, map back through the
  correlations between X and Z; the weights sum to R^2.
- Shapley values / general dominance (Lindeman, Merenda & Gold 1980; Budescu 1993): the average gain in R^2 from
  adding a driver over every subset of the others; computed exactly from the R^2 of all 2^p subsets, each from the
  correlation matrix (R^2(S) = r_S' R_SS^-1 r_S), solved in batches per subset size with numpy.
Bootstrap percentile intervals (seeded) for both, and the significance test of Tonidandel, LeBreton & Johnson (2009):
a driver is significant when the interval of (its weight - the weight of an added random variable) excludes zero.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from sqlalchemy import ColumnElement, func, select, tuple_
from sqlalchemy.orm import Session

from cem.analytics.analyses.common import day_after, day_start
from cem.analytics.analyses.schemas import MAX_DRIVERS, Driver, DriverQuery, DriverResult, Quadrant
from cem.errors import InvalidInput, NotFound
from cem.feedback.models import NUMERIC_FIELD_TYPES
from cem.feedback.models import FeedbackRecord as FR
from cem.scores import top_box_min

MIN_ROWS = 30
SINGULAR_EIGENVALUE = 1e-9


class DriverDataError(ValueError):
    """The data cannot be decomposed (constant column, perfectly collinear drivers)."""


# -- the mathematics (pure numpy, tested against explicit formulas) ------------------------------------------


def correlations(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Driver correlation matrix and driver-outcome correlations; the outcome is the last column."""
    std = data.std(axis=0)
    if np.any(std == 0):
        raise DriverDataError(f"constant columns: {[int(i) for i in np.flatnonzero(std == 0)]}")
    corr = np.corrcoef(data, rowvar=False)
    return corr[:-1, :-1], corr[:-1, -1]


def relative_weights(rxx: np.ndarray, rxy: np.ndarray) -> np.ndarray:
    """Johnson's relative weights; they sum to the R^2 of the full regression."""
    evals, evecs = np.linalg.eigh(rxx)
    if evals.min() < SINGULAR_EIGENVALUE:
        raise DriverDataError("drivers are perfectly collinear")
    lam = evecs @ np.diag(np.sqrt(evals)) @ evecs.T  # correlations between X and its orthogonal counterpart Z
    beta = np.linalg.solve(lam, rxy)  # outcome on Z (standardised)
    weights: np.ndarray = (lam**2) @ (beta**2)
    return weights


@lru_cache(maxsize=4)
def _subsets(p: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per subset size k: members of every subset (m x k, ascending), its bitmask, and the row of its parent
    (the same subset without its largest member) among the subsets of size k - 1."""
    row_of = np.zeros(1 << p, dtype=np.intp)
    out = []
    for k in range(1, p + 1):
        members = np.array(list(itertools.combinations(range(p), k)), dtype=np.intp)
        masks = (1 << members).sum(axis=1)
        parents = row_of[masks - (1 << members[:, -1])]
        row_of[masks] = np.arange(len(masks))
        out.append((members, masks, parents))
    return out


def all_subset_r2(rxx: np.ndarray, rxy: np.ndarray) -> np.ndarray:
    """R^2 of the regression on every subset of drivers, indexed by bitmask (bit j = driver j).

    Grows each subset from its parent by one driver j with the partitioned-inverse update (O(k^2) per subset
    instead of a fresh O(k^3) solve): with u = R_PP^-1 R_Pj, s = 1 - R_jP u and e = r_j - R_jP b_P, the new
    R^2 is R^2(P) + e^2 / s, the coefficients are (b_P - u e / s, e / s) and the inverse gains one row/column.
    """
    p = len(rxy)
    r2 = np.zeros(1 << p)
    inverse = np.ones((p, 1, 1))  # size 1: R_jj = 1
    coef = rxy[:, None].copy()
    r2[1 << np.arange(p)] = rxy**2
    for members, masks, parents in _subsets(p)[1:]:
        prev, j = members[:, :-1], members[:, -1]
        inv_p, b_p = inverse[parents], coef[parents]
        cross = rxx[prev, j[:, None]]  # R_Pj per subset (m x k-1)
        u = np.einsum("mab,mb->ma", inv_p, cross)
        s = 1.0 - np.einsum("ma,ma->m", cross, u)
        if np.any(s < SINGULAR_EIGENVALUE):
            raise DriverDataError("drivers are perfectly collinear")
        e = rxy[j] - np.einsum("ma,ma->m", cross, b_p)
        r2[masks] = r2[masks - (1 << j)] + e * e / s
        coef = np.concatenate([b_p - u * (e / s)[:, None], (e / s)[:, None]], axis=1)
        k = members.shape[1]
        grown = np.empty((len(masks), k, k))
        grown[:, :-1, :-1] = inv_p + np.einsum("ma,mb->mab", u, u) / s[:, None, None]
        grown[:, :-1, -1] = -u / s[:, None]
        grown[:, -1, :-1] = -u / s[:, None]
        grown[:, -1, -1] = 1.0 / s
        inverse = grown
    return r2


@lru_cache(maxsize=4)
def _shapley_plan(p: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per driver: the subsets without it, and each subset's Shapley weight |S|! (p-|S|-1)! / p!."""
    masks = np.arange(1 << p)
    sizes = np.array([bin(m).count("1") for m in range(1 << p)])
    weight_by_size = np.array([math.factorial(s) * math.factorial(p - s - 1) / math.factorial(p) for s in range(p)])
    without, weights = [], []
    for j in range(p):
        rest = masks[(masks & (1 << j)) == 0]
        without.append(rest)
        weights.append(weight_by_size[sizes[rest]])
    return without, weights


def shapley_values(rxx: np.ndarray, rxy: np.ndarray) -> np.ndarray:
    """Each driver's Shapley value of R^2 (its general dominance weight); they sum to R^2."""
    p = len(rxy)
    r2 = all_subset_r2(rxx, rxy)
    without, weights = _shapley_plan(p)
    return np.array([(weights[j] * (r2[without[j] | (1 << j)] - r2[without[j]])).sum() for j in range(p)])


@dataclass
class Decomposition:
    r2: float
    johnson: np.ndarray
    shapley: np.ndarray
    johnson_interval: np.ndarray | None  # (p, 2)
    shapley_interval: np.ndarray | None
    significant: np.ndarray | None  # bool per driver


def decompose(data: np.ndarray, *, bootstrap: int = 200, seed: int = 0, confidence: float = 0.95) -> Decomposition:
    """Weights on the data, plus bootstrap intervals and significance when `bootstrap` > 0."""
    if data.shape[1] - 1 > MAX_DRIVERS:
        raise DriverDataError(f"at most {MAX_DRIVERS} drivers")
    rxx, rxy = correlations(data)
    johnson = relative_weights(rxx, rxy)
    shapley = shapley_values(rxx, rxy)
    result = Decomposition(float(johnson.sum()), johnson, shapley, None, None, None)
    if bootstrap > 0:
        _bootstrap(result, data, bootstrap, seed, confidence)
    return result


def _bootstrap(result: Decomposition, data: np.ndarray, rounds: int, seed: int, confidence: float) -> None:
    rng = np.random.default_rng(seed)
    n, p = data.shape[0], data.shape[1] - 1
    # The reference variable of the significance test: pure noise, resampled with the rows.
    noise: np.ndarray = rng.standard_normal(size=(n,))
    johnson, shapley, versus_noise = [], [], []
    for _ in range(rounds):
        rows = rng.integers(0, n, n)
        sample = data[rows]
        try:
            rxx, rxy = correlations(sample)
            johnson.append(relative_weights(rxx, rxy))
            shapley.append(shapley_values(rxx, rxy))
            with_noise = np.column_stack([sample[:, :p], noise[rows], sample[:, p]])
            nxx, nxy = correlations(with_noise)
            weights = relative_weights(nxx, nxy)
            versus_noise.append(weights[:p] - weights[p])
        except DriverDataError:
            continue  # a degenerate resample (e.g. a rare answer left out): skip it
    if not johnson:
        return
    tail = 100 * (1 - confidence) / 2
    result.johnson_interval = np.percentile(np.array(johnson), [tail, 100 - tail], axis=0).T
    result.shapley_interval = np.percentile(np.array(shapley), [tail, 100 - tail], axis=0).T
    result.significant = np.percentile(np.array(versus_noise), tail, axis=0) > 0


def quadrants(importance: list[float], performance: list[float]) -> tuple[float, float, list[Quadrant]]:
    """Importance-vs-performance quadrant per driver, split at the medians (at the median counts as high)."""
    imp_median, perf_median = float(np.median(importance)), float(np.median(performance))
    names: dict[tuple[bool, bool], Quadrant] = {
        (True, True): "key_strength",
        (True, False): "priority",
        (False, True): "secondary_strength",
        (False, False): "low_priority",
    }
    return (
        imp_median,
        perf_median,
        [names[(i >= imp_median, q >= perf_median)] for i, q in zip(importance, performance, strict=True)],
    )


# -- the data: one row per submission, outcome and drivers as columns --------------------------------------


TOPIC_PREFIX = "topic:"


def key_drivers(session: Session, *, workspace_id: int, query: DriverQuery) -> DriverResult:
    """Johnson and Shapley weights of each driver on the outcome, bootstrap intervals, significance, quadrant."""
    numeric = _driver_fields(session, workspace_id, query)
    topics = list(dict.fromkeys(query.topics))
    drivers = [*numeric, *(TOPIC_PREFIX + t for t in topics)]
    fields = [*drivers, query.outcome]
    matrix, total, tops = _pivot(session, workspace_id, query, [*numeric, query.outcome], topics)
    answered = ~np.isnan(matrix).any(axis=1)
    complete = matrix[answered]
    n, p = complete.shape[0], len(drivers)
    needed = max(MIN_ROWS, p + 10)
    if n < needed:
        raise InvalidInput(
            f"Too few complete submissions: {n} answer the outcome and every driver; at least {needed} are needed "
            f"for {p} driver(s). Drop drivers that are rarely answered or widen the date range."
        )
    constant = [f for f, sd in zip(fields, complete.std(axis=0), strict=True) if sd == 0]
    if constant:
        raise InvalidInput(
            f"Every complete submission gives the same answer for {', '.join(constant)}: nothing to explain."
        )
    try:
        result = decompose(complete, bootstrap=query.bootstrap, seed=query.seed, confidence=query.confidence)
    except DriverDataError as exc:
        raise InvalidInput(f"Cannot decompose: {exc}. Remove a driver that duplicates another.") from None
    performance = _performance(complete[:, : len(numeric)], tops[answered], numeric, query.performance) + [
        100.0 * float(col.mean())
        for col in complete[:, len(numeric) : p].T  # topics: % of submissions mentioning
    ]
    importance = list(result.johnson)
    imp_median, perf_median, quads = quadrants(importance, performance)
    labels = _labels(session, workspace_id, numeric) | {TOPIC_PREFIX + t: f"Topic: {t}" for t in topics}
    rows = [
        _driver_row(result, j, field, labels.get(field, field), performance[j], quads[j])
        for j, field in enumerate(drivers)
    ]
    rows.sort(key=lambda d: -d.johnson)
    return DriverResult(
        outcome=query.outcome,
        source_name=query.source_name,
        n=n,
        dropped=total - n,
        r2=result.r2,
        bootstrap=query.bootstrap,
        seed=query.seed,
        confidence=query.confidence,
        performance=query.performance,
        importance_median=imp_median,
        performance_median=perf_median,
        drivers=rows,
    )


def _driver_row(result: Decomposition, j: int, field: str, label: str, performance: float, quad: Quadrant) -> Driver:
    def bound(interval: np.ndarray | None, side: int) -> float | None:
        return None if interval is None else float(interval[j, side])

    r2 = result.r2 or 1.0
    return Driver(
        field_id=field,
        label=label,
        johnson=float(result.johnson[j]),
        johnson_lower=bound(result.johnson_interval, 0),
        johnson_upper=bound(result.johnson_interval, 1),
        johnson_share=100 * float(result.johnson[j]) / r2,
        shapley=float(result.shapley[j]),
        shapley_lower=bound(result.shapley_interval, 0),
        shapley_upper=bound(result.shapley_interval, 1),
        shapley_share=100 * float(result.shapley[j]) / r2,
        significant=None if result.significant is None else bool(result.significant[j]),
        performance=performance,
        quadrant=quad,
    )


def _scope(query: DriverQuery) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [FR.field_type.in_(NUMERIC_FIELD_TYPES), FR.value_number.is_not(None)]
    if query.source_name:
        conds.append(FR.source_name == query.source_name)
    start, end = day_start(query.date_from), day_after(query.date_to)
    if start is not None:
        conds.append(FR.collected_at >= start)
    if end is not None:
        conds.append(FR.collected_at < end)
    return conds


def _driver_fields(session: Session, workspace_id: int, query: DriverQuery) -> list[str]:
    """The drivers asked for (checked), or every numeric field answered in the outcome's sources."""
    scope = [FR.workspace_id == workspace_id, *_scope(query)]
    present = set(session.scalars(select(FR.field_id).where(*scope).distinct()))
    if query.outcome not in present:
        raise NotFound(f"No numeric answers to the outcome {query.outcome!r}" + _where(query) + ".")
    drivers = list(dict.fromkeys(query.drivers))
    if not drivers and not query.topics:
        sources = select(FR.source_type, FR.source_name).where(*scope, FR.field_id == query.outcome).distinct()
        pairs = list(session.execute(sources))
        drivers = sorted(
            set(
                session.scalars(
                    select(FR.field_id)
                    .where(*scope, FR.field_id != query.outcome)
                    .where(tuple_(FR.source_type, FR.source_name).in_([(a, b) for a, b in pairs]))
                    .distinct()
                )
            )
        )
        if not drivers:
            raise InvalidInput(f"No numeric driver fields are answered alongside {query.outcome!r}.")
    count = len(drivers) + len(set(query.topics))
    if count > MAX_DRIVERS:
        raise InvalidInput(
            f"{count} drivers given or found; at most {MAX_DRIVERS} can be decomposed "
            "(2^15 subsets). Name the drivers to use."
        )
    if query.outcome in drivers:
        raise InvalidInput(f"The outcome {query.outcome!r} cannot also be a driver.")
    missing = [d for d in drivers if d not in present]
    if missing:
        raise InvalidInput(f"No numeric answers to driver(s) {', '.join(missing)}" + _where(query) + ".")
    return drivers


def _where(query: DriverQuery) -> str:
    return f" in source {query.source_name!r}" if query.source_name else ""


def _pivot(
    session: Session, workspace_id: int, query: DriverQuery, fields: list[str], topics: list[str]
) -> tuple[np.ndarray, int, np.ndarray]:
    """Submissions x (numeric drivers, topics, outcome), NaN where unknown; how many submissions there are; and
    submissions x numeric drivers: 1 where the answer is in the top box of its declared scale, 0 where not, NaN
    where unknown or the record has no scale."""
    column = {f: i for i, f in enumerate(fields)}
    stmt = select(
        FR.source_type, FR.source_name, FR.submission_id, FR.field_id, FR.value_number, FR.scale_min, FR.scale_max
    ).where(
        FR.workspace_id == workspace_id,
        FR.field_id.in_(fields),
        *_scope(query),
    )
    rows: dict[tuple[str, str, str], np.ndarray] = defaultdict(lambda: np.full(len(fields), np.nan))
    tops: dict[tuple[str, str, str], np.ndarray] = defaultdict(lambda: np.full(len(fields), np.nan))
    for st, sn, sub, field, value, low, high in session.execute(stmt):
        rows[(st, sn, sub)][column[field]] = value
        if value is not None and low is not None and high is not None:
            tops[(st, sn, sub)][column[field]] = float(value >= top_box_min(low, high))
    if not rows:
        return np.empty((0, len(fields) + len(topics))), 0, np.empty((0, len(fields) - 1))
    keys = list(rows)
    numeric = np.vstack([rows[k] for k in keys])
    top_flags = np.vstack([tops[k] for k in keys])[:, :-1]
    if not topics:
        return numeric, len(rows), top_flags
    mentions = _topic_mentions(session, workspace_id, query, topics, set(keys))
    flags = np.vstack([mentions.get(k, np.zeros(len(topics))) for k in keys])
    # Columns: numeric drivers, topics, outcome (the outcome stays last).
    return np.column_stack([numeric[:, :-1], flags, numeric[:, -1]]), len(rows), top_flags


def _topic_mentions(
    session: Session, workspace_id: int, query: DriverQuery, topics: list[str], wanted: set[tuple[str, str, str]]
) -> dict[tuple[str, str, str], np.ndarray]:
    """Per submission: 1/0 whether its texts carry each topic. A submission without text mentions nothing (0);
    one whose texts are not analysed yet is unknown (NaN) and drops out as incomplete."""
    stmt = select(FR.source_type, FR.source_name, FR.submission_id, FR.topics).where(
        FR.workspace_id == workspace_id, FR.field_type == "text", FR.value_text.is_not(None)
    )
    if query.source_name:
        stmt = stmt.where(FR.source_name == query.source_name)
    index = {t: i for i, t in enumerate(topics)}
    out: dict[tuple[str, str, str], np.ndarray] = {}
    seen: set[str] = set()
    for st, sn, sub, labels in session.execute(stmt):
        key = (st, sn, sub)
        if key not in wanted:
            continue
        row = out.setdefault(key, np.zeros(len(topics)))
        if labels is None:
            row[:] = np.nan
            continue
        for label in labels:
            if label in index:
                row[index[label]] = 1.0 if not np.isnan(row[index[label]]) else np.nan
                seen.add(label)
    missing = [t for t in topics if t not in seen]
    if missing:
        raise InvalidInput(f"No analysed text of these submissions mentions topic(s) {', '.join(missing)}.")
    return out


def _performance(drivers: np.ndarray, tops: np.ndarray, names: list[str], kind: str) -> list[float]:
    """Each numeric driver's mean, or its % of answers in the top box of their declared scales."""
    if kind == "mean":
        return [float(v) for v in drivers.mean(axis=0)]
    unscaled = [name for name, col in zip(names, tops.T, strict=True) if np.isnan(col).any()]
    if unscaled:
        raise InvalidInput(
            f"{', '.join(unscaled)} has answers without a declared scale (a number field), so it has no top box: "
            "declare scale_min/scale_max where it is collected, or use performance=mean."
        )
    return [100.0 * float(col.mean()) for col in tops.T]


def _labels(session: Session, workspace_id: int, fields: list[str]) -> dict[str, str]:
    rows = session.execute(
        select(FR.field_id, func.max(FR.field_label))
        .where(FR.workspace_id == workspace_id, FR.field_id.in_(fields))
        .group_by(FR.field_id)
    )
    return {f: label or f for f, label in rows}
