"""Supervision orders (督办), satisfaction ratings, and the covering indexes of the supervision statistics.

Revision ID: 43333fe88bb9
Revises: 26b22d304692
Create Date: 2026-11-27 15:45:09.283328+00:00
"""

import sqlalchemy as sa
from alembic import op

from tenants.rls import disable_rls, enable_rls

revision = "43333fe88bb9"
down_revision = "26b22d304692"
branch_labels = None
depends_on = None

TENANT_TABLES = ("satisfaction_ratings", "supervision_orders")


def upgrade() -> None:
    op.create_table(
        "satisfaction_ratings",
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "rating", sa.Enum("satisfied", "basically_satisfied", "dissatisfied", name="satisfaction"), nullable=False
        ),
        sa.Column("comment", sa.String(length=500), nullable=True),
        sa.Column("rated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=op.f("fk_satisfaction_ratings_tenant_id_case_id_cases"),
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f("fk_satisfaction_ratings_tenant_id_bureaus")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_satisfaction_ratings")),
        sa.UniqueConstraint("tenant_id", "case_id", name=op.f("uq_satisfaction_ratings_tenant_id_case_id")),
    )
    op.create_table(
        "supervision_orders",
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("issuer_bureau_id", sa.Integer(), nullable=False),
        sa.Column("issued_by_id", sa.BigInteger(), nullable=False),
        sa.Column("issued_by_name", sa.String(length=100), nullable=False),
        sa.Column("instruction", sa.Text(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_by_id", sa.BigInteger(), nullable=True),
        sa.Column("answered_by_name", sa.String(length=100), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.CheckConstraint(
            "(answered_at IS NULL) = (answer IS NULL)", name=op.f("ck_supervision_orders_answer_complete")
        ),
        sa.CheckConstraint("issuer_bureau_id <> tenant_id", name=op.f("ck_supervision_orders_issuer_above")),
        sa.ForeignKeyConstraint(
            ["issuer_bureau_id"], ["bureaus.id"], name=op.f("fk_supervision_orders_issuer_bureau_id_bureaus")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=op.f("fk_supervision_orders_tenant_id_case_id_cases"),
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f("fk_supervision_orders_tenant_id_bureaus")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_supervision_orders")),
    )
    op.create_index(
        "ix_supervision_orders_issuer_bureau_id_issued_at",
        "supervision_orders",
        ["issuer_bureau_id", "issued_at"],
        unique=False,
    )
    op.create_index(
        "ix_supervision_orders_open",
        "supervision_orders",
        ["tenant_id", "due_on"],
        unique=False,
        postgresql_where=sa.text("answered_at IS NULL"),
    )
    op.create_index(
        "ix_supervision_orders_tenant_id_case_id", "supervision_orders", ["tenant_id", "case_id"], unique=False
    )
    op.create_index(
        "ix_cases_sensitive", "cases", ["tenant_id", "received_on"], unique=False, postgresql_where=sa.text("sensitive")
    )
    op.create_index(
        "ix_cases_supervision_period",
        "cases",
        ["tenant_id", "received_on"],
        unique=False,
        postgresql_include=[
            "id",
            "state",
            "kind",
            "intake",
            "outcome",
            "lead_unit_id",
            "accepted_on",
            "replied_on",
            "extension_used",
            "extension_days",
        ],
    )
    op.create_index(
        "ix_deadlines_supervision_started",
        "deadlines",
        ["tenant_id", "started_on"],
        unique=False,
        postgresql_include=["step", "due_on", "closed_at"],
    )
    for table in TENANT_TABLES:
        enable_rls(op, table)


def downgrade() -> None:
    for table in TENANT_TABLES:
        disable_rls(op, table)
    op.drop_index(
        "ix_deadlines_supervision_started", table_name="deadlines", postgresql_include=["step", "due_on", "closed_at"]
    )
    op.drop_index(
        "ix_cases_supervision_period",
        table_name="cases",
        postgresql_include=[
            "id",
            "state",
            "kind",
            "intake",
            "outcome",
            "lead_unit_id",
            "accepted_on",
            "replied_on",
            "extension_used",
            "extension_days",
        ],
    )
    op.drop_index("ix_cases_sensitive", table_name="cases", postgresql_where=sa.text("sensitive"))
    op.drop_index("ix_supervision_orders_tenant_id_case_id", table_name="supervision_orders")
    op.drop_index(
        "ix_supervision_orders_open", table_name="supervision_orders", postgresql_where=sa.text("answered_at IS NULL")
    )
    op.drop_index("ix_supervision_orders_issuer_bureau_id_issued_at", table_name="supervision_orders")
    op.drop_table("supervision_orders")
    op.drop_table("satisfaction_ratings")
    op.execute("DROP TYPE IF EXISTS satisfaction")
