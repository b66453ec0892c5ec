"""Interval estimates and tests for CX metrics, computed from additive counts and sums.

Formulas: shared/docs/reference-results.md and cx-landscape.md section 6 (Rocks 2016 adjusted Wald for NPS,
Wilson for proportions, Student t for means, z-test for a change between periods, Benjamini-Hochberg).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

DEFAULT_CONFIDENCE = 0.95
DEFAULT_MIN_N = 30
_NORMAL = NormalDist()


@dataclass(frozen=True)
class Estimate:
    """A value with its interval and sample size; value is None when n is below the minimum."""

    value: float | None
    lower: float | None
    upper: float | None
    n: int
    enough: bool
    # The point estimate and variance a change test uses (adjusted for NPS); None when not enough data.
    test_point: float | None = None
    test_variance: float | None = None


@dataclass(frozen=True)
class Change:
    """Difference between a current and a previous estimate with a two-sided z-test."""

    change: float | None
    z: float | None
    p_value: float | None


def z_value(confidence: float = DEFAULT_CONFIDENCE) -> float:
    """Two-sided normal quantile, e.g. 1.959964 for 95 %."""
    return _NORMAL.inv_cdf(0.5 + confidence / 2)


def not_enough(n: int) -> Estimate:
    """The "not enough data" estimate: never a number."""
    return Estimate(value=None, lower=None, upper=None, n=n, enough=False)


def nps_adjusted_wald(
    promoters: int, detractors: int, n: int, *, confidence: float = DEFAULT_CONFIDENCE, min_n: int = DEFAULT_MIN_N
) -> Estimate:
    """NPS (-100..100) with the adjusted-Wald interval of Rocks (2016)."""
    if n <= 0 or n < min_n:
        return not_enough(n)
    n_adj = n + 3
    p_adj = (promoters + 0.75) / n_adj
    d_adj = (detractors + 0.75) / n_adj
    nps_adj = p_adj - d_adj
    var_adj = (p_adj + d_adj - nps_adj**2) / n_adj
    half = z_value(confidence) * math.sqrt(var_adj)
    return Estimate(
        value=100.0 * (promoters - detractors) / n,
        lower=100.0 * (nps_adj - half),
        upper=100.0 * (nps_adj + half),
        n=n,
        enough=True,
        test_point=100.0 * nps_adj,
        test_variance=10_000.0 * var_adj,
    )


def wilson(
    successes: int, n: int, *, confidence: float = DEFAULT_CONFIDENCE, min_n: int = DEFAULT_MIN_N, scale: float = 100.0
) -> Estimate:
    """A proportion (times `scale`, percent by default) with the Wilson score interval."""
    if n <= 0 or n < min_n:
        return not_enough(n)
    z = z_value(confidence)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return Estimate(
        value=scale * p,
        lower=scale * (centre - half),
        upper=scale * (centre + half),
        n=n,
        enough=True,
        test_point=scale * p,
        test_variance=scale * scale * p * (1 - p) / n,
    )


def t_mean(
    n: int, total: float, total_sq: float, *, confidence: float = DEFAULT_CONFIDENCE, min_n: int = DEFAULT_MIN_N
) -> Estimate:
    """A mean with its Student t interval, from the count, sum and sum of squares."""
    if n <= 0 or n < min_n:
        return not_enough(n)
    mean = total / n
    if n == 1:
        return Estimate(value=mean, lower=None, upper=None, n=n, enough=True)
    # max(): the one-pass formula can go a hair below zero through rounding when all values are equal.
    variance = max((total_sq - total * total / n) / (n - 1), 0.0)
    se2 = variance / n
    half = t_quantile(0.5 + confidence / 2, n - 1) * math.sqrt(se2)
    return Estimate(
        value=mean, lower=mean - half, upper=mean + half, n=n, enough=True, test_point=mean, test_variance=se2
    )


def count_only(n: int, *, min_n: int = 0) -> Estimate:
    """A plain count (e.g. feedback volume): no interval."""
    if n < min_n:
        return not_enough(n)
    return Estimate(value=float(n), lower=None, upper=None, n=n, enough=True)


def change_test(current: Estimate, previous: Estimate) -> Change:
    """Two-period change: z = (x1 - x2) / sqrt(Var1 + Var2), two-sided p from N(0, 1)."""
    if current.value is None or previous.value is None:
        return Change(change=None, z=None, p_value=None)
    diff = current.value - previous.value
    if None in (current.test_point, previous.test_point, current.test_variance, previous.test_variance):
        return Change(change=diff, z=None, p_value=None)
    assert current.test_point is not None and previous.test_point is not None  # narrowed above, for mypy
    assert current.test_variance is not None and previous.test_variance is not None
    se = math.sqrt(current.test_variance + previous.test_variance)
    if se == 0:
        return Change(change=diff, z=None, p_value=None)
    z = (current.test_point - previous.test_point) / se
    return Change(change=diff, z=z, p_value=2 * (1 - _NORMAL.cdf(abs(z))))


def benjamini_hochberg(p_values: list[float | None]) -> list[float | None]:
    """BH-adjusted p-values (q-values) in input order; None entries are skipped and stay None."""
    present = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(present)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 1.0
    # Walk from the largest p down so each q is the minimum over the ranks at or above it (monotone).
    for rank in range(m, 0, -1):
        p, index = present[rank - 1]
        running = min(running, p * m / rank)
        adjusted[index] = running
    return adjusted


# -- Student t quantile without scipy: regularised incomplete beta (Numerical Recipes' continued fraction) --


def _beta_cf(a: float, b: float, x: float) -> float:
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _reg_inc_beta(a: float, b: float, x: float) -> float:
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _beta_cf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_cf(b, a, 1 - x) / b


def t_cdf(t: float, df: float) -> float:
    """Student t cumulative distribution function."""
    t2 = t * t
    if t2 < df:
        # Near zero, I_x(df/2, 1/2) with x close to 1 loses precision; use the complementary form.
        half_mass = 0.5 * _reg_inc_beta(0.5, df / 2, t2 / (df + t2))
        return 0.5 + half_mass if t > 0 else 0.5 - half_mass
    tail = 0.5 * _reg_inc_beta(df / 2, 0.5, df / (df + t2))
    return 1 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """Inverse Student t CDF by bisection on t_cdf (accurate to ~1e-12)."""
    if not 0 < p < 1:
        raise ValueError("p must be in (0, 1)")
    lo, hi = -1.0, 1.0
    while t_cdf(lo, df) > p:
        lo *= 2
    while t_cdf(hi, df) < p:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-13:
            break
    return (lo + hi) / 2
