"""Key-driver mathematics against independent computations written out in the test."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from cem.analytics.analyses import drivers as kd


def _ols_r2(x: np.ndarray, y: np.ndarray) -> float:
    """R^2 of an ordinary least-squares fit with intercept, straight from the raw data (no correlations)."""
    if x.shape[1] == 0:
        return 0.0
    design = np.column_stack([np.ones(len(y)), x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coef
    return 1.0 - float(residual @ residual) / float(((y - y.mean()) ** 2).sum())


def _correlated(n: int, p: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    common = rng.standard_normal((n, 1))
    x = rng.standard_normal((n, p)) + 0.8 * common  # drivers share a halo factor, as ratings do
    y = x @ np.linspace(1.0, 0.2, p) + 2.0 * rng.standard_normal(n)
    return np.column_stack([x, y])


def test_relative_weights_and_shapley_sum_to_r2() -> None:
    data = _correlated(500, 6, seed=1)
    rxx, rxy = kd.correlations(data)
    r2 = _ols_r2(data[:, :-1], data[:, -1])
    assert kd.relative_weights(rxx, rxy).sum() == pytest.approx(r2, abs=1e-10)
    assert kd.shapley_values(rxx, rxy).sum() == pytest.approx(r2, abs=1e-10)
    assert (kd.relative_weights(rxx, rxy) > 0).all()


def test_uncorrelated_drivers_get_their_squared_correlation() -> None:
    """With orthogonal drivers both methods reduce to r_xy^2: checks Johnson's transformation by hand."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((400, 3))
    q, _ = np.linalg.qr(x - x.mean(axis=0))  # exactly uncorrelated, centred columns
    y = q @ np.array([3.0, 2.0, 1.0]) + 0.05 * rng.standard_normal(400)
    data = np.column_stack([q, y])
    rxx, rxy = kd.correlations(data)
    expected = np.array([np.corrcoef(q[:, j], y)[0, 1] ** 2 for j in range(3)])
    np.testing.assert_allclose(kd.relative_weights(rxx, rxy), expected, atol=1e-10)
    np.testing.assert_allclose(kd.shapley_values(rxx, rxy), expected, atol=1e-10)


def test_shapley_matches_the_exhaustive_permutation_formula() -> None:
    """Average marginal R^2 gain over all 5! orders, each R^2 from a fresh least-squares fit on the raw data."""
    data = _correlated(300, 5, seed=3)
    x, y = data[:, :-1], data[:, -1]
    p = x.shape[1]
    expected = np.zeros(p)
    orders = list(itertools.permutations(range(p)))
    for order in orders:
        before: list[int] = []
        for j in order:
            expected[j] += _ols_r2(x[:, [*before, j]], y) - _ols_r2(x[:, before], y)
            before.append(j)
    expected /= len(orders)
    rxx, rxy = kd.correlations(data)
    np.testing.assert_allclose(kd.shapley_values(rxx, rxy), expected, atol=1e-10)


def test_every_subset_r2_matches_least_squares() -> None:
    data = _correlated(200, 4, seed=5)
    r2 = kd.all_subset_r2(*kd.correlations(data))
    for mask in range(16):
        cols = [j for j in range(4) if mask >> j & 1]
        assert r2[mask] == pytest.approx(_ols_r2(data[:, cols], data[:, -1]), abs=1e-10), cols


def test_subset_formula_equals_permutation_formula_for_fifteen_drivers() -> None:
    """At the 15-driver limit: the values add up to R^2, and driver 0's equals the subset formula written out."""
    data = _correlated(400, 15, seed=11)
    rxx, rxy = kd.correlations(data)
    values = kd.shapley_values(rxx, rxy)
    r2 = _ols_r2(data[:, :-1], data[:, -1])
    assert values.sum() == pytest.approx(r2, abs=1e-9)
    # Direct subset formula for driver 0, written out with factorials over all 2^14 subsets of the others.
    subsets = kd.all_subset_r2(rxx, rxy)
    p = 15
    total = 0.0
    for mask in range(1 << p):
        if mask & 1:
            continue
        size = bin(mask).count("1")
        weight = math.factorial(size) * math.factorial(p - size - 1) / math.factorial(p)
        total += weight * (subsets[mask | 1] - subsets[mask])
    assert values[0] == pytest.approx(total, abs=1e-12)


def test_johnson_and_shapley_agree_closely_on_known_data() -> None:
    """Johnson (2000) showed relative weights approximate dominance weights closely; so must ours."""
    data = _correlated(2000, 8, seed=2)
    rxx, rxy = kd.correlations(data)
    johnson, shapley = kd.relative_weights(rxx, rxy), kd.shapley_values(rxx, rxy)
    r2 = johnson.sum()
    assert np.abs(johnson - shapley).max() < 0.02 * r2
    assert list(np.argsort(-johnson)[:3]) == list(np.argsort(-shapley)[:3])  # same leading drivers


def test_bootstrap_is_seeded_and_flags_a_driver_that_is_noise() -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((400, 3))
    noise_driver = rng.standard_normal((400, 1))
    y = x @ np.array([1.0, 0.7, 0.5]) + rng.standard_normal(400)
    data = np.column_stack([x, noise_driver, y])
    first = kd.decompose(data, bootstrap=60, seed=9)
    again = kd.decompose(data, bootstrap=60, seed=9)
    other = kd.decompose(data, bootstrap=60, seed=10)
    assert first.johnson_interval is not None and again.johnson_interval is not None
    np.testing.assert_array_equal(first.johnson_interval, again.johnson_interval)
    assert other.johnson_interval is not None
    assert not np.array_equal(first.johnson_interval, other.johnson_interval)
    assert first.significant is not None and first.shapley_interval is not None
    assert list(first.significant) == [True, True, True, False]
    for interval, point in ((first.johnson_interval, first.johnson), (first.shapley_interval, first.shapley)):
        assert ((interval[:, 0] <= point) & (point <= interval[:, 1])).all()


def test_degenerate_data_is_refused() -> None:
    data = _correlated(100, 3, seed=1)
    constant = data.copy()
    constant[:, 1] = 4.0
    with pytest.raises(kd.DriverDataError, match="constant"):
        kd.decompose(constant, bootstrap=0)
    collinear = np.column_stack([data[:, :2], data[:, 0] * 2 + 1, data[:, -1]])
    with pytest.raises(kd.DriverDataError, match="collinear"):
        kd.decompose(collinear, bootstrap=0)
    with pytest.raises(kd.DriverDataError, match="at most 15"):
        kd.decompose(_correlated(100, 16, seed=1), bootstrap=0)


def test_quadrants_split_at_the_medians() -> None:
    imp_median, perf_median, names = kd.quadrants([0.3, 0.1, 0.2, 0.05], [3.0, 4.5, 4.8, 3.5])
    assert (imp_median, perf_median) == (pytest.approx(0.15), 4.0)
    assert names == ["priority", "secondary_strength", "key_strength", "low_priority"]
