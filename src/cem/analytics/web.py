"""Dashboard pages: the program overview, custom dashboards (build, arrange, share), journey and driver views.

Every number is in an HTML table (readable without JavaScript, exportable as CSV/XLSX through the API); charts
are drawn from the same numbers by static/js/charts.js with the locally served ECharts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from cem.analytics import service as metrics
from cem.analytics.dashboards import service, views
from cem.analytics.dashboards.schemas import (
    CHARTS,
    DashboardIn,
    DashboardOut,
    DashboardPatch,
    DriverViewQuery,
    JourneyViewQuery,
    OverviewQuery,
    WidgetIn,
)
from cem.analytics.engines.base import DIMENSIONS
from cem.analytics.schemas import INTERVALS, MetricResult, MetricRow
from cem.api.deps import get_db
from cem.auth.permissions import Permission
from cem.auth.principal import Principal
from cem.errors import CEMError
from cem.web.deps import PageReader, page_permission, render
from cem.web.forms import see_other
from cem.web.refusals import refusal_message, refused

router = APIRouter()

PageDashboards = Annotated[Principal, Depends(page_permission(Permission.dashboards))]
Text = Annotated[str, Form(max_length=2000)]
Short = Annotated[str, Form(max_length=200)]


# -- formatting -------------------------------------------------------------------------------------


def fmt_value(value: float | None, unit: str = "") -> str:
    """A metric value as people read it: NPS points and shares with one decimal, means with two."""
    if value is None:
        return "—"
    if unit in ("points", "%"):
        return f"{value:.1f}{'%' if unit == '%' else ''}"
    if unit == "records":
        return f"{value:.0f}"
    return f"{value:.2f}"


def fmt_change(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    return ("+" if value > 0 else "") + fmt_value(value, unit)


def fmt_p(p: float | None) -> str:
    if p is None:
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def p_text(p: float | None) -> str:
    """ "p < 0.001" or "p = 0.042", for sentences."""
    if p is None:
        return "no test"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _helpers() -> dict[str, Any]:
    units = {m.slug: m.unit for m in metrics.list_metrics()}
    return {"fmt_value": fmt_value, "fmt_change": fmt_change, "fmt_p": fmt_p, "p_text": p_text, "units": units}


def band_chart(
    label: str, unit: str, rows: list[MetricRow], *, compact: bool = False, x: list[str] | None = None
) -> dict[str, Any]:
    """A metric's buckets as charts.js's "band" spec: the value line in its interval band (compact: a tile's
    small trend, without legend; x: axis labels other than the bucket dates)."""
    return {
        "kind": "band",
        "compact": compact,
        "title": label,
        "unit": unit,
        "x": x if x is not None else [r.bucket for r in rows],
        "series": [
            {
                "name": label,
                "values": [r.value for r in rows],
                "lower": [r.lower for r in rows],
                "upper": [r.upper for r in rows],
                "n": [r.n for r in rows],
            }
        ],
    }


# -- overview ---------------------------------------------------------------------------------------


def _overview_params(params: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """interval, end and min_n from the query string, with readable errors (blank means default)."""
    defaults = OverviewQuery()
    values: dict[str, Any] = {"interval": defaults.interval, "end": defaults.end, "min_n": defaults.min_n}
    errors = []
    interval = (params.get("interval") or "").strip()
    if interval:
        if interval in INTERVALS:
            values["interval"] = interval
        else:
            errors.append(f"interval: {interval[:40]!r} is not one of {', '.join(INTERVALS)}")
    end = (params.get("end") or "").strip()
    if end:
        try:
            values["end"] = date.fromisoformat(end)
        except ValueError:
            errors.append(f"end: {end[:40]!r} is not a date (YYYY-MM-DD)")
    min_n = (params.get("min_n") or "").strip()
    if min_n:
        if min_n.isdigit() and int(min_n) <= 1_000_000:
            values["min_n"] = int(min_n)
        else:
            errors.append(f"min_n: {min_n[:40]!r} is not a whole number from 0 to 1000000")
    return values, errors


@router.get("/dashboards/overview")
def overview_page(request: Request, principal: PageReader) -> Response:
    """NPS, CSAT, CES tiles (arrow only for a significant change), trends with interval bands, top movers."""
    values, errors = _overview_params(request.query_params)
    with get_db(request).unit_of_work(readonly=True) as session:
        data = service.overview(session, workspace_id=principal.workspace_id, query=OverviewQuery(**values))
    shown = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in values.items() if v is not None}
    query = urlencode(shown)
    charts = {trend.metric: band_chart(trend.label, trend.unit, trend.rows) for trend in data.trends}
    response = render(
        request,
        "analytics/overview.html",
        principal,
        data=data,
        charts=charts,
        errors=errors,
        form={**values, "end": values["end"].isoformat() if values["end"] else ""},
        intervals=INTERVALS,
        export_query=query,
        **_helpers(),
    )
    response.status_code = 400 if errors else 200
    return response


# -- journey view and drivers & gaps ---------------------------------------------------------------


def _parse(
    params: Mapping[str, str], ints: tuple[str, ...] = (), dates: tuple[str, ...] = ()
) -> tuple[dict[str, Any], list[str]]:
    """Typed values of the named query parameters (blank: absent) and a readable error for each bad one."""
    values: dict[str, Any] = {}
    errors = []
    for name in ints:
        text = (params.get(name) or "").strip()
        if text:
            if text.isdigit() and len(text) <= 9:
                values[name] = int(text)
            else:
                errors.append(f"{name}: {text[:40]!r} is not a whole number")
    for name in dates:
        text = (params.get(name) or "").strip()
        if text:
            try:
                values[name] = date.fromisoformat(text)
            except ValueError:
                errors.append(f"{name}: {text[:40]!r} is not a date (YYYY-MM-DD)")
    return values, errors


def _query_string(params: Mapping[str, str], names: tuple[str, ...]) -> str:
    return urlencode([(k, v) for k in names for v in _all(params, k) if v.strip()])


def _all(params: Mapping[str, str], name: str) -> list[str]:
    getter = getattr(params, "getlist", None)
    return list(getter(name)) if getter else ([params[name]] if name in params else [])


def _view_page(
    request: Request,
    principal: Principal,
    template: str,
    names: tuple[str, ...],
    errors: list[str],
    form_extra: dict[str, Any] | None = None,
    **context: Any,
) -> Response:
    """An analysis view with its form as sent (the query parameters `names`), its errors (status 400) and
    the same query for the export links."""
    params = request.query_params
    response = render(
        request,
        template,
        principal,
        errors=errors,
        form={**{k: params.get(k, "") for k in names}, **(form_extra or {})},
        metrics_catalog=metrics.list_metrics(),
        export_query=_query_string(params, names),
        **_helpers(),
        **context,
    )
    response.status_code = 400 if errors else 200
    return response


View = TypeVar("View")


def _load_view(request: Request, errors: list[str], load: Callable[[Session], View]) -> View | None:
    """What `load` reads in a read-only unit of work; None when the form has errors or the analysis refuses
    (the refusal is added to `errors`)."""
    if errors:
        return None
    try:
        with get_db(request).unit_of_work(readonly=True) as session:
            return load(session)
    except (CEMError, ValidationError) as exc:
        errors.append(refusal_message(exc))
        return None


@router.get("/dashboards/journey")
def journey_page(request: Request, principal: PageReader) -> Response:
    """The journey's stages left to right with score, volume and top pain point; the funnel; pain points; gaps."""
    params = request.query_params
    values, errors = _parse(params, ints=("journey_id", "min_n"), dates=("date_from", "date_to"))
    metric = (params.get("metric") or "").strip()[:64] or None
    view = _load_view(
        request,
        errors,
        lambda s: views.journey_view(
            s, workspace_id=principal.workspace_id, query=JourneyViewQuery(metric=metric, **values)
        ),
    )
    chart = None
    if view and view.funnel and view.funnel.stages:
        chart = {
            "kind": "funnel",
            "title": "Funnel",
            "x": [s.name for s in view.funnel.stages],
            "values": [s.reached for s in view.funnel.stages],
        }
    names = ("journey_id", "metric", "date_from", "date_to", "min_n")
    return _view_page(request, principal, "analytics/journey.html", names, errors, view=view, funnel_chart=chart)


