"""Feedback records carry the declared scale of their rating-like value (issue 14: scales declared, not guessed).

- feedback_record.scale_min / scale_max: the scale of an NPS, CSAT, CES or rating value (a number may have one).

Existing records are filled once, in this order:
1. Survey answers take the scale their survey's question declares (the current published version, else the
   working copy): a CSAT or rating question's points, a matrix's numeric scale, NPS 0-10, CES 1-7; only where
   every stored answer fits it (an older version may have had another scale; those fall through to 2).
2. Every other NPS/CES record gets its one standard scale, and every other CSAT/rating field (one question of one
   source) the type's documented default, 1-5 (cem.scores.DEFAULT_SCALES), when all its stored answers fit it.
   This is more faithful than today's inferred scale: a field answered only 1-3 is on 1-5 like any other review
   score (the inference put it on 1-3 and called every 3 satisfied).
3. A CSAT/rating field whose stored answers do not fit 1-5 (old data accepted 0-10 without a declared scale) keeps
   the scale the metrics inferred until now, widened to hold every answer: 0 or 1 to 7 or 10. A stored value must
   lie within its declared scale, and that scale is the only one those answers are consistent with.
`number` records stay without a scale.

Revision ID: 0016_declared_scales
Revises: 0015_login_attempts
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0016_declared_scales"
down_revision: str | None = "0015_login_attempts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The rules as they stand at this revision (a migration must not change with later code).
FIXED = {"nps": (0.0, 10.0), "ces": (1.0, 7.0)}
DEFAULT = (1.0, 5.0)  # csat, rating
SCORED = ("nps", "csat", "ces", "rating")


def upgrade() -> None:
    op.add_column("feedback_record", sa.Column("scale_min", sa.Float(), nullable=True))
    op.add_column("feedback_record", sa.Column("scale_max", sa.Float(), nullable=True))
    conn = op.get_bind()
    _fill_survey_answers(conn)
    _fill_the_rest(conn)


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+ and PostgreSQL): a batch copy would drop the FTS triggers.
    op.execute("ALTER TABLE feedback_record DROP COLUMN scale_max")
    op.execute("ALTER TABLE feedback_record DROP COLUMN scale_min")


def _question_scales(definition: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """field id -> (low, high) of every scored question of a survey definition (as Question.points() says)."""
    out: dict[str, tuple[float, float]] = {}
    for page in definition.get("pages") or []:
        for q in page.get("questions") or []:
            kind, qid, points = q.get("type"), str(q.get("id")), q.get("scale")
            if kind in FIXED:
                out[qid] = FIXED[kind]
            elif kind in ("csat", "rating"):
                out[qid] = (1.0, float(points or 5))
            elif kind == "matrix" and points:
                for row in q.get("rows") or []:
                    out[f"{qid}.{row.get('id')}"] = (1.0, float(points))
    return out


def _fill_survey_answers(conn: sa.Connection) -> None:
    surveys = conn.execute(
        sa.text(
            "SELECT s.workspace_id, s.slug, coalesce(v.definition, s.definition) FROM survey s"
            " LEFT JOIN survey_version v ON v.id = s.current_version_id"
        )
    )
    update = sa.text(
        "UPDATE feedback_record SET scale_min = :low, scale_max = :high"
        " WHERE workspace_id = :ws AND source_type = 'survey' AND source_name = :slug AND field_id = :field"
        " AND field_type IN ('nps', 'csat', 'ces', 'rating') AND scale_min IS NULL"
        " AND NOT EXISTS (SELECT 1 FROM feedback_record o WHERE o.workspace_id = :ws AND o.source_type = 'survey'"
        " AND o.source_name = :slug AND o.field_id = :field AND (o.value_number < :low OR o.value_number > :high))"
    )
    params = []
    for workspace_id, slug, definition in surveys:
        parsed = json.loads(definition) if isinstance(definition, str) else definition
        for field, (low, high) in _question_scales(parsed or {}).items():
            params.append({"ws": workspace_id, "slug": slug, "field": field, "low": low, "high": high})
    if params:
        conn.execute(update, params)


def _fill_the_rest(conn: sa.Connection) -> None:
    for kind, (low, high) in FIXED.items():
        conn.execute(
            sa.text(
                "UPDATE feedback_record SET scale_min = :low, scale_max = :high"
                " WHERE field_type = :kind AND scale_min IS NULL"
            ),
            {"kind": kind, "low": low, "high": high},
        )
    fields = conn.execute(
        sa.text(
            "SELECT workspace_id, source_type, source_name, field_id, field_type,"
            " min(value_number), max(value_number) FROM feedback_record"
            " WHERE field_type IN ('csat', 'rating') AND scale_min IS NULL"
            " GROUP BY workspace_id, source_type, source_name, field_id, field_type"
        )
    )
    params = []
    for workspace_id, source_type, source_name, field_id, field_type, stored_min, stored_max in fields:
        low = DEFAULT[0] if stored_min is None or stored_min >= DEFAULT[0] else 0.0
        high = next((top for top in (5.0, 7.0, 10.0) if stored_max is None or stored_max <= top), 10.0)
        params.append(
            {
                "ws": workspace_id,
                "st": source_type,
                "sn": source_name,
                "field": field_id,
                "kind": field_type,
                "low": low,
                "high": high,
            }
        )
    if params:
        conn.execute(
            sa.text(
                "UPDATE feedback_record SET scale_min = :low, scale_max = :high"
                " WHERE workspace_id = :ws AND source_type = :st AND source_name = :sn AND field_id = :field"
                " AND field_type = :kind AND scale_min IS NULL"
            ),
            params,
        )
