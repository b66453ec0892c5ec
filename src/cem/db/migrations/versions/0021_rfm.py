"""RFM scores and segment on each customer's stored value (customer_value).

Revision ID: 0021_rfm
Revises: 0020_customer_scores
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_rfm"
down_revision: str | None = "0020_customer_scores"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("recency_days", sa.Integer()),
    ("purchases", sa.Integer()),
    ("monetary", sa.Float()),
    ("r_score", sa.SmallInteger()),
    ("f_score", sa.SmallInteger()),
    ("m_score", sa.SmallInteger()),
    ("rfm_segment", sa.String(length=24)),
)


def upgrade() -> None:
    # Nullable: rows scored before this revision get their RFM on the next clv.score run.
    with op.batch_alter_table("customer_value") as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customer_value") as batch:
        for name, _kind in reversed(COLUMNS):
            batch.drop_column(name)
