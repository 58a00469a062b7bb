"""Each bureau's public contact block, the committee office's address and phone at the province, and the language
each petitioner applied in (their text messages come in it alone).

Revision ID: e5c3a9d1f7b2
Revises: d3a7c9e1f2b4
Create Date: 2026-12-06 09:05:00+00:00
"""

import sqlalchemy as sa
from alembic import op

from tenants.rls import disable_rls, enable_rls

revision = "e5c3a9d1f7b2"
down_revision = "d3a7c9e1f2b4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bureau_contacts",
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column("phone", sa.String(length=60), nullable=True),
        sa.Column("hours", sa.String(length=100), nullable=True),
        sa.Column("committee_address", sa.String(length=200), nullable=True),
        sa.Column("committee_phone", sa.String(length=60), nullable=True),
        sa.Column("updated_by", sa.String(length=100), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f("fk_bureau_contacts_tenant_id_bureaus")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_bureau_contacts")),
        sa.UniqueConstraint("tenant_id", name=op.f("uq_bureau_contacts_tenant_id")),
    )
    enable_rls(op, "bureau_contacts")
    op.add_column("cases", sa.Column("petitioner_language", sa.String(length=2), server_default="zh", nullable=False))
    op.create_check_constraint(op.f("ck_cases_petitioner_language"), "cases", "petitioner_language IN ('zh', 'en')")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_cases_petitioner_language"), "cases", type_="check")
    op.drop_column("cases", "petitioner_language")
    disable_rls(op, "bureau_contacts")
    op.drop_table("bureau_contacts")
