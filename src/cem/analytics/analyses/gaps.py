"""Experience gaps: the value promised at a stage or touchpoint (a stored target) against the value measured there.

The measured ("perceived") value comes from the metric registry, filtered to the place, with its interval; the gap
is perceived - promised, and a gap counts only when the interval excludes the promise.
"""

from __future__ import annotations

import math
from statistics import NormalDist

from sqlalchemy import select
from sqlalchemy.orm import Session

from cem.analytics import service as metrics_service
from cem.analytics import stats
from cem.analytics.analyses.abtest import choose_test
from cem.analytics.analyses.models import ExperienceTarget
from cem.analytics.analyses.schemas import Gap, GapQuery, GapResult, TargetIn, TargetRead
from cem.analytics.schemas import MetricQuery
from cem.auth import audit
from cem.auth.principal import Principal
from cem.errors import InvalidInput, NotFound
from cem.journeys import service as journey_service
from cem.journeys.models import Journey, JourneyStage, Touchpoint

_NORMAL = NormalDist()
STATUS_ORDER = {"below": 0, "meets": 1, "above": 2, "not_enough_data": 3}


def _place(session: Session, target: ExperienceTarget) -> tuple[str, str, str, str]:
    """(scope, key, name, journey key) of the stage or touchpoint a target is set on."""
    if target.touchpoint_id is not None:
        tp = session.get(Touchpoint, target.touchpoint_id)
        assert tp is not None  # the foreign key cascades deletes
        stage = session.get(JourneyStage, tp.stage_id)
        journey = session.get(Journey, stage.journey_id) if stage else None
        return "touchpoint", tp.key, tp.name, journey.key if journey else ""
    stage = session.get(JourneyStage, target.stage_id)
    assert stage is not None
    journey = session.get(Journey, stage.journey_id)
    return "stage", stage.key, stage.name, journey.key if journey else ""


def _read(session: Session, target: ExperienceTarget) -> TargetRead:
    scope, key, name, journey_key = _place(session, target)
    return TargetRead(
        id=target.id,
        scope=scope,
        stage_id=target.stage_id,
        touchpoint_id=target.touchpoint_id,
        key=key,
        name=name,
        journey_key=journey_key,
        metric=target.metric,
        target=target.target,
        note=target.note,
        updated_at=target.updated_at,
    )


def _check_target_value(metric: str, value: float) -> None:
    """A promise the metric can reach: NPS -100..100, shares 0..100."""
    declared = metrics_service.resolve_metric(metric)
    if declared.entity != "feedback":
        raise InvalidInput(
            f"{metric} is not measured on feedback at a touchpoint or stage, so it cannot have a target there."
        )
    unit = declared.unit
    bounds = {"points": (-100.0, 100.0), "%": (0.0, 100.0)}.get(unit)
    if metric == "feedback_volume":
        raise InvalidInput("feedback_volume is a count, not an experience: set targets on nps, csat, ces, ...")
    if bounds and not bounds[0] <= value <= bounds[1]:
        raise InvalidInput(f"A {metric} target must be between {bounds[0]:g} and {bounds[1]:g}, not {value:g}.")


def set_target(session: Session, *, actor: Principal, target_in: TargetIn) -> TargetRead:
    """Create or replace the target of a metric at a stage or touchpoint."""
    _check_target_value(target_in.metric, target_in.target)
    ws = actor.workspace_id
    if target_in.touchpoint_id is not None:
        journey_service.get_touchpoint(session, workspace_id=ws, touchpoint_id=target_in.touchpoint_id)
        scope_key = f"touchpoint:{target_in.touchpoint_id}"
    else:
        assert target_in.stage_id is not None  # exactly one is set (schema)
        journey_service.get_stage(session, workspace_id=ws, stage_id=target_in.stage_id)
        scope_key = f"stage:{target_in.stage_id}"
    target = session.scalars(
        select(ExperienceTarget).where(
            ExperienceTarget.workspace_id == ws,
            ExperienceTarget.scope_key == scope_key,
            ExperienceTarget.metric == target_in.metric,
        )
    ).first()
    previous = None if target is None else target.target
    if target is None:
        target = ExperienceTarget(
            workspace_id=ws,
            scope_key=scope_key,
            stage_id=target_in.stage_id,
            touchpoint_id=target_in.touchpoint_id,
            metric=target_in.metric,
        )
        session.add(target)
    target.target = target_in.target
    target.note = target_in.note
    session.flush()
    details = {"scope": scope_key, "metric": target_in.metric, "target": target_in.target, "previous": previous}
    audit.record(
        session, actor, "experience_target.set", entity_type="experience_target", entity_id=target.id, details=details
    )
    return _read(session, target)