@router.get("/dashboards/drivers")
def drivers_page(request: Request, principal: PageReader) -> Response:
    """Importance-versus-performance quadrant of key drivers, every experience gap, a segment breakdown."""
    params = request.query_params
    values, errors = _parse(params, ints=("bootstrap", "min_n"))
    if values.get("bootstrap", 0) > 2000:
        errors.append("bootstrap: at most 2000 rounds")
    drivers = [d.strip()[:200] for d in _all(params, "driver") if d.strip()][:15]

    def load(session: Session) -> views.DriverView:
        query = DriverViewQuery(
            outcome=(params.get("outcome") or "").strip()[:200] or None,
            drivers=drivers,
            source_name=(params.get("source_name") or "").strip()[:200] or None,
            performance="top_box" if params.get("performance") == "top_box" else "mean",
            segment_metric=(params.get("segment_metric") or "nps").strip()[:64],
            segment_by=(params.get("segment_by") or "source_name").strip()[:120],
            **values,
        )
        return views.driver_view(session, workspace_id=principal.workspace_id, query=query)

    view = _load_view(request, errors, load)
    quadrant = None
    if view and view.result and view.result.drivers:
        quadrant = {
            "kind": "quadrant",
            "title": "Key drivers",
            "points": [
                {"name": d.label, "x": d.performance, "y": d.johnson, "quadrant": d.quadrant}
                for d in view.result.drivers
            ],
            "x_mid": view.result.performance_median,
            "y_mid": view.result.importance_median,
        }
    names = ("outcome", "driver", "source_name", "performance", "bootstrap", "segment_metric", "segment_by", "min_n")
    return _view_page(
        request,
        principal,
        "analytics/drivers.html",
        names,
        errors,
        form_extra={"drivers": drivers},
        view=view,
        dimensions=DIMENSIONS,
        quadrant=quadrant,
    )


