"""Staff notifications, deadline alerts (reminders and escalations already sent) and sweep runs.

Revision ID: 0da152183012
Revises: 1213b01ea956
Create Date: 2026-11-27 15:35:46.461760+00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from tenants.rls import disable_rls, enable_rls

revision = "0da152183012"
down_revision = "1213b01ea956"
branch_labels = None
depends_on = None


TENANT_TABLES = ("deadline_alerts", "staff_notifications")


def upgrade() -> None:
    op.create_table(
        "sweep_runs",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("last_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_for_date", sa.Date(), nullable=True),
        sa.Column("last_result", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("runs", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sweep_runs")),
    )
    op.create_table(
        "deadline_alerts",
        sa.Column("deadline_id", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("fired_on", sa.Date(), nullable=False),
        sa.Column("recipient_ids", sa.ARRAY(sa.BigInteger()), server_default="{}", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.CheckConstraint(
            "kind IN ('reminder', 'overdue', 'escalation', 'supervision')", name=op.f("ck_deadline_alerts_kind")
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f("fk_deadline_alerts_tenant_id_bureaus")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_deadline_alerts")),
        sa.UniqueConstraint(
            "tenant_id",
            "deadline_id",
            "kind",
            "threshold",
            "due_on",
            name=op.f("uq_deadline_alerts_tenant_id_deadline_id_kind_threshold_due_on"),
        ),
    )
    op.create_index("ix_deadline_alerts_tenant_id_case_id", "deadline_alerts", ["tenant_id", "case_id"], unique=False)
    op.create_table(
        "staff_notifications",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("case_tenant_id", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.BigInteger(), nullable=True),
        sa.Column("deadline_id", sa.BigInteger(), nullable=True),
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.CheckConstraint(
            "kind IN ('reminder', 'overdue', 'escalation', 'supervision', 'digest', 'calendar_missing',"
            " 'delivery_failed')",
            name=op.f("ck_staff_notifications_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["staff_users.tenant_id", "staff_users.id"],
            name=op.f("fk_staff_notifications_tenant_id_user_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f("fk_staff_notifications_tenant_id_bureaus")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_staff_notifications")),
        sa.UniqueConstraint(
            "tenant_id", "user_id", "dedupe_key", name=op.f("uq_staff_notifications_tenant_id_user_id_dedupe_key")
        ),
    )
    op.create_index(
        "ix_staff_notifications_tenant_id_user_id_created_at",
        "staff_notifications",
        ["tenant_id", "user_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_staff_notifications_unread",
        "staff_notifications",
        ["tenant_id", "user_id"],
        unique=False,
        postgresql_where=sa.text("read_at IS NULL"),
    )
    for table in TENANT_TABLES:
        enable_rls(op, table)


def downgrade() -> None:
    for table in TENANT_TABLES:
        disable_rls(op, table)
    op.drop_index(
        "ix_staff_notifications_unread", table_name="staff_notifications", postgresql_where=sa.text("read_at IS NULL")
    )
    op.drop_index("ix_staff_notifications_tenant_id_user_id_created_at", table_name="staff_notifications")
    op.drop_table("staff_notifications")
    op.drop_index("ix_deadline_alerts_tenant_id_case_id", table_name="deadline_alerts")
    op.drop_table("deadline_alerts")
    op.drop_table("sweep_runs")
