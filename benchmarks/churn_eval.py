"""Churn model evaluation on IBM Telco (../shared/data/telco-churn) with the reference protocol.

Protocol (../shared/docs/reference-results.md): drop customerID; TotalCharges to numeric (blank -> 0); one-hot with
the first category dropped; StratifiedKFold(5, shuffle=True, random_state=42). Prints ROC AUC, PR-AUC and Brier score
(mean +/- sd over the folds) of cem's churn model, the reference logistic regression figure to compare with
(0.8451 +/- 0.0133; above ~0.87 on this data means leakage), a calibration chart of the out-of-fold predictions
(predicted vs observed churn rate per decile, drawn in text), and the time taken.

Usage: .venv/bin/python benchmarks/churn_eval.py [--data ../shared/data] [--folds 5] [--seed 42]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:  # runnable as a plain script from a checkout
    sys.path.insert(0, str(REPO / "src"))

from cem.churn.model import cross_validate  # noqa: E402

BAR = 50  # characters for 100 %


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    path = args.data / "telco-churn" / "WA_Fn-UseC_-Telco-Customer-Churn.csv"
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    started, cpu = time.perf_counter(), time.process_time()
    result = cross_validate(rows, target="Churn", id_column="customerID", folds=args.folds, seed=args.seed)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    scores = result.summary()
    print(f"Telco: {result.n:,} customers, {result.positives:,} churned ({100 * result.positives / result.n:.2f} %)")
    print(f"{args.folds}-fold stratified CV, seed {args.seed}: {wall:.1f} s wall, {cpu:.1f} s CPU")
    for name, label in (("roc_auc", "ROC AUC"), ("pr_auc", "PR-AUC"), ("brier", "Brier score")):
        print(f"  {label:<12} {scores[name]['mean']:.4f} +/- {scores[name]['std']:.4f}")
    print("  reference logistic regression ROC AUC 0.8451 +/- 0.0133 (target >= 0.845; > 0.87 means leakage)")
    print("calibration (out-of-fold, by predicted-risk decile): predicted '#', observed '|'")
    for predicted, observed, n in result.calibration:
        line = [" "] * (BAR + 1)
        for i in range(round(predicted * BAR) + 1):
            line[i] = "#"
        line[round(observed * BAR)] = "|"
        print(f"  {100 * predicted:5.1f} % vs {100 * observed:5.1f} %  (n={n:>4})  {''.join(line)}")


if __name__ == "__main__":
    main()
