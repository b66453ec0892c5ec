"""Text analytics: feedback embeddings, label corrections, per-workspace sentiment models.

Revision ID: 0005_text
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import cem.db.base

revision: str = "0005_text"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "feedback_embedding",
        sa.Column("record_id", ID, nullable=False),
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", cem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["feedback_record.id"],
            name=op.f("fk_feedback_embedding_record_id_feedback_record"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_feedback_embedding_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_feedback_embedding")),
    )
    op.create_index("ix_feedback_embedding_ws_model", "feedback_embedding", ["workspace_id", "model"])
    op.create_table(
        "label_correction",
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("record_id", ID, nullable=False),
        sa.Column("sentiment_label", sa.String(length=16), nullable=True),
        sa.Column("topic", sa.String(length=200), nullable=True),
        sa.Column("user_id", ID, nullable=True),
        sa.Column("corrected_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", cem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["feedback_record.id"],
            name=op.f("fk_label_correction_record_id_feedback_record"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_label_correction_user_id_app_user"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_label_correction_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_correction")),
        sa.UniqueConstraint("record_id", name=op.f("uq_label_correction_record_id")),
    )
    op.create_index("ix_label_correction_ws", "label_correction", ["workspace_id", "created_at"])
    op.create_table(
        "workspace_sentiment_model",
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("embedding_model", sa.String(length=64), nullable=False),
        sa.Column("classes", sa.JSON(), nullable=False),
        sa.Column("weights", JSON, nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("cv_accuracy", sa.Float(), nullable=False),
        sa.Column("cv_macro_f1", sa.Float(), nullable=False),
        sa.Column("default_accuracy", sa.Float(), nullable=False),
        sa.Column("default_macro_f1", sa.Float(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", cem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_workspace_sentiment_model_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspace_sentiment_model")),
    )
    op.create_index("ix_workspace_sentiment_model_ws", "workspace_sentiment_model", ["workspace_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_workspace_sentiment_model_ws", table_name="workspace_sentiment_model")
    op.drop_table("workspace_sentiment_model")
    op.drop_index("ix_label_correction_ws", table_name="label_correction")
    op.drop_table("label_correction")
    op.drop_index("ix_feedback_embedding_ws_model", table_name="feedback_embedding")
    op.drop_table("feedback_embedding")
