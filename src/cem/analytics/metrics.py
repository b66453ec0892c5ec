"""The one registry of CX metrics.

A metric declares the additive aggregates it needs (counts and sums that can be added across days, buckets
and segments) and how its value and interval derive from them *after* aggregation. Engines compute the
aggregates; nothing else about a metric is engine-specific, so every engine gives the same numbers.
Adding a metric is one `register(Metric(...))` call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from cem import scores
from cem.analytics import stats
from cem.analytics.registry import add_unique
from cem.analytics.stats import Estimate

AggOp = Literal["count", "sum", "sum_sq"]
# What a metric counts: feedback records, or customers (churn).
Entity = Literal["feedback", "customer", "response", "invitation", "case"]
# Columns aggregates can read; engines map each to their store or snapshot column.
ValueColumn = Literal[
    "value_number",
    "sentiment_score",
    "sentiment_label",
    "churned",
    "completed",
    "responded",
    # Closed-loop cases (cem.cases): set on the case when the moment happens.
    "first_response_minutes",
    "resolution_minutes",
    "within_sla",
    "closed_loop",
    "recovered",
]


@dataclass(frozen=True)
class Agg:
    """One additive aggregate: count rows, or sum the value (or its square), over rows meeting the condition."""

    name: str
    op: AggOp = "count"
    low: float | None = None  # condition: value >= low
    high: float | None = None  # condition: value <= high
    top_box: bool = False  # condition: value in the top box of its record's declared scale (cem.scores.top_box_min)
    equals: str | None = None  # condition: `column` equals this text (e.g. sentiment_label = "negative")
    column: ValueColumn | None = None  # the column the conditions read; None: the metric's value column


@dataclass(frozen=True)
class Options:
    """How values are derived: confidence level and the minimum n below which there is "not enough data"."""

    confidence: float = stats.DEFAULT_CONFIDENCE
    min_n: int = stats.DEFAULT_MIN_N


Derive = Callable[[Mapping[str, float], Options], Estimate]


@dataclass(frozen=True)
class Metric:
    """A declared metric: which records it reads, its aggregates, and how value + interval derive from them."""

    slug: str
    label: str
    unit: str
    field_types: tuple[str, ...] | None  # None: every record
    aggregates: tuple[Agg, ...]
    derive: Derive
    answered_only: bool = True  # only rows whose value column is filled
    description: str = ""
    entity: Entity = "feedback"
    value: ValueColumn = "value_number"  # the column sums and low/high conditions read


N = Agg("n")
SUM = Agg("total", "sum")
_NPS = scores.SCORE_RULES["nps"]
SUM_SQ = Agg("total_sq", "sum_sq")

METRICS: dict[str, Metric] = {}


def register(metric: Metric) -> Metric:
    """Add a metric to the registry (slugs are unique)."""
    return add_unique(METRICS, metric.slug, metric, kind="metric")


def _count(values: Mapping[str, float], name: str) -> int:
    return int(values.get(name) or 0)


def _mean(values: Mapping[str, float], opts: Options) -> Estimate:
    return stats.t_mean(
        _count(values, "n"),
        float(values.get("total") or 0.0),
        float(values.get("total_sq") or 0.0),
        confidence=opts.confidence,
        min_n=opts.min_n,
    )


def _share(successes: str) -> Derive:
    def derive(values: Mapping[str, float], opts: Options) -> Estimate:
        return stats.wilson(
            _count(values, successes), _count(values, "n"), confidence=opts.confidence, min_n=opts.min_n
        )

    return derive


register(
    Metric(
        slug="nps",
        label="Net Promoter Score",
        unit="points",
        field_types=("nps",),
        aggregates=(
            N,
            Agg("promoters", low=scores.NPS_PROMOTER_MIN, high=_NPS.high),
            Agg("detractors", low=_NPS.low, high=scores.NPS_DETRACTOR_MAX),
        ),
        derive=lambda v, o: stats.nps_adjusted_wald(
            _count(v, "promoters"), _count(v, "detractors"), _count(v, "n"), confidence=o.confidence, min_n=o.min_n
        ),
        description="% promoters (9-10) minus % detractors (0-6); adjusted-Wald interval (Rocks 2016).",
    )
)
register(
    Metric(
        slug="csat",
        label="CSAT (top-2-box)",
        unit="%",
        field_types=("csat",),
        aggregates=(N, Agg("satisfied", top_box=True)),
        derive=_share("satisfied"),
        description=(
            "Share of answers in the top box of their declared scale (3 of 1-3, 4-5 of 1-5, 6-7 of 1-7, 9-10 of 1-10);"
            " Wilson interval."
        ),
    )
)
register(
    Metric(
        slug="ces",
        label="Customer Effort Score (mean)",
        unit="1-7",
        field_types=("ces",),
        aggregates=(N, SUM, SUM_SQ),
        derive=_mean,
        description="Mean agreement (1-7) that the company made it easy; t interval.",
    )
)
register(
    Metric(
        slug="ces_agree",
        label="CES share agreeing (5-7)",
        unit="%",
        field_types=("ces",),
        aggregates=(N, Agg("agree", low=scores.CES_AGREE_MIN, high=scores.SCORE_RULES["ces"].high)),
        derive=_share("agree"),
        description="Share of CES answers 5-7; Wilson interval.",
    )
)
register(
    Metric(
        slug="rating_mean",
        label="Mean rating",
        unit="score",
        field_types=("rating",),
        aggregates=(N, SUM, SUM_SQ),
        derive=_mean,
        description="Mean of rating answers; t interval.",
    )
)
register(
    Metric(
        slug="feedback_volume",
        label="Feedback volume",
        unit="records",
        field_types=None,
        aggregates=(N,),
        derive=lambda v, _o: stats.count_only(_count(v, "n")),
        answered_only=False,
        description="Number of feedback records (every type); a count has no interval and no minimum.",
    )
)


register(
    Metric(
        slug="sentiment_mean",
        label="Sentiment (mean)",
        unit="-1..1",
        field_types=None,
        aggregates=(N, SUM, SUM_SQ),
        derive=_mean,
        value="sentiment_score",
        description="Mean sentiment score (-1 negative .. 1 positive) of texts scored by text analytics; t interval.",
    )
)
register(
    Metric(
        slug="sentiment_negative",
        label="Share negative",
        unit="%",
        field_types=None,
        aggregates=(N, Agg("negative", column="sentiment_label", equals="negative")),
        derive=_share("negative"),
        value="sentiment_score",
        description="Share of scored texts labelled negative by text analytics; Wilson interval.",
    )
)
register(
    Metric(
        slug="churn_rate",
        label="Churn rate",
        unit="%",
        field_types=None,
        aggregates=(N, Agg("churned", low=1, high=1)),
        derive=_share("churned"),
        entity="customer",
        value="churned",
        description=(
            "Share of customers flagged as churned, among customers that carry a churn flag: the attribute "
            "`churned` (or else `Churn`) being true/yes/1 (churned) or false/no/0 (stayed); Wilson interval. "
            "Counts customers, not feedback; buckets by the customer's creation date."
        ),
    )
)

register(
    Metric(
        slug="completion_rate",
        label="Completion rate",
        unit="%",
        field_types=None,
        aggregates=(N, Agg("completed", low=1, high=1)),
        derive=_share("completed"),
        entity="response",
        value="completed",
        description="Share of started survey responses that were completed; by start date; Wilson interval.",
    )
)
register(
    Metric(
        slug="response_rate",
        label="Response rate",
        unit="%",
        field_types=None,
        aggregates=(N, Agg("responded", low=1, high=1)),
        derive=_share("responded"),
        entity="invitation",
        value="responded",
        description=(
            "Share of sent survey invitations (email, widget) that led to a response, started or completed; "
            "by send date; Wilson interval. Responses through a public link have no invitation and do not count."
        ),
    )
)


# The closed loop's measures (cem.cases): cases by creation date; each counts the cases where its value is known.
def _case_mean(slug: str, label: str, value: ValueColumn, about: str) -> None:
    aggregates = (N, SUM, SUM_SQ)
    register(Metric(slug, label, "min", None, aggregates, _mean, entity="case", value=value, description=about))


def _case_share(slug: str, label: str, value: ValueColumn, about: str) -> None:
    aggregates = (N, Agg(value, low=1, high=1))
    register(Metric(slug, label, "%", None, aggregates, _share(value), entity="case", value=value, description=about))


_case_mean(
    "time_to_first_response",
    "Time to first response",
    "first_response_minutes",
    "Mean wall-clock minutes from a case's opening to the first reply the customer saw (notes do not count); "
    "t interval.",
)
_case_mean(
    "time_to_resolution",
    "Time to resolution",
    "resolution_minutes",
    "Mean wall-clock minutes from a case's opening to its resolution (or closing); t interval.",
)
_case_share(
    "sla_compliance",
    "Share within SLA",
    "within_sla",
    "Share of finished cases under an SLA that met it; Wilson interval.",
)
_case_share(
    "closed_loop_rate",
    "Closed-loop rate",
    "closed_loop",
    "Share of closed cases whose customer was contacted with the first response within its SLA; Wilson interval.",
)
_case_share(
    "recovery_rate",
    "Recovery rate",
    "recovered",
    "Share of closed cases whose customer was recovered; Wilson interval.",
)


def get(slug: str) -> Metric | None:
    """The registered metric with this slug, or None."""
    return METRICS.get(slug)
