"""Notifications of work that lands on someone; bureaus' standard texts of refusal reasons.

Revision ID: e3a9c4d2b715
Revises: d7a2c4e91b08
Create Date: 2026-12-06 08:45:00+00:00
"""

import sqlalchemy as sa
from alembic import op

from tenants.rls import disable_rls, enable_rls

revision = "e3a9c4d2b715"
down_revision = "d7a2c4e91b08"
branch_labels = None
depends_on = None

OLD_KINDS = ("reminder", "overdue", "escalation", "supervision", "digest", "calendar_missing", "delivery_failed")
NEW_KINDS = (
    *OLD_KINDS,
    "awaiting_instruction",
    "awaiting_approval",
    "extension_requested",
    "awaiting_signature",
    "materials_requested",
    "materials_answered",
    "work_returned",
)


def _kinds(kinds) -> str:
    return "kind IN (" + ", ".join(f"'{k}'" for k in kinds) + ")"


def upgrade() -> None:
    op.drop_constraint(op.f("ck_staff_notifications_kind"), "staff_notifications", type_="check")
    op.create_check_constraint(op.f("ck_staff_notifications_kind"), "staff_notifications", _kinds(NEW_KINDS))
    op.create_table(
        "refusal_texts",
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("remedy", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f("fk_refusal_texts_tenant_id_bureaus")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_refusal_texts")),
        sa.UniqueConstraint("tenant_id", "reason", name=op.f("uq_refusal_texts_tenant_id_reason")),
    )
    enable_rls(op, "refusal_texts")


def downgrade() -> None:
    disable_rls(op, "refusal_texts")
    op.drop_table("refusal_texts")
    op.execute("DELETE FROM staff_notifications WHERE NOT (" + _kinds(OLD_KINDS) + ")")
    op.drop_constraint(op.f("ck_staff_notifications_kind"), "staff_notifications", type_="check")
    op.create_check_constraint(op.f("ck_staff_notifications_kind"), "staff_notifications", _kinds(OLD_KINDS))
