"""Import runs remember which process runs them, so a run whose process died can be marked interrupted.

- import_run.owner: "host:pid" of the process importing the run right now ("" when none does).

Revision ID: 0013_import_run_owner
Revises: 0012_survey_reminders
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_import_run_owner"
down_revision: str | None = "0012_survey_reminders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("import_run") as batch:
        batch.add_column(sa.Column("owner", sa.String(200), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("import_run") as batch:
        batch.drop_column("owner")
