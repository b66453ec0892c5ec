"""BG/NBD, Pareto/NBD and Gamma-Gamma: maximum-likelihood fits and per-customer predictions.

Why these are written here rather than imported: `lifetimes` is unmaintained and `btyd` archived; the current
`pymc-marketing` needs Python >= 3.12 and pulls pymc and pytensor; `clvkit` has no Pareto/NBD and needs pandas 3.
The likelihoods are a few closed-form lines each (Fader, Hardie & Lee 2005 for BG/NBD; Fader & Hardie's 2005 note
on the Pareto/NBD; Fader & Hardie 2013 for Gamma-Gamma) and plain maximum likelihood with scipy reproduces all
three published CDNOW fits in about a second, which tests/clv check against the data.

Everything is computed in log space: on a large store a frequent buyer's (alpha + T)^(r + x) overflows a float.
Parameters are fitted on their logarithms so that they stay positive without bounds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import optimize, special

from cem.clv.summary import Summary
from cem.errors import InvalidInput

Array = npt.NDArray[np.float64]
ModelName = Literal["bgnbd", "pnbd", "ggamma"]
PARAM_NAMES: dict[str, tuple[str, ...]] = {
    "bgnbd": ("r", "alpha", "a", "b"),
    "pnbd": ("r", "alpha", "s", "beta"),
    "ggamma": ("p", "q", "gamma"),
}


@dataclass(frozen=True)
class Fit:
    """A fitted model: its parameters by the paper's names, the log-likelihood, and how many customers it saw."""

    model: ModelName
    params: dict[str, float]
    log_likelihood: float
    n: int
    converged: bool

    def values(self) -> tuple[float, ...]:
        return tuple(self.params[name] for name in PARAM_NAMES[self.model])


# -- log-likelihoods (per customer) ------------------------------------------------------------------------------


def bgnbd_log_likelihood(params: Array, x: Array, t_x: Array, T: Array) -> Array:
    r, alpha, a, b = params
    common = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + special.betaln(a, b + x)
    common -= special.betaln(a, b)
    no_drop = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    dropped = np.full_like(x, -np.inf)
    dropped[repeat] = np.log(a) - np.log(b + x[repeat] - 1) - (r + x[repeat]) * np.log(alpha + t_x[repeat])
    return np.asarray(common + np.logaddexp(no_drop, dropped), dtype=float)


def _pnbd_log_a0(params: Array, x: Array, t_x: Array, T: Array) -> Array:
    """log A_0 of the Pareto/NBD likelihood (Fader & Hardie 2005 note, eq. 3), in the branch that keeps the
    hypergeometric function's argument in [0, 1)."""
    r, alpha, s, beta = params
    rsx = r + s + x
    if alpha >= beta:
        shift, second = alpha, s + 1
        z_at = lambda t: (alpha - beta) / (alpha + t)  # noqa: E731
    else:
        shift, second = beta, r + x
        z_at = lambda t: (beta - alpha) / (beta + t)  # noqa: E731
    log_f1 = np.log(special.hyp2f1(rsx, second, rsx + 1, z_at(t_x))) - rsx * np.log(shift + t_x)
    log_f2 = np.log(special.hyp2f1(rsx, second, rsx + 1, z_at(T))) - rsx * np.log(shift + T)
    # A_0 = f1 - f2 > 0 (t_x <= T); log1p keeps precision when the two are close.
    with np.errstate(divide="ignore"):
        return np.asarray(log_f1 + np.log1p(-np.exp(log_f2 - log_f1)), dtype=float)


def pnbd_log_likelihood(params: Array, x: Array, t_x: Array, T: Array) -> Array:
    r, alpha, s, beta = params
    head = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    log_a0 = _pnbd_log_a0(params, x, t_x, T)
    return np.asarray(head + np.logaddexp(alive, np.log(s / (r + s + x)) + log_a0), dtype=float)


def ggamma_log_likelihood(params: Array, x: Array, m: Array) -> Array:
    """Gamma-Gamma for repeat buyers: x repeat purchases with mean value m (both > 0)."""
    p, q, gamma = params
    px = p * x
    return np.asarray(
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(gamma + m * x),
        dtype=float,
    )