# -- custom dashboards ----------------------------------------------------------------------------


@router.get("/dashboards")
def dashboard_index(request: Request, principal: PageReader) -> Response:
    """The analysis views and every dashboard the caller may see, with a create form for dashboard managers."""
    return _index_page(request, principal)


def _index_page(request: Request, principal: Principal, **extra: Any) -> Response:
    with get_db(request).unit_of_work(readonly=True) as session:
        dashboards = service.list_dashboards(session, actor=principal)
    context = {"error": None, "form": {}, **extra}
    can_manage = principal.can(Permission.dashboards)
    return render(request, "analytics/index.html", principal, dashboards=dashboards, can_manage=can_manage, **context)


@router.post("/dashboards")
def dashboard_create(
    request: Request, principal: PageDashboards, name: Short = "", description: Text = "", shared: Short = ""
) -> Response:
    form = {"name": name, "description": description, "shared": shared}
    try:
        data = DashboardIn(name=name, description=description, shared=shared == "1")
        with get_db(request).unit_of_work() as session:
            created = service.create_dashboard(session, actor=principal, data=data)
    except (CEMError, ValidationError) as exc:
        return refused(_index_page(request, principal, error=refusal_message(exc), form=form), exc)
    return see_other(f"/dashboards/{created.id}")


def _widget_chart(result: MetricResult, widget: WidgetIn) -> dict[str, Any] | None:
    """The ECharts spec for a widget's rows (None for tables and tiles: the HTML shows those)."""
    if widget.chart not in ("line", "bar"):
        return None
    if widget.interval:
        x = sorted({r.bucket for r in result.rows if r.bucket})
        groups: dict[str, dict[str, Any]] = {}
        for row in result.rows:
            name = " / ".join(str(row.segment.get(g) or "(none)") for g in result.group_by) or result.label
            series = groups.setdefault(name, {"name": name, "values": {}, "lower": {}, "upper": {}, "n": {}})
            for key in ("values", "lower", "upper", "n"):
                series[key][row.bucket] = getattr(row, "value" if key == "values" else key)
        series_list = [
            {key: [s[key].get(b) for b in x] if key != "name" else s["name"] for key in s} for s in groups.values()
        ]
        kind = "band" if widget.chart == "line" else "bar"
        return {"kind": kind, "title": widget.title, "unit": result.unit, "x": x, "series": series_list}
    labels = [" / ".join(str(r.segment.get(g) or "(none)") for g in result.group_by) for r in result.rows]
    return {
        "kind": "bar",
        "title": widget.title,
        "unit": result.unit,
        "x": labels,
        "series": [
            {
                "name": result.label,
                "values": [r.value for r in result.rows],
                "lower": [r.lower for r in result.rows],
                "upper": [r.upper for r in result.rows],
                "n": [r.n for r in result.rows],
            }
        ],
    }


def _widget_views(session: Session, principal: Principal, dashboard: DashboardOut) -> list[dict[str, Any]]:
    views = []
    for widget in dashboard.widgets:
        view: dict[str, Any] = {"widget": widget, "result": None, "error": None, "chart": None, "thin": False}
        try:
            result = metrics.compute(session, workspace_id=principal.workspace_id, query=service.widget_query(widget))
        except CEMError as exc:  # e.g. a metric removed from the registry since the widget was saved
            view["error"] = exc.detail
        else:
            view["result"] = result
            view["chart"] = _widget_chart(result, widget)
            view["thin"] = bool(result.rows) and all(r.status != "ok" for r in result.rows)
        views.append(view)
    return views


def _dashboard_page(request: Request, principal: Principal, dashboard_id: int, **extra: Any) -> Response:
    with get_db(request).unit_of_work(readonly=True) as session:
        dashboard = service.get_dashboard(session, actor=principal, dashboard_id=dashboard_id)
        views = _widget_views(session, principal, dashboard)
    context = {"error": None, "form": {}, **extra}
    return render(
        request,
        "analytics/dashboard.html",
        principal,
        dashboard=dashboard,
        views=views,
        metrics_catalog=metrics.list_metrics(),
        charts=CHARTS,
        intervals=INTERVALS,
        dimensions=DIMENSIONS,
        **_helpers(),
        **context,
    )


