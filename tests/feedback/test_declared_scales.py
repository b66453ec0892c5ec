"""Scales are declared, never guessed (issue 14): the rules, the API payload, and every metric engine agreeing."""

from __future__ import annotations

import csv
import io
import itertools
import sqlite3
from pathlib import Path
from typing import Any

import duckdb
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cem import scores
from cem.analytics import service as metrics_service
from cem.analytics.engines import attached
from cem.analytics.engines.duck import DuckEngine
from cem.analytics.engines.sql import SqlEngine
from cem.analytics.schemas import MetricQuery
from cem.analytics.snapshot import Snapshot
from cem.db.session import Database
from cem.feedback.models import FeedbackRecord
from tests.conftest import Workspace

_ids = itertools.count()


def rec(field_type: str, value: Any, **declared: Any) -> dict[str, Any]:
    return {
        "source_type": "api",
        "source_name": "app",
        "submission_id": f"s{next(_ids)}",
        "field_id": declared.pop("field_id", field_type),
        "field_type": field_type,
        "value": value,
        "collected_at": "2026-03-01T12:00:00Z",
        **declared,
    }


def csat(api: TestClient, **params: Any) -> list[dict[str, Any]]:
    r = api.get("/api/v1/metrics", params={"metric": "csat", "min_n": 1, **params})
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()["rows"]
    return rows


def stored(db: Database) -> list[FeedbackRecord]:
    with db.unit_of_work(readonly=True) as session:
        return list(session.scalars(select(FeedbackRecord).order_by(FeedbackRecord.id)))


# -- the rules ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("low", "high", "top", "bottom"),
    [(1, 3, 3, 1.8), (1, 5, 4, 2.6), (1, 7, 6, 3.4), (1, 10, 9, 4.6), (0, 10, 9, 4), (0, 100, 90, 40), (1, 4, 3, 2.2)],
)
def test_top_and_bottom_box_of_any_range(low: float, high: float, top: float, bottom: float) -> None:
    assert scores.top_box_min(low, high) == pytest.approx(top)
    assert scores.bottom_box_max(low, high) == pytest.approx(bottom)


def test_the_top_box_sql_is_the_python_rule_in_every_dialect() -> None:
    pairs = [(lo, hi) for lo in (0.0, 1.0, 2.5) for hi in (2.0, 3.0, 4.0, 5.0, 7.0, 10.0, 11.0, 20.0, 100.0) if lo < hi]
    sql = "SELECT " + scores.top_box_sql("lo", "hi") + " FROM (SELECT ? AS lo, ? AS hi)"
    lite, duck = sqlite3.connect(":memory:"), duckdb.connect()
    for lo, hi in pairs:
        expected = scores.top_box_min(lo, hi)
        assert lite.execute(sql, (lo, hi)).fetchone()[0] == pytest.approx(expected), (lo, hi)
        assert duck.execute(sql, [lo, hi]).fetchone()[0] == pytest.approx(expected), (lo, hi)  # type: ignore[index]


