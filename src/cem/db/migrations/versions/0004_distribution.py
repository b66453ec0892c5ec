"""Survey distribution: audiences, contact rules, distributions, invitations, contacts, skips, opt-outs.

Revision ID: 0004_distribution
Revises: 0003_surveys
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import cem.db.base

revision: str = "0004_distribution"
down_revision: str | None = "0003_surveys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "survey_audience",
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column(
            "filters", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", cem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", cem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_survey_audience_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_audience")),
        sa.UniqueConstraint("workspace_id", "name", name=op.f("uq_survey_audience_workspace_id_name")),
    )
    op.create_table(
        "survey_contact_settings",
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("global_cooldown_days", sa.Float(), nullable=False),
        sa.Column("max_per_period", sa.Integer(), nullable=True),
        sa.Column("period_days", sa.Integer(), nullable=False),
        sa.Column("quiet_start", sa.String(length=5), nullable=True),
        sa.Column("quiet_end", sa.String(length=5), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("allowed_origins", sa.JSON(), nullable=False),
        sa.Column("updated_at", cem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_survey_contact_settings_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_survey_contact_settings")),
    )
    op.create_table(
        "survey_channel_settings",
        sa.Column("survey_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("recontact_days", sa.Float(), nullable=True),
        sa.Column("respects_cooldown", sa.Boolean(), nullable=False),
        sa.Column("email_subject", sa.String(length=300), nullable=False),
        sa.Column("widget_enabled", sa.Boolean(), nullable=False),
        sa.Column("widget_url_pattern", sa.String(length=500), nullable=False),
        sa.Column("widget_delay_seconds", sa.Integer(), nullable=False),
        sa.Column("widget_event", sa.String(length=100), nullable=True),
        sa.Column("widget_display_percent", sa.Float(), nullable=False),
        sa.Column("allowed_origins", sa.JSON(), nullable=False),
        sa.Column("updated_at", cem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["survey.id"], name=op.f("fk_survey_channel_settings_survey_id_survey"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_survey_channel_settings_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("survey_id", name=op.f("pk_survey_channel_settings")),
    )
    op.create_index(
        op.f("ix_survey_channel_settings_workspace_id"), "survey_channel_settings", ["workspace_id"], unique=False
    )
    op.create_table(
        "survey_contact",
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("survey_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("counts", sa.Boolean(), nullable=False),
        sa.Column("at", cem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_survey_contact_customer_id_customer"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["survey.id"], name=op.f("fk_survey_contact_survey_id_survey"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_survey_contact_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_contact")),
    )
    op.create_index("ix_survey_contact_customer_at", "survey_contact", ["customer_id", "at"], unique=False)
    op.create_index(op.f("ix_survey_contact_survey_id"), "survey_contact", ["survey_id"], unique=False)
    op.create_index(op.f("ix_survey_contact_workspace_id"), "survey_contact", ["workspace_id"], unique=False)
    op.create_table(
        "survey_distribution",
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("survey_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("audience_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reminder_after_days", sa.Float(), nullable=True),
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("sent_at", cem.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", cem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", cem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["audience_id"],
            ["survey_audience.id"],
            name=op.f("fk_survey_distribution_audience_id_survey_audience"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["survey.id"], name=op.f("fk_survey_distribution_survey_id_survey"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_survey_distribution_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_distribution")),
    )
    op.create_index("ix_survey_distribution_survey", "survey_distribution", ["survey_id"], unique=False)
    op.create_index(op.f("ix_survey_distribution_workspace_id"), "survey_distribution", ["workspace_id"], unique=False)
    op.create_table(
        "survey_trigger",
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("survey_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("delay_minutes", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", cem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", cem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["survey.id"], name=op.f("fk_survey_trigger_survey_id_survey"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_survey_trigger_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_trigger")),
        sa.UniqueConstraint("survey_id", "event_type", name=op.f("uq_survey_trigger_survey_id_event_type")),
    )
    op.create_index("ix_survey_trigger_ws_type", "survey_trigger", ["workspace_id", "event_type"], unique=False)
    op.create_table(
        "survey_unsubscribe",
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("via", sa.String(length=32), nullable=False),
        sa.Column("at", cem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_survey_unsubscribe_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_survey_unsubscribe_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_unsubscribe")),
        sa.UniqueConstraint("workspace_id", "customer_id", name=op.f("uq_survey_unsubscribe_workspace_id_customer_id")),
    )
    op.create_index(op.f("ix_survey_unsubscribe_customer_id"), "survey_unsubscribe", ["customer_id"], unique=False)
    op.create_table(
        "survey_contact_skip",
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("survey_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("distribution_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(length=300), nullable=False),
        sa.Column("at", cem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_survey_contact_skip_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["distribution_id"],
            ["survey_distribution.id"],
            name=op.f("fk_survey_contact_skip_distribution_id_survey_distribution"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["survey.id"], name=op.f("fk_survey_contact_skip_survey_id_survey"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_survey_contact_skip_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_contact_skip")),
    )
    op.create_index(op.f("ix_survey_contact_skip_customer_id"), "survey_contact_skip", ["customer_id"], unique=False)
    op.create_index(
        op.f("ix_survey_contact_skip_distribution_id"), "survey_contact_skip", ["distribution_id"], unique=False
    )
    op.create_index(
        "ix_survey_contact_skip_survey_reason", "survey_contact_skip", ["survey_id", "reason"], unique=False
    )
    op.create_index(op.f("ix_survey_contact_skip_workspace_id"), "survey_contact_skip", ["workspace_id"], unique=False)
    op.create_table(
        "survey_invitation",
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("survey_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("distribution_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_at", cem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", cem.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("opened_at", cem.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("reminded_at", cem.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("response_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", cem.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_survey_invitation_customer_id_customer"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["distribution_id"],
            ["survey_distribution.id"],
            name=op.f("fk_survey_invitation_distribution_id_survey_distribution"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["survey_response.id"],
            name=op.f("fk_survey_invitation_response_id_survey_response"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["survey.id"], name=op.f("fk_survey_invitation_survey_id_survey"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_survey_invitation_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_invitation")),
        sa.UniqueConstraint("token", name=op.f("uq_survey_invitation_token")),
    )
    op.create_index(op.f("ix_survey_invitation_customer_id"), "survey_invitation", ["customer_id"], unique=False)
    op.create_index(
        "ix_survey_invitation_distribution", "survey_invitation", ["distribution_id", "status"], unique=False
    )
    op.create_index("ix_survey_invitation_survey", "survey_invitation", ["survey_id", "channel"], unique=False)
    op.create_index(op.f("ix_survey_invitation_workspace_id"), "survey_invitation", ["workspace_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_survey_invitation_workspace_id"), table_name="survey_invitation")
    op.drop_index("ix_survey_invitation_survey", table_name="survey_invitation")
    op.drop_index("ix_survey_invitation_distribution", table_name="survey_invitation")
    op.drop_index(op.f("ix_survey_invitation_customer_id"), table_name="survey_invitation")
    op.drop_table("survey_invitation")
    op.drop_index(op.f("ix_survey_contact_skip_workspace_id"), table_name="survey_contact_skip")
    op.drop_index("ix_survey_contact_skip_survey_reason", table_name="survey_contact_skip")
    op.drop_index(op.f("ix_survey_contact_skip_distribution_id"), table_name="survey_contact_skip")
    op.drop_index(op.f("ix_survey_contact_skip_customer_id"), table_name="survey_contact_skip")
    op.drop_table("survey_contact_skip")
    op.drop_index(op.f("ix_survey_unsubscribe_customer_id"), table_name="survey_unsubscribe")
    op.drop_table("survey_unsubscribe")
    op.drop_index("ix_survey_trigger_ws_type", table_name="survey_trigger")
    op.drop_table("survey_trigger")
    op.drop_index(op.f("ix_survey_distribution_workspace_id"), table_name="survey_distribution")
    op.drop_index("ix_survey_distribution_survey", table_name="survey_distribution")
    op.drop_table("survey_distribution")
    op.drop_index(op.f("ix_survey_contact_workspace_id"), table_name="survey_contact")
    op.drop_index(op.f("ix_survey_contact_survey_id"), table_name="survey_contact")
    op.drop_index("ix_survey_contact_customer_at", table_name="survey_contact")
    op.drop_table("survey_contact")
    op.drop_index(op.f("ix_survey_channel_settings_workspace_id"), table_name="survey_channel_settings")
    op.drop_table("survey_channel_settings")
    op.drop_table("survey_contact_settings")
    op.drop_table("survey_audience")
