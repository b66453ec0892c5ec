"""Customer scores: lifetime value (clv_fit, customer_value) and churn risk (churn_fit, churn_score).

Revision ID: 0020_customer_scores
Revises: 0019_cases
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import cem.db.base

revision: str = "0020_customer_scores"
down_revision: str | None = "0019_cases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
AT = cem.db.base.UTCDateTime(timezone=True)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete="CASCADE"
    )


def _fit_table(name: str, *columns: sa.Column) -> None:  # type: ignore[type-arg]
    op.create_table(
        name,
        sa.Column("workspace_id", ID, nullable=False),
        *columns,
        sa.Column("id", ID, autoincrement=True, nullable=False),
        _fk(name, "workspace_id", "workspace"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
    )
    op.create_index(op.f(f"ix_{name}_workspace_id"), name, ["workspace_id"], unique=False)


def _score_table(name: str, fit_table: str, *columns: sa.Column) -> None:  # type: ignore[type-arg]
    op.create_table(
        name,
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("workspace_id", ID, nullable=False),
        sa.Column("fit_id", ID, nullable=False),
        *columns,
        sa.Column("scored_at", AT, nullable=False),
        _fk(name, "customer_id", "customer"),
        _fk(name, "fit_id", fit_table),
        _fk(name, "workspace_id", "workspace"),
        sa.PrimaryKeyConstraint("customer_id", name=op.f(f"pk_{name}")),
    )
    op.create_index(op.f(f"ix_{name}_fit_id"), name, ["fit_id"], unique=False)
    op.create_index(op.f(f"ix_{name}_workspace_id"), name, ["workspace_id"], unique=False)


def upgrade() -> None:
    _fit_table(
        "clv_fit",
        sa.Column("model", sa.String(length=16), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("log_likelihood", sa.Float(), nullable=False),
        sa.Column("spend_params", JSON, nullable=True),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("repeat_buyers", sa.Integer(), nullable=False),
        sa.Column("settings", JSON, nullable=False),
        sa.Column("fitted_at", AT, nullable=False),
    )
    _score_table(
        "customer_value",
        "clv_fit",
        sa.Column("frequency", sa.Integer(), nullable=False),
        sa.Column("recency_weeks", sa.Float(), nullable=False),
        sa.Column("age_weeks", sa.Float(), nullable=False),
        sa.Column("mean_spend", sa.Float(), nullable=False),
        sa.Column("p_alive", sa.Float(), nullable=False),
        sa.Column("expected_purchases", sa.Float(), nullable=False),
        sa.Column("clv", sa.Float(), nullable=True),
    )
    _fit_table(
        "churn_fit",
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("churned", sa.Integer(), nullable=False),
        sa.Column("roc_auc", sa.Float(), nullable=False),
        sa.Column("roc_auc_std", sa.Float(), nullable=False),
        sa.Column("pr_auc", sa.Float(), nullable=False),
        sa.Column("brier", sa.Float(), nullable=False),
        sa.Column("features", JSON, nullable=False),
        sa.Column("calibration", JSON, nullable=False),
        sa.Column("fitted_at", AT, nullable=False),
    )
    _score_table(
        "churn_score",
        "churn_fit",
        sa.Column("risk", sa.Float(), nullable=False),
        sa.Column("reasons", JSON, nullable=False),
    )


def downgrade() -> None:
    for name in ("churn_score", "churn_fit", "customer_value", "clv_fit"):
        op.drop_table(name)
