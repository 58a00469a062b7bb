"""A citizen's verified sign-in opens (or links) a petitioner account; its cases are linked as "verified".

Revision ID: a9e4b7c1d3f6
Revises: f5c8d2e7a9b1
Create Date: 2026-12-06 08:15:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "a9e4b7c1d3f6"
down_revision = "f5c8d2e7a9b1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("petitioners", sa.Column("oidc_subject_hash", sa.String(length=64), nullable=True))
    op.create_unique_constraint(op.f("uq_petitioners_oidc_subject_hash"), "petitioners", ["oidc_subject_hash"])
    op.execute("ALTER TABLE petitioners DROP CONSTRAINT ck_petitioners_has_sign_in")
    op.create_check_constraint(
        "has_sign_in",
        "petitioners",
        "phone_hash IS NOT NULL OR email_hash IS NOT NULL OR oidc_subject_hash IS NOT NULL",
    )
    op.execute("ALTER TABLE petitioner_cases DROP CONSTRAINT ck_petitioner_cases_how")
    op.create_check_constraint("how", "petitioner_cases", "how IN ('submitted', 'escalated', 'claimed', 'verified')")


def downgrade() -> None:
    op.execute("DELETE FROM petitioner_cases WHERE how = 'verified'")
    op.execute("ALTER TABLE petitioner_cases DROP CONSTRAINT ck_petitioner_cases_how")
    op.create_check_constraint("how", "petitioner_cases", "how IN ('submitted', 'escalated', 'claimed')")
    op.execute("DELETE FROM petitioners WHERE phone_hash IS NULL AND email_hash IS NULL")
    op.execute("ALTER TABLE petitioners DROP CONSTRAINT ck_petitioners_has_sign_in")
    op.create_check_constraint("has_sign_in", "petitioners", "phone_hash IS NOT NULL OR email_hash IS NOT NULL")
    op.drop_constraint(op.f("uq_petitioners_oidc_subject_hash"), "petitioners", type_="unique")
    op.drop_column("petitioners", "oidc_subject_hash")
