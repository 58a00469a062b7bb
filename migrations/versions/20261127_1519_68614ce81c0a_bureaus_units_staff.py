"""Bureaus, units and staff users, with row-level security on the tenant-owned tables.

Revision ID: 68614ce81c0a
Revises:
Create Date: 2026-11-27 15:19:13.043808+00:00
"""

import sqlalchemy as sa
from alembic import op

from tenants.rls import (
    APP_ROLE_SQL,
    DROP_FUNCTIONS_SQL,
    DROP_SCOPE_FUNCTIONS_SQL,
    FUNCTIONS_SQL,
    SCOPE_FUNCTIONS_SQL,
    disable_rls,
    enable_rls,
)

revision = "68614ce81c0a"
down_revision = None
branch_labels = None
depends_on = None


TENANT_TABLES = ("units", "staff_users")


def upgrade() -> None:
    op.execute(APP_ROLE_SQL)
    op.execute(FUNCTIONS_SQL)
    op.execute(SCOPE_FUNCTIONS_SQL)
    op.create_table(
        "bureaus",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("adcode", sa.String(length=6), nullable=True),
        sa.Column("division_name", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("level", sa.Enum("province", "city", "county", name="bureau_level"), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("path", sa.String(length=400), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("(level = 'province') = (parent_id IS NULL)", name=op.f("ck_bureaus_root_is_province")),
        sa.ForeignKeyConstraint(["parent_id"], ["bureaus.id"], name=op.f("fk_bureaus_parent_id_bureaus")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bureaus")),
        sa.UniqueConstraint("adcode", name=op.f("uq_bureaus_adcode")),
    )
    op.create_index(op.f("ix_bureaus_parent_id"), "bureaus", ["parent_id"], unique=False)
    op.create_index("ix_bureaus_path", "bureaus", ["path"], unique=False, postgresql_ops={"path": "text_pattern_ops"})
    op.create_table(
        "units",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.Enum("petition_office", "division", name="unit_kind"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f("fk_units_tenant_id_bureaus")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_units")),
        sa.UniqueConstraint("tenant_id", "code", name=op.f("uq_units_tenant_id_code")),
    )
    op.create_table(
        "staff_users",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("unit_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "roles",
            sa.ARRAY(
                sa.Enum(
                    "petition_clerk",
                    "petition_office_head",
                    "petitions_leader",
                    "business_leader",
                    "principal_leader",
                    "division_staff",
                    "bureau_admin",
                    "province_admin",
                    name="staff_role",
                )
            ),
            nullable=False,
        ),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "unit_id"],
            ["units.tenant_id", "units.id"],
            name=op.f("fk_staff_users_tenant_id_unit_id_units"),
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f("fk_staff_users_tenant_id_bureaus")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_staff_users")),
        sa.UniqueConstraint("username", name=op.f("uq_staff_users_username")),
    )
    for table in TENANT_TABLES:
        enable_rls(op, table)


def downgrade() -> None:
    for table in TENANT_TABLES:
        disable_rls(op, table)
    op.drop_table("staff_users")
    op.drop_table("units")
    op.drop_index("ix_bureaus_path", table_name="bureaus", postgresql_ops={"path": "text_pattern_ops"})
    op.drop_index(op.f("ix_bureaus_parent_id"), table_name="bureaus")
    op.drop_table("bureaus")
    for enum_type in ("staff_role", "unit_kind", "bureau_level"):
        op.execute(f"DROP TYPE IF EXISTS {enum_type}")
    op.execute(DROP_FUNCTIONS_SQL)
    op.execute(DROP_SCOPE_FUNCTIONS_SQL)
