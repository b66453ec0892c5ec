"""Dashboards API: the program overview, custom dashboards (CRUD, sharing, arrangement), widget data, exports."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from cem.analytics.dashboards import export, service, views
from cem.analytics.dashboards.schemas import DashboardIn, DashboardOut, DashboardPatch, DashboardSummary, Overview
from cem.analytics.schemas import Interval, MetricResult
from cem.api.body import StrictJsonRoute
from cem.api.deps import DbSession, Reader, require
from cem.api.files import CSV, XLSX, file_responses
from cem.auth.permissions import Permission
from cem.auth.principal import Principal
from cem.schemas import Id

router = APIRouter(tags=["dashboards"], route_class=StrictJsonRoute)

TABLE_FILE = file_responses(CSV, XLSX)  # the `format` parameter picks one
DashboardManager = Annotated[Principal, Depends(require(Permission.dashboards))]
MinN = Annotated[int, Query(ge=0, le=1_000_000, description="Below this n a value is 'not enough data'.")]
End = Annotated[date | None, Query(description="Last day of the period; default: the newest feedback day.")]


def file_response(content: bytes, media_type: str, filename: str) -> Response:
    return Response(
        content, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@router.get("/dashboards/overview", response_model=Overview, summary="The program overview: tiles, trends, movers")
def get_overview(
    session: DbSession, actor: Reader, interval: Interval = "month", end: End = None, min_n: MinN = 30
) -> Overview:
    """NPS, CSAT and CES in the latest bucket (change flagged only when p < 0.05), trends, BH-sorted movers."""
    return service.overview(session, workspace_id=actor.workspace_id, interval=interval, end=end, min_n=min_n)


@router.get(
    "/dashboards/overview/export",
    summary="One overview table as CSV or XLSX",
    response_class=Response,
    responses=TABLE_FILE,
)
def export_overview(
    session: DbSession,
    actor: Reader,
    table: str = Query(description="tiles, trends or movers"),
    format: export.ExportFormat = "csv",
    interval: Interval = "month",
    end: End = None,
    min_n: MinN = 30,
) -> Response:
    export.check_overview_table(table)  # before the work, and with the choices named
    data = service.overview(session, workspace_id=actor.workspace_id, interval=interval, end=end, min_n=min_n)
    return file_response(*export.render(export.overview_table(data, table), format))


@router.get(
    "/dashboards/journey/export",
    summary="A journey view table as CSV or XLSX",
    response_class=Response,
    responses=TABLE_FILE,
)
def export_journey(
    session: DbSession,
    actor: Reader,
    table: str = Query(description="stages, touchpoints, funnel, pain_points or gaps"),
    format: export.ExportFormat = "csv",
    journey_id: Id | None = None,
    metric: str | None = Query(default=None, max_length=64),
    date_from: date | None = None,
    date_to: date | None = None,
    min_n: MinN = 30,
) -> Response:
    views.check_journey_table(table)
    view = views.journey_view(
        session,
        workspace_id=actor.workspace_id,
        journey_id=journey_id,
        metric=metric,
        date_from=date_from,
        date_to=date_to,
        min_n=min_n,
    )
    return file_response(*export.render(views.journey_table(view, table), format))


@router.get(
    "/dashboards/drivers/export",
    summary="A drivers & gaps view table as CSV or XLSX",
    response_class=Response,
    responses=TABLE_FILE,
)
def export_drivers(
    session: DbSession,
    actor: Reader,
    table: str = Query(description="drivers, gaps or segments"),
    format: export.ExportFormat = "csv",
    outcome: str | None = Query(default=None, max_length=200),
    driver: list[str] = Query(default=[], max_length=15),
    source_name: str | None = Query(default=None, max_length=200),
    performance: Literal["mean", "top_box"] = "mean",
    bootstrap: int = Query(default=200, ge=0, le=2000),
    segment_metric: str = Query(default="nps", max_length=64),
    segment_by: str = Query(default="source_name", max_length=120),
    min_n: MinN = 30,
) -> Response:
    views.check_driver_table(table)
    view = views.driver_view(
        session,
        workspace_id=actor.workspace_id,
        outcome=outcome if table == "drivers" else None,  # the costly bootstrap only when its table is asked for
        drivers=driver,
        source_name=source_name,
        performance=performance,
        bootstrap=bootstrap,
        segment_metric=segment_metric,
        segment_by=segment_by,
        min_n=min_n,
    )
    return file_response(*export.render(views.driver_table(view, table), format))


@router.get("/dashboards", response_model=list[DashboardSummary], summary="Shared dashboards and your own")
def list_dashboards(session: DbSession, actor: Reader) -> list[DashboardSummary]:
    return service.list_dashboards(session, actor=actor)


@router.post("/dashboards", response_model=DashboardOut, status_code=201, summary="Create a dashboard")
def create_dashboard(session: DbSession, actor: DashboardManager, body: DashboardIn) -> DashboardOut:
    return service.create_dashboard(session, actor=actor, data=body)


@router.get("/dashboards/{dashboard_id}", response_model=DashboardOut, summary="A dashboard with its widgets")
def get_dashboard(session: DbSession, actor: Reader, dashboard_id: Id) -> DashboardOut:
    return service.get_dashboard(session, actor=actor, dashboard_id=dashboard_id)


@router.patch("/dashboards/{dashboard_id}", response_model=DashboardOut, summary="Rename, share, arrange widgets")
def update_dashboard(
    session: DbSession, actor: DashboardManager, dashboard_id: Id, body: DashboardPatch
) -> DashboardOut:
    """`widgets` replaces the whole list, in the order given (move, resize, add and remove in one call)."""
    return service.update_dashboard(session, actor=actor, dashboard_id=dashboard_id, patch=body)


@router.delete("/dashboards/{dashboard_id}", summary="Delete a dashboard")
def delete_dashboard(session: DbSession, actor: DashboardManager, dashboard_id: Id) -> dict[str, bool]:
    service.delete_dashboard(session, actor=actor, dashboard_id=dashboard_id)
    return {"deleted": True}


@router.get(
    "/dashboards/{dashboard_id}/widgets/{widget_id}/data",
    response_model=MetricResult,
    summary="The numbers behind one widget",
)
def widget_data(session: DbSession, actor: Reader, dashboard_id: Id, widget_id: Id) -> MetricResult:
    return service.widget_data(session, actor=actor, dashboard_id=dashboard_id, widget_id=widget_id)


@router.get(
    "/dashboards/{dashboard_id}/widgets/{widget_id}/export",
    summary="One widget's table as CSV or XLSX",
    response_class=Response,
    responses=TABLE_FILE,
)
def export_widget(
    session: DbSession, actor: Reader, dashboard_id: Id, widget_id: Id, format: export.ExportFormat = "csv"
) -> Response:
    result = service.widget_data(session, actor=actor, dashboard_id=dashboard_id, widget_id=widget_id)
    table = export.metric_table(result, name=f"dashboard-{dashboard_id}-widget-{widget_id}")
    return file_response(*export.render(table, format))