# -- fitting ---------------------------------------------------------------------------------------------------


def _maximise(total: Callable[[Array], float], *starts: Array) -> tuple[Array, float, bool]:
    """Maximise a log-likelihood over positive parameters (searched on their logs) from each start, keeping the
    best: Nelder-Mead finds a basin robustly, BFGS then polishes to the precision the published figures have.
    Several starts guard against a flat ridge (Gamma-Gamma's p -> infinity) capturing a single search."""

    def negative(log_params: Array) -> float:
        with np.errstate(all="ignore"):
            value = total(np.exp(log_params))
        return -value if np.isfinite(value) else 1e300

    found: list[tuple[float, Array, bool]] = []
    for start in starts:
        coarse = optimize.minimize(
            negative, np.log(start), method="Nelder-Mead", options={"maxiter": 20_000, "xatol": 1e-7, "fatol": 1e-9}
        )
        fine = optimize.minimize(negative, coarse.x, method="BFGS", options={"gtol": 1e-6})
        best = fine if fine.fun <= coarse.fun else coarse
        found.append((float(best.fun), best.x, bool(coarse.success or fine.success)))
    value, log_params, converged = min(found, key=lambda f: f[0])
    return np.exp(log_params), -value, converged


def fit_bgnbd(summary: Summary) -> Fit:
    _need_customers(summary)
    x, t_x, age = summary.frequency, summary.recency, summary.T
    params, ll, ok = _maximise(lambda p: float(bgnbd_log_likelihood(p, x, t_x, age).sum()), np.ones(4))
    return _fit("bgnbd", params, ll, len(summary), ok)


def fit_pnbd(summary: Summary) -> Fit:
    _need_customers(summary)
    x, t_x, age = summary.frequency, summary.recency, summary.T
    params, ll, ok = _maximise(lambda p: float(pnbd_log_likelihood(p, x, t_x, age).sum()), np.ones(4))
    return _fit("pnbd", params, ll, len(summary), ok)


def fit_ggamma(summary: Summary) -> Fit:
    """Fits on the repeat buyers only (x > 0 and a positive mean spend), as the model is defined."""
    keep = (summary.frequency > 0) & (summary.monetary_value > 0)
    if keep.sum() < 2:
        raise InvalidInput("the Gamma-Gamma spend model needs at least 2 customers with repeat purchases and a value")
    x, m = summary.frequency[keep], summary.monetary_value[keep]
    params, ll, ok = _maximise(
        lambda p: float(ggamma_log_likelihood(p, x, m).sum()),
        np.ones(3),
        np.array([5.0, 3.0, 10.0]),
        np.array([2.0, 2.0, float(np.median(m))]),
    )
    return _fit("ggamma", params, ll, int(keep.sum()), ok)


FITTERS: dict[str, Callable[[Summary], Fit]] = {"bgnbd": fit_bgnbd, "pnbd": fit_pnbd, "ggamma": fit_ggamma}


def fit(model: str, summary: Summary) -> Fit:
    if model not in FITTERS:
        raise InvalidInput(f"Unknown model {model!r}; use one of: {', '.join(FITTERS)}.")
    return FITTERS[model](summary)


def _fit(model: ModelName, params: Array, ll: float, n: int, converged: bool) -> Fit:
    names = PARAM_NAMES[model]
    return Fit(model, {name: float(v) for name, v in zip(names, params, strict=True)}, ll, n, converged)


def _need_customers(summary: Summary) -> None:
    if len(summary) < 2:
        raise InvalidInput("fitting needs at least 2 customers")
    if not np.any(summary.frequency > 0):
        raise InvalidInput("no customer has a repeat purchase: the purchase rate cannot be estimated")


# -- predictions -----------------------------------------------------------------------------------------------


