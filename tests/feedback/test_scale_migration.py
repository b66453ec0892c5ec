"""Migration 0016 fills the declared scale of records stored before scales were declared (see its docstring)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import MetaData, create_engine, text

from cem.db import migrate

NOW = "2026-01-01 00:00:00.000000"


def _q(qid: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {"id": qid, "type": kind, "headline": {"en": qid}, **extra}


PUBLISHED = {
    "pages": [
        {
            "id": "p1",
            "questions": [
                _q("sat", "csat", scale=7),
                _q("stars", "rating"),
                _q("grid", "matrix", scale=4, rows=[{"id": "r1", "label": {"en": "R1"}}]),
                _q("nps", "nps"),
                _q("moved", "csat", scale=5),  # answered 9 under an older version: falls through
            ],
        }
    ]
}
WORKING_COPY = {"pages": [{"id": "p1", "questions": [_q("sat", "csat", scale=10)]}]}  # not published: not used

RECORDS = [
    ("survey", "cx", "sat", "csat", [6, 7]),
    ("survey", "cx", "stars", "rating", [3]),
    ("survey", "cx", "grid.r1", "rating", [4]),
    ("survey", "cx", "nps", "nps", [9]),
    ("survey", "cx", "moved", "csat", [9, 2]),
    ("review", "shop", "low", "csat", [1, 2, 3]),  # the case: 1-5, never 1-3
    ("review", "shop", "ten", "rating", [0, 8]),
    ("review", "shop", "seven", "csat", [6, 7]),
    ("review", "shop", "effort", "ces", [2]),
    ("review", "shop", "amount", "number", [1234.5]),
]


def _seed(engine: Any) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO workspace (id, slug, name, settings, created_at, updated_at) VALUES (1, 'w', 'W', '{}', :t, :t)"
            ),
            {"t": NOW},
        )
        conn.execute(
            text(
                "INSERT INTO survey (id, workspace_id, slug, name, status, definition, completed_count, created_by,"
                " created_at, updated_at) VALUES (1, 1, 'cx', 'CX', 'published', :d, 0, 'test', :t, :t)"
            ),
            {"d": json.dumps(WORKING_COPY), "t": NOW},
        )
        conn.execute(
            text(
                "INSERT INTO survey_version (id, survey_id, number, definition, created_by, created_at)"
                " VALUES (1, 1, 1, :d, 'test', :t)"
            ),
            {"d": json.dumps(PUBLISHED), "t": NOW},
        )
        conn.execute(text("UPDATE survey SET current_version_id = 1"))
        insert = text(
            "INSERT INTO feedback_record (workspace_id, source_type, source_name, submission_id, collected_at,"
            " field_id, field_label, field_type, value_number, metadata, created_at, updated_at)"
            " VALUES (1, :st, :sn, :sub, :t, :f, '', :kind, :v, '{}', :t, :t)"
        )
        for st, sn, field, kind, values in RECORDS:
            for i, v in enumerate(values):
                conn.execute(insert, {"st": st, "sn": sn, "sub": f"s{i}", "t": NOW, "f": field, "kind": kind, "v": v})


def test_existing_records_get_the_declared_or_default_scale_and_downgrade_drops_it(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate.upgrade(engine, "0015_login_attempts")
    _seed(engine)
    migrate.upgrade(engine, "0016_declared_scales")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT DISTINCT field_id, scale_min, scale_max FROM feedback_record"))
        scales = {field: (low, high) for field, low, high in rows}
    assert scales == {
        "sat": (1.0, 7.0),  # the published version's 7 points, not the working copy's 10
        "stars": (1.0, 5.0),
        "grid.r1": (1.0, 4.0),
        "nps": (0.0, 10.0),
        "moved": (1.0, 10.0),  # its answers do not fit the current question: widened to hold them
        "low": (1.0, 5.0),
        "ten": (0.0, 10.0),
        "seven": (1.0, 7.0),
        "effort": (1.0, 7.0),
        "amount": (None, None),
    }
    cfg = migrate.alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0015_login_attempts")
    meta = MetaData()
    meta.reflect(engine, only=["feedback_record"])
    assert not {"scale_min", "scale_max"} & set(meta.tables["feedback_record"].c.keys())
    engine.dispose()