@pytest.mark.parametrize(
    ("field_type", "declared", "message"),
    [
        ("csat", {"name": "csat-5", "low": 1.0}, "not both"),
        ("csat", {"low": 5.0, "high": 5.0}, "must be below"),
        ("csat", {"low": 7.0, "high": 1.0}, "must be below"),
        ("csat", {"low": 1.0}, "both scale_min and scale_max"),
        ("csat", {"name": "csat-11"}, "unknown scale"),
        ("nps", {"low": 1.0, "high": 5.0}, "always 0-10"),
        ("nps", {"name": "csat-10"}, "always 0-10"),
        ("ces", {"name": "likert-5"}, "always 1-7"),
        ("text", {"low": 1.0, "high": 5.0}, "has no scale"),
    ],
)
def test_bad_declarations_say_what_is_wrong(field_type: str, declared: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        scores.declared_scale(field_type, **declared)


def test_defaults_and_names() -> None:
    assert {k: str(v) for k, v in scores.DEFAULT_SCALES.items()} == {
        "nps": "0-10",
        "csat": "1-5",
        "ces": "1-7",
        "rating": "1-5",
    }
    assert scores.declared_scale("number") is None
    assert scores.declared_scale("nps", name="nps") == scores.Scale(0, 10)
    assert scores.declared_scale("ces", name="ces-7") == scores.Scale(1, 7)
    assert scores.declared_scale("rating", name="0-100") == scores.Scale(0, 100)
    assert scores.declared_scale("number", low=0, high=1) == scores.Scale(0, 1)


# -- the API payload ----------------------------------------------------------------------------------------


def test_only_low_scores_declared_one_to_five_are_zero_percent_satisfied(admin_api: TestClient, db: Database) -> None:
    items = [rec("csat", v, scale_min=1, scale_max=5) for v in [1, 2, 3] * 7]
    r = admin_api.post("/api/v1/feedback/bulk", json=items)
    assert r.status_code == 200, r.text
    (row,) = csat(admin_api)
    assert (row["value"], row["n"]) == (0.0, 21)
    assert {(r.scale_min, r.scale_max) for r in stored(db)} == {(1.0, 5.0)}
    read = admin_api.get("/api/v1/feedback", params={"limit": 1}).json()["items"][0]
    assert (read["scale_min"], read["scale_max"]) == (1.0, 5.0)
    exported = list(csv.DictReader(io.StringIO(admin_api.get("/api/v1/feedback/export.csv").text)))
    assert len(exported) == 21 and {(e["value"], e["scale_min"], e["scale_max"]) for e in exported} == {
        ("1", "1", "5"),
        ("2", "1", "5"),
        ("3", "1", "5"),
    }


def test_undeclared_csat_four_is_satisfied_on_the_default_scale(admin_api: TestClient, db: Database) -> None:
    r = admin_api.post("/api/v1/feedback", json=rec("csat", 4))
    assert r.status_code in (200, 201), r.text
    (row,) = csat(admin_api)
    assert (row["value"], row["n"]) == (100.0, 1)
    (record,) = stored(db)
    assert (record.scale_min, record.scale_max) == (1.0, 5.0)  # the default is written into the record


def test_named_scales_are_stored_as_numbers(admin_api: TestClient, db: Database) -> None:
    items = [rec("csat", 6, scale="csat-7", field_id="q7"), rec("rating", 80, scale="0-100", field_id="slider")]
    items += [rec("nps", 9), rec("ces", 2), rec("number", 12345.5)]
    assert admin_api.post("/api/v1/feedback/bulk", json=items).status_code == 200
    scales = {r.field_id: (r.scale_min, r.scale_max) for r in stored(db)}
    assert scales == {
        "q7": (1.0, 7.0),
        "slider": (0.0, 100.0),
        "nps": (0.0, 10.0),
        "ces": (1.0, 7.0),
        "number": (None, None),
    }
    assert csat(admin_api)[0]["value"] == 100.0  # 6 of a 1-7 scale is in its top box


@pytest.mark.parametrize(
    ("item", "loc", "message"),
    [
        (rec("csat", 6, scale_min=1, scale_max=5), [0, "value"], "between 1 and 5"),
        (rec("csat", 8), [0, "value"], "the default csat scale"),
        (rec("csat", 4, scale="csat-5", scale_min=1, scale_max=5), [0, "scale"], "not both"),
        (rec("csat", 4, scale="csat-5", scale_min=1), [0, "scale_max"], "both scale_min and scale_max"),
        (rec("csat", 4, scale_min=5, scale_max=1), [0, "scale_max"], "must be below"),
        (rec("nps", 4, scale_min=1, scale_max=5), [0, "scale_max"], "always 0-10"),
        (rec("ces", 4, scale="csat-5"), [0, "scale"], "always 1-7"),
        (rec("csat", 4, scale="stars-11"), [0, "scale"], "unknown scale"),
        (rec("rating", 3, scale="x" * 41), [0, "scale"], "at most 40"),
    ],
)
def test_bad_scales_and_values_outside_them_are_located_and_store_nothing(
    admin_api: TestClient, db: Database, item: dict[str, Any], loc: list[Any], message: str
) -> None:
    good = rec("csat", 5, scale="csat-5")
    r = admin_api.post("/api/v1/feedback/bulk", json=[item, good])
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert errors[0]["loc"] == loc and message in errors[0]["msg"], errors
    single = admin_api.post("/api/v1/feedback", json=item)
    assert single.status_code == 422 and single.json()["errors"][0]["loc"][-1] == loc[-1]
    assert stored(db) == []


# -- every engine reads the declared scale -----------------------------------------------------------------


def test_sql_and_duckdb_engines_agree_on_declared_scales(
    admin_api: TestClient, db: Database, workspace: Workspace, tmp_path: Path
) -> None:
    declared = {"csat-3": [1, 2, 3, 3], "csat-5": [1, 2, 3, 3, 4], "csat-10": [8, 9, 10, 2], "0-100": [50, 89, 90]}
    items = [rec("csat", v, scale=name, field_id=name) for name, values in declared.items() for v in values]
    items += [rec("csat", v, scale_min=0, scale_max=10, field_id="zero-ten") for v in (0, 8, 9)]
    assert admin_api.post("/api/v1/feedback/bulk", json=items).status_code == 200
    expected = {"csat-3": 50.0, "csat-5": 20.0, "csat-10": 50.0, "0-100": 100 / 3, "zero-ten": 100 / 3}
    ws_id = workspace.principal().workspace_id
    query = MetricQuery(metric="csat", group_by=["question"], min_n=1)
    with db.unit_of_work(readonly=True) as session:
        Snapshot(tmp_path / "snap").refresh(session)
        files = Snapshot(tmp_path / "snap").files()
        assert files is not None
        url = session.get_bind().engine.url.render_as_string(hide_password=False)
        for engine in (SqlEngine(session), attached.cached(url), DuckEngine.over(files)):
            result = metrics_service.compute(session, workspace_id=ws_id, query=query, engine=engine)
            got = {r.segment["question"]: r.value for r in result.rows}
            assert got == pytest.approx(expected), engine.name
        total = session.scalar(select(func.count()).select_from(FeedbackRecord))
    assert total == sum(map(len, declared.values())) + 3
