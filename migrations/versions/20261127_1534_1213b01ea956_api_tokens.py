"""Bearer tokens of the staff API (only their SHA-256), with row-level security.

Revision ID: 1213b01ea956
Revises: ba9f673b2090
Create Date: 2026-11-27 15:34:56.109315+00:00
"""

import sqlalchemy as sa
from alembic import op

from tenants.rls import disable_rls, enable_rls

revision = "1213b01ea956"
down_revision = "ba9f673b2090"
branch_labels = None
depends_on = None


TENANT_TABLES = ("api_tokens",)


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["staff_users.tenant_id", "staff_users.id"],
            name=op.f("fk_api_tokens_tenant_id_user_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f("fk_api_tokens_tenant_id_bureaus")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_api_tokens")),
    )
    op.create_index("ix_api_tokens_tenant_id_user_id", "api_tokens", ["tenant_id", "user_id"], unique=False)
    op.create_index("ix_api_tokens_token_hash", "api_tokens", ["token_hash"], unique=False)
    for table in TENANT_TABLES:
        enable_rls(op, table)


def downgrade() -> None:
    for table in TENANT_TABLES:
        disable_rls(op, table)
    op.drop_index("ix_api_tokens_token_hash", table_name="api_tokens")
    op.drop_index("ix_api_tokens_tenant_id_user_id", table_name="api_tokens")
    op.drop_table("api_tokens")
