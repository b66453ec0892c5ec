"""Saved custom dashboards and their widgets.

Revision ID: 0007_dashboards
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import cem.db.base

revision: str = "0007_dashboards"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("created_at", cem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", cem.db.base.UTCDateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "dashboard",
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("owner_type", sa.String(length=16), nullable=False),
        sa.Column("owner_id", ID, nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspace.id"], name=op.f("fk_dashboard_workspace_id_workspace"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard")),
    )
    op.create_index(op.f("ix_dashboard_workspace_id"), "dashboard", ["workspace_id"], unique=False)
    op.create_table(
        "dashboard_widget",
        sa.Column("dashboard_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("chart", sa.String(length=16), nullable=False),
        sa.Column("group_by", sa.JSON(), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("interval", sa.String(length=16), nullable=True),
        sa.Column("compare_to", sa.String(length=16), nullable=True),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("options", JSON, nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["dashboard_id"],
            ["dashboard.id"],
            name=op.f("fk_dashboard_widget_dashboard_id_dashboard"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_widget")),
    )
    op.create_index(op.f("ix_dashboard_widget_dashboard_id"), "dashboard_widget", ["dashboard_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_dashboard_widget_dashboard_id"), table_name="dashboard_widget")
    op.drop_table("dashboard_widget")
    op.drop_index(op.f("ix_dashboard_workspace_id"), table_name="dashboard")
    op.drop_table("dashboard")
