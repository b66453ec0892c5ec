"""CLV benchmark: fitting the buy-till-you-die models on CDNOW master, and scoring a million customers.

1. Build the calibration summary from CDNOW_master.txt (23,570 customers, 69,659 transactions; 39 weeks from
   1997-01-01) and fit BG/NBD, Pareto/NBD and Gamma-Gamma: seconds each.
2. Score 1,000,000 generated customers (summaries drawn from the fitted BG/NBD process itself, so they look like
   the real cohort): P(alive), expected purchases in 52 weeks, and 12-month discounted CLV with the Gamma-Gamma
   spend. Target: < 60 s on 2 cores, in process. Printed against the time numpy takes to read the same arrays
   once (the floor on this machine, measured in the same run).

Usage: .venv/bin/python benchmarks/clv.py [--data ../shared/data] [--customers 1000000]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:  # runnable as a plain script from a checkout
    sys.path.insert(0, str(REPO / "src"))

from cem.clv import btyd  # noqa: E402
from cem.clv.summary import Summary, summarise  # noqa: E402
from cem.clv.tables import read_purchases  # noqa: E402


def _timed(label: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    started, cpu = time.perf_counter(), time.process_time()
    result = fn(*args, **kwargs)
    print(f"{label:<48} {time.perf_counter() - started:8.2f} s wall {time.process_time() - cpu:8.2f} s CPU")
    return result


def generated_customers(fit: btyd.Fit, spend: btyd.Fit, n: int, seed: int = 0) -> Summary:
    """Customers drawn from the BG/NBD process with the fitted parameters (and Gamma-Gamma spend)."""
    rng = np.random.default_rng(seed)
    r, alpha, a, b = fit.values()
    p, q, gamma = spend.values()
    age = rng.uniform(26, 39, n)  # first purchases spread over the first quarter, as CDNOW's cohort
    rate = rng.gamma(r, 1 / alpha, n)
    drop = rng.beta(a, b, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    now = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    for _ in range(60):  # enough purchase opportunities for the busiest customers in 39 weeks
        gap = rng.exponential(1 / np.maximum(rate, 1e-9))
        now = now + gap
        bought = alive & (now <= age)
        x[bought] += 1
        t_x[bought] = now[bought]
        alive &= ~(bought & (rng.random(n) < drop))
        if not bought.any():
            break
    nu = rng.gamma(q, 1 / gamma, n)
    mean_spend = np.where(x > 0, rng.gamma(p * np.maximum(x, 1), 1 / nu) / np.maximum(x, 1), 0.0)
    return Summary(list(range(n)), x, t_x, age, mean_spend)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--customers", type=int, default=1_000_000)
    args = parser.parse_args()

    master = args.data / "cdnow" / "CDNOW_master.txt"
    purchases = _timed(
        "read CDNOW master (69,659 transactions)",
        read_purchases,
        master,
        customer_column="customer_id",
        date_column="date",
        value_column="dollar_value",
        date_format="%Y%m%d",
    )
    summary = _timed("summary, 39-week calibration", summarise, purchases, calibration_end=date(1997, 9, 30))
    print(f"  {len(summary):,} customers, {int(summary.frequency.sum()):,} repeat purchases")
    fits = {name: _timed(f"fit {name}", btyd.fit, name, summary) for name in ("bgnbd", "pnbd", "ggamma")}
    for name, fit in fits.items():
        params = ", ".join(f"{k}={v:.4g}" for k, v in fit.params.items())
        print(f"  {name}: {params}; log-likelihood {fit.log_likelihood:.1f}")

    crowd = _timed(
        f"generate {args.customers:,} customers", generated_customers, fits["bgnbd"], fits["ggamma"], args.customers
    )
    started = time.perf_counter()
    floor = float(np.sum(crowd.frequency) + np.sum(crowd.recency) + np.sum(crowd.T) + np.sum(crowd.monetary_value))
    floor_s = time.perf_counter() - started
    scoring_started, scoring_cpu = time.perf_counter(), time.process_time()
    alive = btyd.probability_alive(fits["bgnbd"], crowd)
    expected = btyd.expected_purchases(fits["bgnbd"], crowd, 52.0)
    clv = btyd.lifetime_value(fits["bgnbd"], fits["ggamma"], crowd, periods=12, discount_rate=0.01)
    scoring_s = time.perf_counter() - scoring_started
    scoring_cpu = time.process_time() - scoring_cpu
    assert np.isfinite(floor) and np.all(np.isfinite(clv)) and np.all((alive > 0) & (alive <= 1))
    print(
        f"score {args.customers:,} customers (P(alive), 52-week purchases, 12-month CLV): {scoring_s:.2f} s "
        f"wall, {scoring_cpu:.2f} s CPU (target < 60 s); {args.customers / scoring_s:,.0f} customers/s; "
        f"{scoring_s / max(floor_s, 1e-9):,.0f}x one pass of numpy over the same arrays"
    )
    print(
        f"  mean P(alive) {alive.mean():.3f}, mean expected purchases {expected.mean():.3f}, mean CLV {clv.mean():.2f}"
    )


if __name__ == "__main__":
    main()
