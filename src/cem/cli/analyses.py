"""`cem analyze`: journey stages, funnel, pain points, A/B comparison, key drivers and experience gaps."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from cem.analytics.analyses import abtest, drivers, gaps, journey
from cem.analytics.analyses.schemas import (
    CompareQuery,
    DriverQuery,
    FunnelQuery,
    GapQuery,
    GapResult,
    JourneyMetricsQuery,
    PainPointsQuery,
    TargetIn,
)
from cem.analytics.schemas import MIN_N_HELP
from cem.analytics.stats import DEFAULT_MIN_N
from cem.auth.principal import system_principal
from cem.cli.app import app, echo, fail, friendly_errors, open_db
from cem.cli.options import Workspace
from cem.cli.workspaces import workspace_named
from cem.errors import NotFound
from cem.exports_safety import csv_writer
from cem.journeys import service as journey_service

analyze_app = typer.Typer(
    help="Analyses: journeys and funnels, pain points, A/B, key drivers, gaps.", no_args_is_help=True
)
app.add_typer(analyze_app, name="analyze")

FORMATS = ("table", "csv", "json")
M = TypeVar("M", bound=BaseModel)
FormatOpt = typer.Option("table", "--format", help="table, csv or json.")
JourneyOpt = typer.Option(..., "--journey", help="Journey key, e.g. online-purchase.")
FromOpt = typer.Option(None, "--from", help="First day (YYYY-MM-DD).")
ToOpt = typer.Option(None, "--to", help="Last day (YYYY-MM-DD), inclusive.")
MinNOpt = typer.Option(DEFAULT_MIN_N, "--min-n", help=MIN_N_HELP)


def _model(model: type[M], **values: Any) -> M:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "options"
        fail(f"{where}: {first['msg']}", 2)
        raise  # unreachable: fail() exits


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option}: {value!r} is not a date (YYYY-MM-DD).", 2)
        raise


def _period(date_from: str | None, date_to: str | None) -> dict[str, date | None]:
    """--from and --to as days, each refused with its own option name."""
    return {"date_from": _day(date_from, "--from"), "date_to": _day(date_to, "--to")}


def _journey_id(session: Session, workspace_id: int, key: str) -> int:
    journeys = journey_service.list_journeys(session, workspace_id=workspace_id, include_archived=True)
    found = next((j.id for j in journeys if j.key == key), None)
    if found is None:
        known = ", ".join(sorted(j.key for j in journeys)) or "none"
        raise NotFound(f"No journey {key!r}; journeys: {known}.")
    return found


def _run(workspace: str, work: Callable[[Session, int], Any], *, write: bool = False) -> Any:
    db = open_db()
    with db.unit_of_work(readonly=not write) as session:
        ws = workspace_named(session, workspace)
        return work(session, ws.id)


def _render(fmt: str, result: BaseModel, rows: Sequence[dict[str, Any]], columns: list[str], title: str) -> None:
    if fmt not in FORMATS:
        fail(f"Unknown format {fmt!r}; use table, csv or json.", 2)
    if fmt == "json":
        echo(json.dumps(result.model_dump(mode="json"), indent=2))
        return
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv_writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
        echo(buffer.getvalue().rstrip("\n"))
        return
    body = [[_cell(row.get(c), c, row) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in body)]) for i, c in enumerate(columns)]
    lines = [title, "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in body]
    echo("\n".join(line.rstrip() for line in lines))


def _cell(value: Any, column: str, row: dict[str, Any]) -> str:
    if value is None:
        return "not enough data" if column == "value" and row.get("status") == "not_enough_data" else "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4f}" if column in ("p_value", "q_value") or abs(value) < 1 else f"{value:.2f}"
    return str(value)


@analyze_app.command("stages")
@friendly_errors
def stages_command(
    journey_key: str = JourneyOpt,
    metric: str = typer.Option("csat", help="Metric slug (nps, csat, ces, rating_mean, ...)."),
    date_from: str = FromOpt,
    date_to: str = ToOpt,
    min_n: int = MinNOpt,
    workspace: Workspace = "default",
    fmt: str = FormatOpt,
) -> None:
    """A metric per stage of a journey, with interval, n, volume and the stage's top pain point."""
    period = _period(date_from, date_to)
    query = _model(JourneyMetricsQuery, metric=metric, min_n=min_n, **period)
    result = _run(
        workspace,
        lambda s, ws: journey.journey_metrics(
            s, workspace_id=ws, journey_id=_journey_id(s, ws, journey_key), query=query
        ),
    )
    rows = [
        {**s.model_dump(), "top_pain_point": s.top_pain_point.touchpoint_key if s.top_pain_point else None}
        for s in result.stages
    ]
    columns = ["key", "value", "lower", "upper", "n", "volume", "top_pain_point"]
    _render(fmt, result, rows, columns, f"{result.label} by stage of {result.journey_name}")


