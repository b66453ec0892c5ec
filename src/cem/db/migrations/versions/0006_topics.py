"""Topics: topic (two levels, discovered or rule, centroid) and record_topic (which records carry which topics).

Revision ID: 0006_topics
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cem.db.base

revision: str = "0006_topics"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "topic",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("workspace_id", BIGINT, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("parent_id", BIGINT, nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("rule_query", sa.Text(), nullable=True),
        sa.Column("centroid", sa.LargeBinary(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("terms", sa.String(length=1000), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("merged_into_id", BIGINT, nullable=True),
        sa.Column("label_edited", sa.Boolean(), nullable=False),
        sa.Column("user_edited", sa.Boolean(), nullable=False),
        sa.Column("created_at", cem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", cem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspace.id"], name=op.f("fk_topic_workspace_id_workspace"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["parent_id"], ["topic.id"], name=op.f("fk_topic_parent_id_topic"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["merged_into_id"], ["topic.id"], name=op.f("fk_topic_merged_into_id_topic"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_topic")),
        sa.UniqueConstraint("workspace_id", "key", name=op.f("uq_topic_workspace_id_key")),
    )
    op.create_index("ix_topic_ws_status", "topic", ["workspace_id", "status"])
    op.create_index(op.f("ix_topic_parent_id"), "topic", ["parent_id"])
    op.create_table(
        "record_topic",
        sa.Column("record_id", BIGINT, nullable=False),
        sa.Column("topic_id", BIGINT, nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["feedback_record.id"],
            name=op.f("fk_record_topic_record_id_feedback_record"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topic.id"], name=op.f("fk_record_topic_topic_id_topic"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("record_id", "topic_id", name=op.f("pk_record_topic")),
    )
    op.create_index("ix_record_topic_topic", "record_topic", ["topic_id", "record_id"])


def downgrade() -> None:
    op.drop_index("ix_record_topic_topic", table_name="record_topic")
    op.drop_table("record_topic")
    op.drop_index(op.f("ix_topic_parent_id"), table_name="topic")
    op.drop_index("ix_topic_ws_status", table_name="topic")
    op.drop_table("topic")
