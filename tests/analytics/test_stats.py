"""Each statistic against arithmetic written out by hand in the test."""

from __future__ import annotations

import math

import pytest

from cem.analytics import stats

Z95 = 1.959963984540054  # the 97.5 % normal quantile


def test_z_value() -> None:
    assert stats.z_value(0.95) == pytest.approx(Z95, abs=1e-12)
    assert stats.z_value(0.90) == pytest.approx(1.6448536269514722, abs=1e-12)


def test_nps_adjusted_wald_by_hand() -> None:
    # 50 answers: 20 promoters, 10 detractors, 20 passives.
    est = stats.nps_adjusted_wald(20, 10, 50, min_n=30)
    # NPS = 100 * (20 - 10) / 50 = 20
    assert est.value == pytest.approx(20.0)
    # n' = 53, p' = 20.75 / 53, d' = 10.75 / 53, NPS' = 10 / 53
    p_adj, d_adj = 20.75 / 53, 10.75 / 53
    nps_adj = 10 / 53
    var_adj = (p_adj + d_adj - nps_adj**2) / 53  # (31.5/53 - 100/2809) / 53
    assert var_adj == pytest.approx((31.5 / 53 - 100 / 2809) / 53)
    half = Z95 * math.sqrt(var_adj)
    assert est.lower == pytest.approx(100 * (nps_adj - half), abs=1e-9)
    assert est.upper == pytest.approx(100 * (nps_adj + half), abs=1e-9)
    # Concretely: 18.8679 +/- 1.959964 * sqrt(0.0105423) * 100 = 18.8679 +/- 20.1241 NPS points.
    assert est.lower == pytest.approx(-1.2561, abs=1e-3)
    assert est.upper == pytest.approx(38.9920, abs=1e-3)
    assert est.n == 50 and est.enough


def test_nps_below_minimum_is_not_a_number() -> None:
    est = stats.nps_adjusted_wald(5, 1, 10, min_n=30)
    assert est.value is None and est.lower is None and est.upper is None
    assert est.n == 10 and not est.enough
    # Undefined, not 0, when nothing was answered, whatever the minimum.
    assert stats.nps_adjusted_wald(0, 0, 0, min_n=0).value is None


def test_wilson_by_hand() -> None:
    # 40 of 50 satisfied: p = 0.8
    est = stats.wilson(40, 50, min_n=1)
    z2 = Z95**2
    centre = (0.8 + z2 / 100) / (1 + z2 / 50)
    half = Z95 / (1 + z2 / 50) * math.sqrt(0.8 * 0.2 / 50 + z2 / (4 * 2500))
    assert est.value == pytest.approx(80.0)
    assert est.lower == pytest.approx(100 * (centre - half), abs=1e-9)
    assert est.upper == pytest.approx(100 * (centre + half), abs=1e-9)
    # Published Wilson interval for 40/50 at 95 %: 0.6696 .. 0.8876.
    assert est.lower == pytest.approx(66.96, abs=0.01)
    assert est.upper == pytest.approx(88.76, abs=0.01)


def test_wilson_all_successes_stays_below_one() -> None:
    est = stats.wilson(10, 10, min_n=1)
    assert est.value == 100.0
    assert est.upper == pytest.approx(100.0) and est.lower is not None and est.lower < 100


@pytest.mark.parametrize(
    ("p", "df", "expected"),
    [(0.975, 1, 12.706204736174703), (0.975, 9, 2.2621571627409915), (0.975, 29, 2.045229642132703), (0.5, 5, 0.0)],
)
def test_t_quantile_matches_tables(p: float, df: int, expected: float) -> None:
    assert stats.t_quantile(p, df) == pytest.approx(expected, abs=1e-9)


def test_t_quantile_rejects_bad_p() -> None:
    with pytest.raises(ValueError, match="p must be"):
        stats.t_quantile(1.0, 3)


def test_t_mean_by_hand() -> None:
    values = [2, 4, 4, 4, 5, 5, 7, 9, 3, 6]  # n = 10, sum = 49
    n, total, total_sq = len(values), float(sum(values)), float(sum(v * v for v in values))
    est = stats.t_mean(n, total, total_sq, min_n=1)
    mean = 49 / 10
    variance = sum((v - mean) ** 2 for v in values) / 9  # sample variance, n - 1
    half = 2.2621571627409915 * math.sqrt(variance / 10)  # t(0.975, 9)
    assert est.value == pytest.approx(4.9)
    assert est.lower == pytest.approx(mean - half, abs=1e-9)
    assert est.upper == pytest.approx(mean + half, abs=1e-9)


def test_change_test_nps_by_hand() -> None:
    now = stats.nps_adjusted_wald(30, 10, 60, min_n=1)
    before = stats.nps_adjusted_wald(15, 20, 60, min_n=1)
    p1, d1 = 30.75 / 63, 10.75 / 63
    p2, d2 = 15.75 / 63, 20.75 / 63
    v1 = (p1 + d1 - (p1 - d1) ** 2) / 63
    v2 = (p2 + d2 - (p2 - d2) ** 2) / 63
    z = ((p1 - d1) - (p2 - d2)) / math.sqrt(v1 + v2)
    p_value = math.erfc(abs(z) / math.sqrt(2))  # two-sided normal tail
    change = stats.change_test(now, before)
    assert change.change == pytest.approx(100 * 20 / 60 - 100 * (-5) / 60)
    assert change.z == pytest.approx(z, abs=1e-9)
    assert change.p_value == pytest.approx(p_value, abs=1e-12)
    assert change.p_value is not None and change.p_value < 0.05


def test_change_test_without_enough_data() -> None:
    change = stats.change_test(stats.nps_adjusted_wald(30, 10, 60, min_n=1), stats.not_enough(3))
    assert change.change is None and change.p_value is None


def test_benjamini_hochberg_by_hand() -> None:
    p = [0.01, 0.04, 0.03, None, 0.005]
    q = stats.benjamini_hochberg(p)
    # m = 4 present; sorted 0.005 (rank 1), 0.01 (2), 0.03 (3), 0.04 (4)
    # raw p*m/rank: 0.02, 0.02, 0.04, 0.04; then cumulative minimum from the top.
    assert q[4] == pytest.approx(0.02)
    assert q[0] == pytest.approx(0.02)
    assert q[2] == pytest.approx(0.04)
    assert q[1] == pytest.approx(0.04)
    assert q[3] is None


def test_benjamini_hochberg_is_monotone() -> None:
    # 0.03 * 2 / 1 = 0.06 > 0.04 * 2 / 2 = 0.04, so the smaller p is lifted... down to 0.04.
    assert stats.benjamini_hochberg([0.03, 0.04]) == [pytest.approx(0.04), pytest.approx(0.04)]