def list_targets(session: Session, *, workspace_id: int) -> list[TargetRead]:
    targets = session.scalars(
        select(ExperienceTarget).where(ExperienceTarget.workspace_id == workspace_id).order_by(ExperienceTarget.id)
    )
    return [_read(session, t) for t in targets]


def delete_target(session: Session, *, actor: Principal, target_id: int) -> None:
    target = session.get(ExperienceTarget, target_id)
    if target is None or target.workspace_id != actor.workspace_id:
        raise NotFound(f"Target {target_id} does not exist.")
    details = {"scope": target.scope_key, "metric": target.metric, "target": target.target}
    session.delete(target)
    audit.record(
        session,
        actor,
        "experience_target.delete",
        entity_type="experience_target",
        entity_id=target_id,
        details=details,
    )


def experience_gaps(
    session: Session,
    *,
    workspace_id: int,
    query: GapQuery,
) -> GapResult:
    """Every target (of a journey / metric) against its measured value; the worst shortfall first."""
    journey_id, metric, min_n, confidence = query.journey_id, query.metric, query.min_n, query.confidence
    if metric is not None:
        metrics_service.resolve_metric(metric)
    journey_key = None
    if journey_id is not None:
        journey_key = journey_service.get_journey(session, workspace_id=workspace_id, journey_id=journey_id).key
    gaps = []
    for target in list_targets(session, workspace_id=workspace_id):
        if (metric and target.metric != metric) or (journey_key and target.journey_key != journey_key):
            continue
        place = (
            [f"touchpoint={target.key}"]
            if target.scope == "touchpoint"
            else [
                f"journey={target.journey_key}",
                f"stage={target.key}",
            ]
        )
        measured = MetricQuery(
            metric=target.metric,
            filters=place,
            date_from=query.date_from,
            date_to=query.date_to,
            min_n=min_n,
            confidence=confidence,
        )
        row = metrics_service.compute(session, workspace_id=workspace_id, query=measured).rows[0]
        p_value = one_sample_p(target.metric, row.value, row.lower, row.upper, row.n, target.target, confidence)
        gaps.append(_gap(target, row.value, row.lower, row.upper, row.n, p_value))
    # Broken promises first (the interval lies below the target), then kept, then exceeded, then unmeasured;
    # by the size of the gap within each (gaps of different metrics share no unit, the status does).
    gaps.sort(key=lambda g: (STATUS_ORDER[g.status], g.gap if g.gap is not None else 0.0))
    return GapResult(min_n=min_n, confidence=confidence, items=gaps)


def _gap(
    target: TargetRead,
    value: float | None,
    lower: float | None,
    upper: float | None,
    n: int,
    p_value: float | None,
) -> Gap:
    promised = target.target
    gap = None if value is None else value - promised
    status = "not_enough_data"
    if value is not None and lower is not None and upper is not None:
        status = "below" if upper < promised else "above" if lower > promised else "meets"
    elif value is not None:
        status = "meets"
    return Gap(
        target_id=target.id,
        scope=target.scope,
        key=target.key,
        name=target.name,
        journey_key=target.journey_key,
        metric=target.metric,
        promised=promised,
        perceived=value,
        lower=lower,
        upper=upper,
        n=n,
        gap=gap,
        gap_lower=None if lower is None else lower - promised,
        gap_upper=None if upper is None else upper - promised,
        p_value=p_value,
        status=status,
    )


def one_sample_p(
    metric: str,
    value: float | None,
    lower: float | None,
    upper: float | None,
    n: int,
    promised: float,
    confidence: float,
) -> float | None:
    """Two-sided p-value of "the measured value equals the promise", by the metric's own test.

    NPS: the adjusted-Wald interval is centred on NPS' with half-width z * sqrt(Var'), so z = (NPS' - target) / se.
    Proportions: z with the standard error sqrt(p (1 - p) / n). Means: t with n - 1 degrees of freedom.
    """
    if value is None or lower is None or upper is None or n < 2:
        return None
    test = choose_test(metrics_service.resolve_metric(metric))
    if test == "z_proportion":
        share = value / 100
        se = 100 * math.sqrt(share * (1 - share) / n)
        return None if se == 0 else 2 * (1 - _NORMAL.cdf(abs(value - promised) / se))
    if test == "z_adjusted_wald":
        se = (upper - lower) / (2 * stats.z_value(confidence))
        return None if se == 0 else 2 * (1 - _NORMAL.cdf(abs((upper + lower) / 2 - promised) / se))
    if test == "welch_t":
        se = (upper - lower) / (2 * stats.t_quantile(0.5 + confidence / 2, n - 1))
        return None if se == 0 else 2 * (1 - stats.t_cdf(abs(value - promised) / se, n - 1))
    return None