@analyze_app.command("funnel")
@friendly_errors
def funnel_command(
    journey_key: str = JourneyOpt,
    segment: list[str] = typer.Option([], "--segment", help="customer.<attribute>=value (repeatable)."),
    date_from: str = FromOpt,
    date_to: str = ToOpt,
    workspace: Workspace = "default",
    fmt: str = FormatOpt,
) -> None:
    """Customers reaching each stage, drop-off to the next stage and the hours it took (median, p75)."""
    query = _model(FunnelQuery, segment=segment, **_period(date_from, date_to))
    result = _run(
        workspace,
        lambda s, ws: journey.funnel(s, workspace_id=ws, journey_id=_journey_id(s, ws, journey_key), query=query),
    )
    columns = ["key", "reached", "share", "continued", "drop_off_rate", "median_hours", "p75_hours"]
    rows = [s.model_dump() for s in result.stages]
    _render(fmt, result, rows, columns, f"Funnel of {result.journey_name}: {result.customers} customers")


@analyze_app.command("pain-points")
@friendly_errors
def pain_points_command(
    journey_key: str = JourneyOpt,
    limit: int = typer.Option(10, min=1, max=500),
    min_n: int = MinNOpt,
    workspace: Workspace = "default",
    fmt: str = FormatOpt,
) -> None:
    """Touchpoints ranked by volume x share of negative feedback."""
    query = _model(PainPointsQuery, limit=limit, min_n=min_n)
    result = _run(
        workspace,
        lambda s, ws: journey.pain_points(s, workspace_id=ws, journey_id=_journey_id(s, ws, journey_key), query=query),
    )
    columns = ["touchpoint_key", "stage_key", "n", "negative", "negative_share", "lower", "upper", "score"]
    _render(fmt, result, [p.model_dump() for p in result.items], columns, "Pain points (score = n x share negative)")


@analyze_app.command("compare")
@friendly_errors
def compare_command(
    metric: str = typer.Argument(..., help="Metric slug."),
    source: str = typer.Option(..., "--source", help="Where the variant comes from: event, customer or feedback."),
    key: str = typer.Option(..., "--key", help="Event property, customer attribute or feedback metadata key."),
    event_type: str = typer.Option(None, "--event-type", help="With --source event: the event type."),
    control: str = typer.Option(None, help="The variant the others are compared with."),
    filters: list[str] = typer.Option([], "--filter", help="FIELD=VALUE (repeatable)."),
    date_from: str = FromOpt,
    date_to: str = ToOpt,
    min_n: int = MinNOpt,
    workspace: Workspace = "default",
    fmt: str = FormatOpt,
) -> None:
    """A metric per variant (A/B, segments) and each variant against the control with its p-value."""
    query = _model(
        CompareQuery,
        metric=metric,
        variant_source=source,
        variant_key=key,
        event_type=event_type,
        control=control,
        filters=filters,
        date_from=date_from,
        date_to=date_to,
        min_n=min_n,
    )
    result = _run(workspace, lambda s, ws: abtest.compare(s, workspace_id=ws, query=query))
    diffs = {c.variant: c for c in result.comparisons}
    rows = []
    for v in result.variants:
        comp = diffs.get(v.variant)
        extra = (
            {"difference": comp.difference, "p_value": comp.p_value, "significant": comp.significant} if comp else {}
        )
        rows.append({**v.model_dump(), **extra})
    columns = ["variant", "value", "lower", "upper", "n", "difference", "p_value", "significant"]
    _render(fmt, result, rows, columns, f"{result.label} by {key} (control: {result.control})")


