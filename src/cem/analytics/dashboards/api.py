"""Dashboards API: the program overview, custom dashboards (CRUD, sharing, arrangement), widget data, exports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from fastapi.types import DecoratedCallable

from cem.analytics.dashboards import export, service, views
from cem.analytics.dashboards.schemas import (
    DashboardIn,
    DashboardOut,
    DashboardPatch,
    DashboardSummary,
    DriverViewExport,
    ExportFormat,
    JourneyViewExport,
    Overview,
    OverviewExport,
    OverviewQuery,
)
from cem.analytics.schemas import MetricResult
from cem.api.body import StrictJsonRoute
from cem.api.deps import DashboardManager, DbSession, Reader
from cem.api.downloads import attachment, download_route
from cem.api.files import CSV, XLSX
from cem.schemas import Id

router = APIRouter(tags=["dashboards"], route_class=StrictJsonRoute)


def table_export_route(path: str, summary: str) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """A GET route that answers with one table as a CSV or XLSX file (the `format` parameter picks one)."""
    return download_route(router, path, summary=summary, media_types=(CSV, XLSX))


@router.get("/dashboards/overview", response_model=Overview, summary="The program overview: tiles, trends, movers")
def get_overview(session: DbSession, actor: Reader, query: Annotated[OverviewQuery, Query()]) -> Overview:
    """NPS, CSAT and CES in the latest bucket (change flagged only when p < 0.05), trends, BH-sorted movers."""
    return service.overview(session, workspace_id=actor.workspace_id, query=query)


@table_export_route("/dashboards/overview/export", "One overview table as CSV or XLSX")
def export_overview(session: DbSession, actor: Reader, query: Annotated[OverviewExport, Query()]) -> Response:
    export.check_overview_table(query.table)  # before the work, and with the choices named
    data = service.overview(session, workspace_id=actor.workspace_id, query=query)
    return attachment(*export.render(export.overview_table(data, query.table), query.format))


@table_export_route("/dashboards/journey/export", "A journey view table as CSV or XLSX")
def export_journey(session: DbSession, actor: Reader, query: Annotated[JourneyViewExport, Query()]) -> Response:
    views.check_journey_table(query.table)
    view = views.journey_view(session, workspace_id=actor.workspace_id, query=query)
    return attachment(*export.render(views.journey_table(view, query.table), query.format))


@table_export_route("/dashboards/drivers/export", "A drivers & gaps view table as CSV or XLSX")
def export_drivers(session: DbSession, actor: Reader, query: Annotated[DriverViewExport, Query()]) -> Response:
    views.check_driver_table(query.table)
    # The costly bootstrap only when its table is asked for.
    wanted = query if query.table == "drivers" else query.model_copy(update={"outcome": None})
    view = views.driver_view(session, workspace_id=actor.workspace_id, query=wanted)
    return attachment(*export.render(views.driver_table(view, query.table), query.format))


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


@table_export_route("/dashboards/{dashboard_id}/widgets/{widget_id}/export", "One widget's table as CSV or XLSX")
def export_widget(
    session: DbSession, actor: Reader, dashboard_id: Id, widget_id: Id, format: ExportFormat = "csv"
) -> Response:
    result = service.widget_data(session, actor=actor, dashboard_id=dashboard_id, widget_id=widget_id)
    table = export.metric_table(result, name=f"dashboard-{dashboard_id}-widget-{widget_id}")
    return attachment(*export.render(table, format))
