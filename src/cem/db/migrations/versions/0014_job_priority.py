"""Job priorities: interactive work (imports, sends, discovery runs) is claimed before bulk work (text enrichment).

- job.priority SMALLINT NOT NULL DEFAULT 50, lower first (cem.jobs.registry.PRIORITY_*: 0 interactive, 50 normal,
  100 bulk). Jobs already queued get their task's priority here, so a backlog of enrichment queued before the
  upgrade does not keep holding up imports.
- The claim index becomes (status, priority, run_at, id): workers claim WHERE status = 'queued' AND run_at <= now
  ORDER BY priority, run_at, id, which walks this index in order (no sort) on SQLite and PostgreSQL.

Revision ID: 0014_job_priority
Revises: 0013_import_run_owner
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_job_priority"
down_revision: str | None = "0013_import_run_owner"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Literal names, not the registry: a migration must not change when tasks are later renamed or re-prioritised.
BULK = ("text.enrich_submissions", "text.enrich_records", "text.rescore", "jobs.purge_finished")
INTERACTIVE = (
    "imports.run",
    "text.topics.discover",
    "surveys.distribution.send",
    "surveys.invitation.deliver",
)


def upgrade() -> None:
    with op.batch_alter_table("job") as batch_op:
        batch_op.add_column(sa.Column("priority", sa.SmallInteger(), nullable=False, server_default="50"))
        batch_op.drop_index("ix_job_status_run_at")
        batch_op.create_index("ix_job_claim", ["status", "priority", "run_at", "id"], unique=False)
    job = sa.table("job", sa.column("name", sa.String), sa.column("priority", sa.SmallInteger))
    op.execute(job.update().where(job.c.name.in_(BULK)).values(priority=100))
    op.execute(job.update().where(job.c.name.in_(INTERACTIVE)).values(priority=0))


def downgrade() -> None:
    with op.batch_alter_table("job") as batch_op:
        batch_op.drop_index("ix_job_claim")
        batch_op.create_index("ix_job_status_run_at", ["status", "run_at"], unique=False)
        batch_op.drop_column("priority")
