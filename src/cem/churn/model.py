"""The churn model: standardised logistic regression over the encoded features, cross-validated, with reasons.

Logistic regression is the choice because its figures are the honest level for this kind of table (reference-results:
0.845 ROC AUC on Telco, the same as gradient boosting within a standard error) and because its contributions are
additive in log-odds, so a reason is exact, not an approximation: moving one column to the average customer's value
moves the risk by the stated points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from cem.churn.features import Encoding, learn_encoding, target_labels
from cem.errors import InvalidInput

Table = Sequence[Mapping[str, str]]


def new_pipeline() -> Pipeline:
    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))


@dataclass(frozen=True)
class FoldScores:
    roc_auc: float
    pr_auc: float
    brier: float


@dataclass(frozen=True)
class CrossValidation:
    folds: list[FoldScores]
    calibration: list[tuple[float, float, int]]  # (mean predicted, observed rate, n) per probability decile
    positives: int
    n: int

    def summary(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for name in ("roc_auc", "pr_auc", "brier"):
            values = np.array([getattr(f, name) for f in self.folds])
            out[name] = {"mean": float(values.mean()), "std": float(values.std())}
        return out


def _columns(rows: Table, target: str, id_column: str | None) -> list[str]:
    if not rows:
        raise InvalidInput("the table has no rows")
    header = list(rows[0].keys())
    for name in (target, id_column):
        if name is not None and name not in header:
            raise InvalidInput(f"no column {name!r}; the table has {', '.join(header[:30])}")
    return [c for c in header if c not in (target, id_column)]


def cross_validate(
    rows: Table, *, target: str, id_column: str | None = None, folds: int = 5, seed: int = 42
) -> CrossValidation:
    """Stratified k-fold: the encoding and the model are learnt on each training part only (no leakage)."""
    if folds < 2:
        raise InvalidInput("folds must be at least 2")
    columns = _columns(rows, target, id_column)
    y = target_labels(rows, target)
    if min(int(y.sum()), int(len(y) - y.sum())) < folds:
        raise InvalidInput(f"each class needs at least {folds} customers for {folds}-fold cross-validation")
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores: list[FoldScores] = []
    predicted = np.zeros(len(y))
    for train, test in splitter.split(np.zeros(len(y)), y):
        encoding = learn_encoding([rows[i] for i in train], columns)
        model = new_pipeline().fit(encoding.matrix([rows[i] for i in train]), y[train])
        p = model.predict_proba(encoding.matrix([rows[i] for i in test]))[:, 1]
        predicted[test] = p
        scores.append(
            FoldScores(
                float(roc_auc_score(y[test], p)),
                float(average_precision_score(y[test], p)),
                float(brier_score_loss(y[test], p)),
            )
        )
    return CrossValidation(scores, calibration_table(y, predicted), int(y.sum()), len(y))


def calibration_table(
    y: npt.NDArray[np.int_], p: npt.NDArray[np.float64], bins: int = 10
) -> list[tuple[float, float, int]]:
    """Out-of-fold predictions grouped by predicted-probability decile: predicted mean vs observed churn rate."""
    edges = np.quantile(p, np.linspace(0, 1, bins + 1))
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
    table = []
    for b in range(bins):
        members = which == b
        if members.any():
            table.append((float(p[members].mean()), float(y[members].mean()), int(members.sum())))
    return table


@dataclass(frozen=True)
class Reason:
    label: str  # "Contract = Month-to-month"
    points: float  # change in churn risk, percentage points, against the average customer's value


@dataclass
class ChurnModel:
    encoding: Encoding
    pipeline: Pipeline

    @classmethod
    def train(cls, rows: Table, *, target: str, id_column: str | None = None) -> ChurnModel:
        columns = _columns(rows, target, id_column)
        y = target_labels(rows, target)
        encoding = learn_encoding(rows, columns)
        return cls(encoding, new_pipeline().fit(encoding.matrix(rows), y))

    def risk(self, rows: Table) -> npt.NDArray[np.float64]:
        return np.asarray(self.pipeline.predict_proba(self.encoding.matrix(rows))[:, 1], dtype=float)

    def reasons(self, row: Mapping[str, str], top: int = 3) -> list[Reason]:
        return self.reasons_many([row], top)[0]

    def reasons_many(self, rows: Table, top: int = 3) -> list[list[Reason]]:
        """Per row, the columns that move its risk most, signed: the risk minus the risk with that column (all its
        indicators) set to the training average, in percentage points. One batch prediction per column."""
        x = self.encoding.matrix(rows)
        scaler: StandardScaler = self.pipeline[0]
        means = np.asarray(scaler.mean_, dtype=float)
        base = self.pipeline.predict_proba(x)[:, 1]
        by_column: dict[str, list[int]] = {}
        for j, feature in enumerate(self.encoding.features):
            by_column.setdefault(feature.column, []).append(j)
        columns = list(by_column)
        deltas = np.zeros((len(rows), len(columns)))
        for k, column in enumerate(columns):
            neutral = x.copy()
            neutral[:, by_column[column]] = means[by_column[column]]
            deltas[:, k] = 100.0 * (base - self.pipeline.predict_proba(neutral)[:, 1])
        order = np.argsort(-np.abs(deltas), axis=1)[:, :top]
        return [
            [Reason(_describe(columns[k], row), float(deltas[i, k])) for k in order[i]] for i, row in enumerate(rows)
        ]


def _describe(column: str, row: Mapping[str, str]) -> str:
    """ "Contract = Month-to-month", "tenure = 2", "days since last event = 12.5" (numbers shown short)."""
    value = (row.get(column) or "").strip()
    try:
        number = float(value)
    except ValueError:
        return f"{column} = {value or '(blank)'}"
    return f"{column} = {number:.4g}" if number != int(number) else f"{column} = {int(number)}"
