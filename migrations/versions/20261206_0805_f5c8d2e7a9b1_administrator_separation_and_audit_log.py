"""Separation of administrators and the append-only audit log of administrative changes.

Revision ID: f5c8d2e7a9b1
Revises: e3b9f6a1c2d4
Create Date: 2026-12-06 08:05:00+00:00
"""

import sqlalchemy as sa
from alembic import op

from tenants.rls import disable_rls, enable_rls

revision = "f5c8d2e7a9b1"
down_revision = "e3b9f6a1c2d4"
branch_labels = None
depends_on = None

GUARD_SQL = """
CREATE OR REPLACE FUNCTION portal_audit_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND OLD.at < now() - interval '180 days' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit_log is append-only (entries are kept 180 days): % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION portal_audit_guard();
REVOKE UPDATE, TRUNCATE ON audit_log FROM portal_app;
"""


def upgrade() -> None:
    op.execute("ALTER TYPE staff_role ADD VALUE IF NOT EXISTS 'security_admin'")
    op.execute("ALTER TYPE staff_role ADD VALUE IF NOT EXISTS 'audit_admin'")
    op.create_table(
        "audit_log",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("actor_username", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f("fk_audit_log_tenant_id_bureaus")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_tenant_id_at", "audit_log", ["tenant_id", "at"])
    enable_rls(op, "audit_log")
    op.execute(GUARD_SQL)


def downgrade() -> None:
    disable_rls(op, "audit_log")
    op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
    op.drop_index("ix_audit_log_tenant_id_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.execute("DROP FUNCTION IF EXISTS portal_audit_guard()")
    # PostgreSQL cannot drop enum values: the two roles stay in staff_role (unused).
