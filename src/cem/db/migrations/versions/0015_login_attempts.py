"""Login throttling: failed (and in-flight) login attempts per account and per client address.

Revision ID: 0015_login_attempts
Revises: 0014_job_priority
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cem.db.base

revision: str = "0015_login_attempts"
down_revision: str | None = "0014_job_priority"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "login_attempt",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("at", cem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempt")),
    )
    op.create_index("ix_login_attempt_key_at", "login_attempt", ["key", "at"], unique=False)
    op.create_index(op.f("ix_login_attempt_at"), "login_attempt", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_login_attempt_at"), table_name="login_attempt")
    op.drop_index("ix_login_attempt_key_at", table_name="login_attempt")
    op.drop_table("login_attempt")
