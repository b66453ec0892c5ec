"""Survey interchange: the record of each imported survey (warnings, source answer codes).

Revision ID: 0008_survey_interchange
Revises: 0003_surveys
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import cem.db.base

revision: str = "0008_survey_interchange"
down_revision: str | None = "0003_surveys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "survey_import",
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("survey_id", ID, nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("question_count", sa.Integer(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("codes", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("created_at", cem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", cem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspace.id"], name=op.f("fk_survey_import_workspace_id_workspace"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["survey.id"], name=op.f("fk_survey_import_survey_id_survey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_import")),
    )
    op.create_index(op.f("ix_survey_import_workspace_id"), "survey_import", ["workspace_id"], unique=False)
    op.create_index(op.f("ix_survey_import_survey_id"), "survey_import", ["survey_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_survey_import_survey_id"), table_name="survey_import")
    op.drop_index(op.f("ix_survey_import_workspace_id"), table_name="survey_import")
    op.drop_table("survey_import")
