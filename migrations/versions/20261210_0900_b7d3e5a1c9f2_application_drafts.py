"""Application drafts: the public application in progress, sealed, between its steps (Back and reload keep it).

Revision ID: b7d3e5a1c9f2
Revises: e4a7c2b91d05
Create Date: 2026-12-10 09:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "b7d3e5a1c9f2"
down_revision = "e4a7c2b91d05"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Not tenant-owned (written before a bureau is chosen); the app role gets its privileges from the default
    # privileges (tenants.rls.APP_ROLE_SQL).
    op.create_table(
        "application_drafts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application_drafts")),
    )
    op.create_index("ix_application_drafts_updated_at", "application_drafts", ["updated_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_application_drafts_updated_at", table_name="application_drafts")
    op.drop_table("application_drafts")
