"""Experience targets per journey stage or touchpoint (experience-gap analysis).

Revision ID: 0010_analyses
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cem.db.base

revision: str = "0010_analyses"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "experience_target",
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("scope_key", sa.String(length=40), nullable=False),
        sa.Column("stage_id", ID, nullable=True),
        sa.Column("touchpoint_id", ID, nullable=True),
        sa.Column("metric", sa.String(length=50), nullable=False),
        sa.Column("target", sa.Float(), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("created_at", cem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", cem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(stage_id IS NULL) <> (touchpoint_id IS NULL)", name=op.f("ck_experience_target_one_scope")
        ),
        sa.ForeignKeyConstraint(
            ["stage_id"],
            ["journey_stage.id"],
            name=op.f("fk_experience_target_stage_id_journey_stage"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["touchpoint_id"],
            ["touchpoint.id"],
            name=op.f("fk_experience_target_touchpoint_id_touchpoint"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_experience_target_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experience_target")),
        sa.UniqueConstraint(
            "workspace_id", "scope_key", "metric", name=op.f("uq_experience_target_workspace_id_scope_key_metric")
        ),
    )
    op.create_index(op.f("ix_experience_target_workspace_id"), "experience_target", ["workspace_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_experience_target_workspace_id"), table_name="experience_target")
    op.drop_table("experience_target")
