"""A workspace's own sentiment model: logistic regression on the stored embeddings of records users corrected.

It is cross-validated on the same stratified folds as the default model, and becomes the workspace's model only when
its macro-F1 beats the default's on those folds. Weights are stored as JSON numbers (no pickle: nothing executable
is ever loaded from the database).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from cem.text.sentiment import CLASSES, MIXED_MIN, Sentiment

MIN_SAMPLES = 10
MIN_PER_CLASS = 2
FOLDS = 5
SEED = 0
# Inverse regularisation strength: the value the 5-fold benchmark on the airline tweets favours for e5 vectors.
C = 4.0
# From this many labels on, C is picked from CS by an inner cross-validation (as the evaluation benchmark does).
MIN_FOR_INNER_CV = 60
INNER_FOLDS = 3
CS = (0.3, 1.0, 3.0, 10.0, 30.0)

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LinearHead:
    """Softmax regression weights over embeddings; `classes` lists the labels the rows of coef stand for."""

    classes: tuple[str, ...]
    coef: Floats
    intercept: Floats

    def probabilities(self, vectors: npt.NDArray[Any]) -> Floats:
        z = np.asarray(vectors, dtype=np.float64) @ self.coef.T + self.intercept
        if len(self.classes) == 2 and self.coef.shape[0] == 1:
            z = np.hstack([-z / 2, z / 2])  # sklearn's binary form: one row of weights for the second class
        z = np.exp(z - z.max(axis=1, keepdims=True))
        out: Floats = z / z.sum(axis=1, keepdims=True)
        return out

    def sentiments(self, vectors: npt.NDArray[Any]) -> list[Sentiment]:
        p = self.probabilities(vectors)
        index = {c: i for i, c in enumerate(self.classes)}
        out = []
        for row in p:
            neg = float(row[index["negative"]]) if "negative" in index else 0.0
            pos = float(row[index["positive"]]) if "positive" in index else 0.0
            polarity = self.classes[int(np.argmax(row))]
            label = "mixed" if min(neg, pos) >= MIXED_MIN else polarity
            out.append(Sentiment(label, round(pos - neg, 4), polarity))
        return out

    def to_json(self) -> dict[str, Any]:
        return {"coef": self.coef.tolist(), "intercept": self.intercept.tolist()}

    @classmethod
    def from_json(cls, classes: Sequence[str], weights: dict[str, Any]) -> LinearHead:
        return cls(
            tuple(classes),
            np.asarray(weights["coef"], dtype=np.float64),
            np.asarray(weights["intercept"], dtype=np.float64),
        )


@dataclass(frozen=True)
class TrainingReport:
    samples: int
    classes: tuple[str, ...]
    folds: int
    cv_accuracy: float
    cv_macro_f1: float
    default_accuracy: float
    default_macro_f1: float
    head: LinearHead

    @property
    def beats_default(self) -> bool:
        return self.cv_macro_f1 > self.default_macro_f1


def training_problem(labels: Sequence[str]) -> str | None:
    """Why these corrected labels cannot train a model, or None."""
    counts = {c: labels.count(c) for c in CLASSES if c in labels}
    if len(labels) < MIN_SAMPLES:
        return f"Training needs at least {MIN_SAMPLES} corrected sentiment labels; this workspace has {len(labels)}."
    if len(counts) < 2:
        return "Training needs corrected labels of at least two classes (e.g. negative and positive)."
    thin = [c for c, n in counts.items() if n < MIN_PER_CLASS]
    if thin:
        return f"Each class needs at least {MIN_PER_CLASS} corrected examples; too few: {', '.join(thin)}."
    return None


def _fit(x: Floats, y: Sequence[str]) -> LinearHead:
    """Balanced logistic regression; with enough labels its C is chosen by an inner 3-fold cross-validation."""
    import warnings

    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV

    labels = list(y)
    smallest = min(labels.count(c) for c in set(labels))
    model: LogisticRegression | LogisticRegressionCV
    if len(labels) >= MIN_FOR_INNER_CV and smallest >= INNER_FOLDS:
        model = LogisticRegressionCV(Cs=CS, cv=INNER_FOLDS, class_weight="balanced", max_iter=3000)
    else:
        model = LogisticRegression(C=C, max_iter=2000, class_weight="balanced")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # sklearn's notices about future defaults, not our data
        model.fit(x, labels)
    return LinearHead(tuple(str(c) for c in model.classes_), model.coef_.astype(np.float64), model.intercept_)


def train(vectors: npt.NDArray[Any], labels: Sequence[str], default_labels: Sequence[str]) -> TrainingReport:
    """Cross-validate a logistic regression against the default model's labels on the same folds, then fit on all.

    `default_labels` are the default model's polarity labels for the same records (mixed read as its polarity).
    """
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import StratifiedKFold

    problem = training_problem(list(labels))
    if problem:
        raise ValueError(problem)
    x = np.asarray(vectors, dtype=np.float64)
    y = np.asarray(labels)
    smallest = min(int((y == c).sum()) for c in set(labels))
    folds = max(2, min(FOLDS, smallest))
    predicted = np.empty(len(y), dtype=object)
    for train_rows, test_rows in StratifiedKFold(folds, shuffle=True, random_state=SEED).split(x, y):
        head = _fit(x[train_rows], y[train_rows].tolist())
        predicted[test_rows] = [s.polarity for s in head.sentiments(x[test_rows])]
    present = sorted(set(labels))
    default = np.asarray(default_labels)
    return TrainingReport(
        samples=len(y),
        classes=tuple(present),
        folds=folds,
        cv_accuracy=round(float(accuracy_score(y, predicted.astype(str))), 4),
        cv_macro_f1=round(float(f1_score(y, predicted.astype(str), labels=present, average="macro")), 4),
        default_accuracy=round(float(accuracy_score(y, default)), 4),
        default_macro_f1=round(float(f1_score(y, default, labels=present, average="macro")), 4),
        head=_fit(x, y.tolist()),
    )