def probability_alive(fit: Fit, summary: Summary) -> Array:
    """P(the customer is still active at the end of the calibration period | history)."""
    x, t_x, age = summary.frequency, summary.recency, summary.T
    if fit.model == "bgnbd":
        r, alpha, a, b = fit.values()
        log_ratio = np.full_like(x, -np.inf)
        repeat = x > 0
        log_ratio[repeat] = (
            np.log(a)
            - np.log(b + x[repeat] - 1)
            + (r + x[repeat]) * (np.log(alpha + age[repeat]) - np.log(alpha + t_x[repeat]))
        )
        return np.asarray(1.0 / (1.0 + np.exp(log_ratio)), dtype=float)
    if fit.model == "pnbd":
        r, alpha, s, beta = fit.values()
        params = np.array(fit.values())
        log_ratio = (
            np.log(s / (r + s + x))
            + (r + x) * np.log(alpha + age)
            + s * np.log(beta + age)
            + _pnbd_log_a0(params, x, t_x, age)
        )
        return np.asarray(1.0 / (1.0 + np.exp(log_ratio)), dtype=float)
    raise InvalidInput("P(alive) comes from a purchase model (bgnbd or pnbd), not the spend model")


def expected_purchases(fit: Fit, summary: Summary, horizon: float | Array) -> Array:
    """Expected purchases in the next `horizon` time units, given each customer's history."""
    x, age = summary.frequency, summary.T
    t = np.asarray(horizon, dtype=float)
    if fit.model == "bgnbd":
        r, alpha, a, b = fit.values()
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + age + t))
        head = (a + b + x - 1) / (a - 1) * (1 - ((alpha + age) / (alpha + age + t)) ** (r + x) * hyp)
        return np.asarray(head * probability_alive(fit, summary), dtype=float)
    if fit.model == "pnbd":
        r, alpha, s, beta = fit.values()
        head = (r + x) * (beta + age) / ((alpha + age) * (s - 1)) * (1 - ((beta + age) / (beta + age + t)) ** (s - 1))
        return np.asarray(head * probability_alive(fit, summary), dtype=float)
    raise InvalidInput("expected purchases come from a purchase model (bgnbd or pnbd)")


def expected_purchases_new(fit: Fit, t: float | Array) -> Array:
    """E[X(t)]: expected purchases of a customer in the first t time units after their first purchase."""
    t = np.asarray(t, dtype=float)
    if fit.model == "bgnbd":
        r, alpha, a, b = fit.values()
        hyp = special.hyp2f1(r, b, a + b - 1, t / (alpha + t))
        return np.asarray((a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp), dtype=float)
    if fit.model == "pnbd":
        r, alpha, s, beta = fit.values()
        return np.asarray(r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + t)) ** (s - 1)), dtype=float)
    raise InvalidInput("expected purchases come from a purchase model (bgnbd or pnbd)")


def expected_spend(fit: Fit, summary: Summary) -> Array:
    """Gamma-Gamma: the expected value of a customer's future purchases; the population mean for non-repeaters."""
    if fit.model != "ggamma":
        raise InvalidInput("expected spend comes from the Gamma-Gamma model (ggamma)")
    p, q, gamma = fit.values()
    x, m = summary.frequency, summary.monetary_value
    population_mean = p * gamma / (q - 1) if q > 1 else float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        conditional = p * (gamma + m * x) / (p * x + q - 1)
    return np.asarray(np.where((x > 0) & (m > 0), conditional, population_mean), dtype=float)


def lifetime_value(
    purchases: Fit,
    spend: Fit,
    summary: Summary,
    *,
    periods: int = 12,
    period_length: float = 30.0 / 7.0,
    discount_rate: float = 0.01,
) -> Array:
    """Expected discounted value over `periods` future periods of `period_length` time units (default: 12 months
    in weeks), discounting each period's expected purchases times the expected spend at `discount_rate` per period."""
    if periods < 1 or period_length <= 0 or discount_rate < 0:
        raise InvalidInput("periods must be >= 1, period_length > 0 and discount_rate >= 0")
    value_per_purchase = expected_spend(spend, summary)
    total = np.zeros(len(summary))
    previous = np.zeros(len(summary))
    for i in range(1, periods + 1):
        cumulative = expected_purchases(purchases, summary, i * period_length)
        total += (cumulative - previous) * value_per_purchase / (1 + discount_rate) ** i
        previous = cumulative
    return total
