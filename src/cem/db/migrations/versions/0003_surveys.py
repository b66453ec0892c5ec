"""Surveys: definitions (working copy), published versions, responses saved page by page.

Revision ID: 0003_surveys
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import cem.db.base

revision: str = "0003_surveys"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _when() -> cem.db.base.UTCDateTime:
    return cem.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "survey",
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("definition", JSON, nullable=False),
        sa.Column("current_version_id", ID, nullable=True),
        sa.Column("opens_at", _when(), nullable=True),
        sa.Column("closes_at", _when(), nullable=True),
        sa.Column("close_after_responses", sa.Integer(), nullable=True),
        sa.Column("completed_count", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("updated_at", _when(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspace.id"], name=op.f("fk_survey_workspace_id_workspace"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey")),
        sa.UniqueConstraint("slug", name=op.f("uq_survey_slug")),
    )
    op.create_index("ix_survey_workspace_status", "survey", ["workspace_id", "status"], unique=False)

    op.create_table(
        "survey_version",
        sa.Column("survey_id", ID, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("definition", JSON, nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["survey.id"], name=op.f("fk_survey_version_survey_id_survey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_version")),
        sa.UniqueConstraint("survey_id", "number", name=op.f("uq_survey_version_survey_id_number")),
    )

    op.create_table(
        "survey_response",
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("survey_id", ID, nullable=False),
        sa.Column("version_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=True),
        sa.Column("submission_id", sa.String(length=200), nullable=False),
        sa.Column("resume_key", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("invitation_id", ID, nullable=True),
        sa.Column("hidden", JSON, nullable=False),
        sa.Column("variables", JSON, nullable=False),
        sa.Column("answers", JSON, nullable=False),
        sa.Column("current_page_id", sa.String(length=64), nullable=True),
        sa.Column("page_history", sa.JSON(), nullable=False),
        sa.Column("page_nonce", sa.String(length=64), nullable=False),
        sa.Column("used_nonces", JSON, nullable=False),
        sa.Column("page_shown_at", _when(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("ending_id", sa.String(length=64), nullable=True),
        sa.Column("metadata", JSON, nullable=False),
        sa.Column("started_at", _when(), nullable=False),
        sa.Column("updated_at", _when(), nullable=False),
        sa.Column("completed_at", _when(), nullable=True),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_survey_response_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["survey.id"], name=op.f("fk_survey_response_survey_id_survey"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["survey_version.id"],
            name=op.f("fk_survey_response_version_id_survey_version"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_survey_response_customer_id_customer"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_response")),
        sa.UniqueConstraint("survey_id", "submission_id", name=op.f("uq_survey_response_survey_id_submission_id")),
        sa.UniqueConstraint("resume_key", name=op.f("uq_survey_response_resume_key")),
    )
    op.create_index("ix_survey_response_survey_started", "survey_response", ["survey_id", "started_at"])
    op.create_index(op.f("ix_survey_response_workspace_id"), "survey_response", ["workspace_id"])
    op.create_index(op.f("ix_survey_response_customer_id"), "survey_response", ["customer_id"])
    op.create_index(op.f("ix_survey_response_invitation_id"), "survey_response", ["invitation_id"])


def downgrade() -> None:
    op.drop_table("survey_response")
    op.drop_table("survey_version")
    op.drop_index("ix_survey_workspace_status", table_name="survey")
    op.drop_table("survey")
