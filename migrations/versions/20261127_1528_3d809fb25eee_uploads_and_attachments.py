"""Uploads (not tenant-owned until claimed) and case attachments, with row-level security on attachments.

Revision ID: 3d809fb25eee
Revises: 0a0b534e148b
Create Date: 2026-11-27 15:28:27.031890+00:00
"""

import sqlalchemy as sa
from alembic import op

from tenants.rls import disable_rls, enable_rls

revision = "3d809fb25eee"
down_revision = "0a0b534e148b"
branch_labels = None
depends_on = None


TENANT_TABLES = ("attachments",)


def upgrade() -> None:
    # The app role gets its privileges on both tables from the default privileges (tenants.rls.APP_ROLE_SQL).
    op.create_table(
        "uploads",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name=op.f("ck_uploads_sha256_hex")),
        sa.CheckConstraint("size > 0", name=op.f("ck_uploads_size_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_uploads")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_uploads_storage_key")),
    )
    op.create_index(
        "ix_uploads_created_at_unclaimed",
        "uploads",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("claimed_at IS NULL"),
    )
    op.create_table(
        "attachments",
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=300), nullable=False),
        sa.Column("source", sa.Enum("petitioner", "staff", "generated", name="attachment_source"), nullable=False),
        sa.Column("uploaded_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name=op.f("ck_attachments_sha256_hex")),
        sa.CheckConstraint("size > 0", name=op.f("ck_attachments_size_positive")),
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f("fk_attachments_tenant_id_bureaus")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_attachments")),
        sa.UniqueConstraint("tenant_id", "storage_key", name=op.f("uq_attachments_tenant_id_storage_key")),
    )
    op.create_index("ix_attachments_tenant_id_case_id", "attachments", ["tenant_id", "case_id"], unique=False)
    for table in TENANT_TABLES:
        enable_rls(op, table)


def downgrade() -> None:
    for table in TENANT_TABLES:
        disable_rls(op, table)
    op.drop_index("ix_attachments_tenant_id_case_id", table_name="attachments")
    op.drop_table("attachments")
    op.drop_index(
        "ix_uploads_created_at_unclaimed", table_name="uploads", postgresql_where=sa.text("claimed_at IS NULL")
    )
    op.drop_table("uploads")
    op.execute("DROP TYPE IF EXISTS attachment_source")
