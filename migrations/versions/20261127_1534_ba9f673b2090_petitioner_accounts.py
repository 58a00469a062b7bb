"""Petitioner accounts and the registry of their cases (neither is tenant-owned: no row-level security).

Revision ID: ba9f673b2090
Revises: 3d809fb25eee
Create Date: 2026-11-27 15:34:13.315060+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "ba9f673b2090"
down_revision = "3d809fb25eee"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The app role gets its privileges from the default privileges (tenants.rls.APP_ROLE_SQL).
    op.create_table(
        "petitioners",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=True),
        sa.Column("phone_enc", sa.LargeBinary(), nullable=True),
        sa.Column("email_hash", sa.String(length=64), nullable=True),
        sa.Column("email_enc", sa.LargeBinary(), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("phone_hash IS NOT NULL OR email_hash IS NOT NULL", name=op.f("ck_petitioners_has_sign_in")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_petitioners")),
        sa.UniqueConstraint("email_hash", name=op.f("uq_petitioners_email_hash")),
        sa.UniqueConstraint("phone_hash", name=op.f("uq_petitioners_phone_hash")),
    )
    op.create_table(
        "petitioner_cases",
        sa.Column("petitioner_id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.String(length=24), nullable=False),
        sa.Column("how", sa.String(length=20), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("how IN ('submitted', 'escalated', 'claimed')", name=op.f("ck_petitioner_cases_how")),
        sa.ForeignKeyConstraint(
            ["number"],
            ["case_numbers.number"],
            name=op.f("fk_petitioner_cases_number_case_numbers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["petitioner_id"],
            ["petitioners.id"],
            name=op.f("fk_petitioner_cases_petitioner_id_petitioners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("petitioner_id", "number", name=op.f("pk_petitioner_cases")),
    )
    op.create_index("ix_petitioner_cases_number", "petitioner_cases", ["number"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_petitioner_cases_number", table_name="petitioner_cases")
    op.drop_table("petitioner_cases")
    op.drop_table("petitioners")
