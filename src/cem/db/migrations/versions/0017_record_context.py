"""Per-record context: the interaction channel as the source names it, and the agent and team who handled it.

`channel` is a short lowercase key (online, phone, ...); analytics' `channel` dimension reads it and falls back to
the record's source type. `agent` and `team` are free identifiers (a ticket's assignee and group) for the closed
loop's frontline views. All three are nullable: records written before this revision have none.

Indexes: only agent and team get one, partial on `IS NOT NULL` like the touchpoint index of 0011, so imports that
name no handler pay nothing for them and frontline lookups (workspace, agent/team) stay indexed. The channel is
read by grouping over the (workspace_id, collected_at) range scans every metric query already does; an index on a
column most imported records fill would slow bulk loads without speeding those scans.

Revision ID: 0017_record_context
Revises: 0016_declared_scales
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_record_context"
down_revision: str | None = "0016_declared_scales"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HANDLERS = ("agent", "team")


def upgrade() -> None:
    op.add_column("feedback_record", sa.Column("channel", sa.String(length=64), nullable=True))
    for column in HANDLERS:
        op.add_column("feedback_record", sa.Column(column, sa.String(length=200), nullable=True))
        predicate = sa.text(f"{column} IS NOT NULL")
        op.create_index(
            f"ix_feedback_record_ws_{column}",
            "feedback_record",
            ["workspace_id", column],
            sqlite_where=predicate,
            postgresql_where=predicate,
        )


def downgrade() -> None:
    for column in HANDLERS:
        op.drop_index(f"ix_feedback_record_ws_{column}", table_name="feedback_record")
    with op.batch_alter_table("feedback_record") as batch:
        for column in ("team", "agent", "channel"):
            batch.drop_column(column)