@analyze_app.command("drivers")
@friendly_errors
def drivers_command(
    outcome: str = typer.Argument(..., help="Field id of the outcome question."),
    driver: list[str] = typer.Option([], "--driver", help="Driver field id (repeatable, at most 15)."),
    topic: list[str] = typer.Option([], "--topic", help="Topic as a 0/1 driver (repeatable)."),
    source_name: str = typer.Option(None, "--source-name"),
    bootstrap: int = typer.Option(200, help="Bootstrap resamples (0: no intervals)."),
    seed: int = typer.Option(0),
    performance: str = typer.Option("mean", help="mean or top_box."),
    workspace: Workspace = "default",
    fmt: str = FormatOpt,
) -> None:
    """Johnson relative weights and Shapley values of R^2, with bootstrap intervals and the quadrant."""
    query = _model(
        DriverQuery,
        outcome=outcome,
        drivers=driver,
        topics=topic,
        source_name=source_name,
        bootstrap=bootstrap,
        seed=seed,
        performance=performance,
    )
    result = _run(workspace, lambda s, ws: drivers.key_drivers(s, workspace_id=ws, query=query))
    columns = [
        "field_id",
        "johnson",
        "johnson_lower",
        "johnson_upper",
        "shapley",
        "significant",
        "performance",
        "quadrant",
    ]
    title = f"Key drivers of {outcome}: R^2 {result.r2:.3f}, n {result.n} ({result.dropped} incomplete left out)"
    _render(fmt, result, [d.model_dump() for d in result.drivers], columns, title)


@analyze_app.command("gaps")
@friendly_errors
def gaps_command(
    journey_key: str = typer.Option(None, "--journey", help="Only this journey's targets."),
    metric: str = typer.Option(None),
    min_n: int = MinNOpt,
    workspace: Workspace = "default",
    fmt: str = FormatOpt,
) -> None:
    """Promised (targets) against perceived values, the worst shortfall first."""
    query = _model(GapQuery, metric=metric, min_n=min_n)

    def work(session: Session, ws: int) -> GapResult:
        journey_id = _journey_id(session, ws, journey_key) if journey_key else None
        return gaps.experience_gaps(session, workspace_id=ws, query=query.model_copy(update={"journey_id": journey_id}))

    result = _run(workspace, work)
    columns = ["key", "scope", "metric", "promised", "perceived", "gap", "gap_lower", "gap_upper", "n", "status"]
    _render(fmt, result, [g.model_dump() for g in result.items], columns, "Experience gaps (perceived - promised)")


@analyze_app.command("target")
@friendly_errors
def target_command(
    metric: str = typer.Argument(..., help="Metric slug."),
    value: float = typer.Argument(..., help="The promised value."),
    touchpoint: str = typer.Option(None, "--touchpoint", help="Touchpoint key."),
    stage: str = typer.Option(None, "--stage", help="Stage key (with --journey)."),
    journey_key: str = typer.Option(None, "--journey", help="Journey key of --stage."),
    note: str = typer.Option(""),
    workspace: Workspace = "default",
) -> None:
    """Set (or replace) the target of a metric at a touchpoint or a journey stage."""
    if (touchpoint is None) == (stage is None):
        fail("Give exactly one of --touchpoint or --stage.", 2)
    if stage is not None and journey_key is None:
        fail("--stage needs --journey (stage keys are unique within a journey).", 2)

    def work(session: Session, ws: int) -> Any:
        ids: dict[str, int] = {}
        if touchpoint is not None:
            found = journey_service.touchpoint_ids_by_key(session, workspace_id=ws, keys={touchpoint})
            if touchpoint not in found:
                raise NotFound(f"No touchpoint {touchpoint!r}.")
            ids["touchpoint_id"] = found[touchpoint]
        else:
            read = journey_service.read_journey(
                session, workspace_id=ws, journey_id=_journey_id(session, ws, journey_key)
            )
            match = next((s.id for s in read.stages if s.key == stage), None)
            if match is None:
                raise NotFound(f"No stage {stage!r} in journey {journey_key!r}.")
            ids["stage_id"] = match
        target_in = _model(TargetIn, metric=metric, target=value, note=note, **ids)
        actor = system_principal(ws, label="cem analyze target")
        return gaps.set_target(session, actor=actor, target_in=target_in)

    saved = _run(workspace, work, write=True)
    echo(f"Target {saved.metric} = {saved.target:g} at {saved.scope} {saved.key} ({saved.journey_key}), id {saved.id}.")
