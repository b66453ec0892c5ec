"""Survey reminders: several reminders per email distribution, their counters, reminder skips.

- survey_distribution.reminders: [{"after_days": 3.0, "subject": ""}, ...]; filled from the former single
  `reminder_after_days` (kept, and still read when `reminders` is empty).
- survey_distribution.reminder_counts: sent / failed / skipped / deferred per reminder. A reminder sent
  before this migration is counted as sent (the old code did not record refusals).
- survey_contact_skip.reminder: which reminder a skip concerns (None: the invitation itself).

Revision ID: 0012_survey_reminders
Revises: 0004_distribution
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_survey_reminders"
down_revision: str | None = "0004_distribution"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

distribution = sa.table(
    "survey_distribution",
    sa.column("id", ID),
    sa.column("reminder_after_days", sa.Float()),
    sa.column("reminders", sa.JSON()),
    sa.column("reminder_counts", sa.JSON()),
)
invitation = sa.table(
    "survey_invitation",
    sa.column("distribution_id", ID),
    sa.column("reminders_sent", sa.Integer()),
)


def upgrade() -> None:
    # Plain ADD COLUMN (no batch table rebuild: survey_distribution is the parent of cascading keys).
    op.add_column(
        "survey_distribution", sa.Column("reminders", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
    )
    op.add_column(
        "survey_distribution", sa.Column("reminder_counts", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
    )
    op.add_column("survey_contact_skip", sa.Column("reminder", sa.Integer(), nullable=True))

    conn = op.get_bind()
    reminded: dict[int, int] = {
        dist_id: int(n)
        for dist_id, n in conn.execute(
            sa.select(invitation.c.distribution_id, sa.func.count())
            .where(invitation.c.reminders_sent > 0)
            .group_by(invitation.c.distribution_id)
        )
    }
    rows = conn.execute(
        sa.select(distribution.c.id, distribution.c.reminder_after_days).where(
            distribution.c.reminder_after_days.is_not(None), distribution.c.reminder_after_days > 0
        )
    ).all()
    for dist_id, days in rows:
        sent = int(reminded.get(dist_id, 0))
        conn.execute(
            distribution.update()
            .where(distribution.c.id == dist_id)
            .values(
                reminders=[{"after_days": float(days), "subject": ""}],
                reminder_counts={"1": {"sent": sent, "failed": 0, "skipped": 0, "deferred": 0}} if sent else {},
            )
        )


def downgrade() -> None:
    conn = op.get_bind()
    for dist_id, reminders in conn.execute(sa.select(distribution.c.id, distribution.c.reminders)).all():
        if reminders:
            conn.execute(
                distribution.update()
                .where(distribution.c.id == dist_id)
                .values(reminder_after_days=float(reminders[0]["after_days"]))
            )
    op.drop_column("survey_contact_skip", "reminder")
    op.drop_column("survey_distribution", "reminder_counts")
    op.drop_column("survey_distribution", "reminders")
