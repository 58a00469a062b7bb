"""Idempotency keys of public submissions (uploads and applications): a retry returns the first result.

Revision ID: e5a17c0ffee1
Revises: e3a9c4d2b715
Create Date: 2026-12-06 08:50:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "e5a17c0ffee1"
down_revision = "e3a9c4d2b715"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Not tenant-owned (written before a bureau is known); the app role gets its privileges from the default
    # privileges (tenants.rls.APP_ROLE_SQL).
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("sealed_response", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("scope IN ('upload', 'application')", name=op.f("ck_idempotency_keys_scope_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("scope", "key_hash", name=op.f("uq_idempotency_keys_scope_key_hash")),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
