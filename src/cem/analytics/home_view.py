"""What the home page shows, put together for one caller: the workspace-wide state of the program (cached per
store version on large stores, as the program overview is) and the caller's own view of texts and cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from cem.analytics import home, stats
from cem.analytics import service as metrics
from cem.analytics.dashboards import service as dashboards
from cem.analytics.dashboards.schemas import Mover, OverviewQuery
from cem.analytics.web import band_chart
from cem.auth.permissions import Permission
from cem.auth.principal import Principal
from cem.cases import service as cases
from cem.text.redaction import text_view

MAX_CACHED = 32
TOP_MOVERS = 6
_STATES: dict[tuple[object, ...], tuple[tuple[object, ...], ProgramState]] = {}


@dataclass(frozen=True)
class ProgramState:
    tiles: list[home.MetricTile]
    charts: dict[str, dict[str, Any]]
    movers: list[Mover]
    movers_period: str | None
    scanned: int
    topics: home.TopicMoves
    negative: list[home.Verbatim]  # unmasked: each caller's view masks them when shown
    positive: list[home.Verbatim]


def _trend_chart(tile: home.MetricTile) -> dict[str, Any]:
    months = [month_label(r.bucket) for r in tile.trend]
    return band_chart(tile.label, tile.unit, tile.trend, compact=True, x=months)


def program_state(session: Session, *, workspace_id: int, min_n: int = stats.DEFAULT_MIN_N) -> ProgramState:
    """Metric tiles with trends, top movers of the newest shown month, topics rising and falling, and the notable
    verbatims (their query scans the newest records, so it is cached with the rest)."""
    engine = metrics.make_engine(session, name="auto", workspace_id=workspace_id)
    version = dashboards.store_version(session) if engine.name != "sql" else None
    key = (workspace_id, min_n)
    cached = _STATES.get(key)
    if version is not None and cached is not None and cached[0] == version:
        return cached[1]
    negative, positive = home.notable_verbatims(session, workspace_id=workspace_id)
    tiles = home.metric_tiles(session, workspace_id=workspace_id, min_n=min_n, engine=engine)
    end = home.latest_period_end(tiles)
    movers: list[Mover] = []
    scanned, movers_period = 0, None
    if end is not None:
        view = dashboards.overview(session, workspace_id=workspace_id, query=OverviewQuery(end=end, min_n=min_n))
        movers, scanned = [m for m in view.movers if m.significant][:TOP_MOVERS], view.scanned
        movers_period = view.period_start.isoformat() if view.period_start else None
    state = ProgramState(
        tiles=tiles,
        charts={t.metric: _trend_chart(t) for t in tiles if t.trend},
        movers=movers,
        movers_period=movers_period,
        scanned=scanned,
        topics=home.topic_moves(session, workspace_id=workspace_id, min_n=min_n),
        negative=negative,
        positive=positive,
    )
    if version is not None:  # small stores (the SQL engine) answer fast enough every time
        if len(_STATES) >= MAX_CACHED:
            _STATES.pop(next(iter(_STATES)))
        _STATES[key] = (version, state)
    return state


@dataclass(frozen=True)
class CaseCounts:
    open: int
    overdue: int


def home_context(session: Session, principal: Principal) -> dict[str, Any]:
    """Everything home.html shows beyond the store counts, as this caller may see it."""
    ws_id = principal.workspace_id
    state = program_state(session, workspace_id=ws_id)
    shown = text_view(session, principal)  # personal data masked for roles without pii:read
    case_counts = None
    if principal.can(Permission.cases):
        case_counts = CaseCounts(
            open=cases.count_open_cases(session, actor=principal),
            overdue=cases.count_open_cases(session, actor=principal, overdue=True),
        )
    return {
        "state": state,
        "negative": state.negative,
        "positive": state.positive,
        "shown_text": shown,
        "cases": case_counts,
        "min_n": stats.DEFAULT_MIN_N,
        "month_label": month_label,
        "period_label": period_label,
    }


def month_label(bucket: str | None) -> str:
    """ "2018-08-01" -> "Aug 2018"."""
    return date.fromisoformat(bucket[:10]).strftime("%b %Y") if bucket else ""


def period_label(bucket: str | None, interval: str) -> str:
    """A bucket as people name it: "Aug 2018", "week of 2018-08-06", "2018-08-06"."""
    if not bucket:
        return ""
    if interval == "month":
        return month_label(bucket)
    return f"week of {bucket[:10]}" if interval == "week" else bucket[:10]