@router.get("/dashboards/{dashboard_id}")
def dashboard_view(request: Request, principal: PageReader, dashboard_id: int) -> Response:
    return _dashboard_page(request, principal, dashboard_id)


def _edit_failed(request: Request, principal: Principal, dashboard_id: int, exc: CEMError | ValidationError,
                 form: dict[str, str]) -> Response:  # fmt: skip
    if isinstance(exc, CEMError) and exc.status_code in (403, 404):
        raise exc  # no form to re-show: the error page says why
    return refused(_dashboard_page(request, principal, dashboard_id, error=refusal_message(exc), form=form), exc)


@router.post("/dashboards/{dashboard_id}/edit")
def dashboard_edit(
    request: Request,
    principal: PageDashboards,
    dashboard_id: int,
    name: Short = "",
    description: Text = "",
    shared: Short = "",
) -> Response:
    """Rename and (un)share; the whole form is sent, so an unticked box makes the dashboard private."""
    form = {"name": name, "description": description, "shared": shared}
    try:
        patch = DashboardPatch(name=name, description=description, shared=shared == "1")
        with get_db(request).unit_of_work() as session:
            service.update_dashboard(session, actor=principal, dashboard_id=dashboard_id, patch=patch)
    except (CEMError, ValidationError) as exc:
        return _edit_failed(request, principal, dashboard_id, exc, form)
    return see_other(f"/dashboards/{dashboard_id}")


@router.post("/dashboards/{dashboard_id}/delete")
def dashboard_delete(request: Request, principal: PageDashboards, dashboard_id: int) -> Response:
    with get_db(request).unit_of_work() as session:
        service.delete_dashboard(session, actor=principal, dashboard_id=dashboard_id)
    return see_other("/dashboards")


def _widget_from_form(form: Mapping[str, str]) -> WidgetIn:
    """The add-widget form -> a WidgetIn (blank fields are absent; filters one FIELD=VALUE per line)."""
    group_by = [g.strip() for g in (form.get("group_by_1", ""), form.get("group_by_2", "")) if g.strip()]
    filters = [line.strip() for line in form.get("filters", "").splitlines() if line.strip()]
    raw: dict[str, Any] = {
        "title": form.get("title", "").strip(),
        "metric": form.get("metric", "").strip(),
        "chart": form.get("chart", "").strip() or "table",
        "group_by": group_by,
        "filters": filters,
        "interval": form.get("interval", "").strip() or None,
        "compare_to": "previous" if form.get("compare") == "1" else None,
        "date_from": form.get("date_from", "").strip() or None,
        "date_to": form.get("date_to", "").strip() or None,
        "width": 2 if form.get("width") == "2" else 1,
    }
    if form.get("min_n", "").strip():
        raw["min_n"] = form["min_n"].strip()
    return WidgetIn.model_validate(raw)


@router.post("/dashboards/{dashboard_id}/widgets")
def widget_add(
    request: Request,
    principal: PageDashboards,
    dashboard_id: int,
    title: Short = "",
    metric: Short = "",
    chart: Short = "",
    group_by_1: Short = "",
    group_by_2: Short = "",
    filters: Text = "",
    interval: Short = "",
    compare: Short = "",
    date_from: Short = "",
    date_to: Short = "",
    min_n: Short = "",
    width: Short = "",
) -> Response:
    """Add a widget at the end; a bad one re-shows the form with the reason and changes nothing."""
    form = {
        "title": title, "metric": metric, "chart": chart, "group_by_1": group_by_1, "group_by_2": group_by_2,
        "filters": filters, "interval": interval, "compare": compare, "date_from": date_from, "date_to": date_to,
        "min_n": min_n, "width": width,
    }  # fmt: skip
    try:
        widget = _widget_from_form(form)
        with get_db(request).unit_of_work() as session:
            service.add_widget(session, actor=principal, dashboard_id=dashboard_id, widget=widget)
    except (CEMError, ValidationError) as exc:
        return _edit_failed(request, principal, dashboard_id, exc, form)
    return see_other(f"/dashboards/{dashboard_id}#widgets")


@router.post("/dashboards/{dashboard_id}/widgets/{widget_id}/arrange")
def widget_arrange(
    request: Request, principal: PageDashboards, dashboard_id: int, widget_id: int, action: Short = ""
) -> Response:
    """Move up/down, make wide/narrow, or remove one widget."""
    try:
        with get_db(request).unit_of_work() as session:
            service.arrange_widget(
                session, actor=principal, dashboard_id=dashboard_id, widget_id=widget_id, action=action
            )
    except (CEMError, ValidationError) as exc:
        return _edit_failed(request, principal, dashboard_id, exc, {})
    return see_other(f"/dashboards/{dashboard_id}#widget-{widget_id}")
