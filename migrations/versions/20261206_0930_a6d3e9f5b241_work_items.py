"""Work items: which cases wait for whom, so that the staff queue's "mine" reads a few index ranges.

"Mine" looked, for every case of the bureau, for an open deadline its reader owes (its cost followed the bureau's
case count). ``work_items`` holds one row per case and owner as the rules name the owner (a user, a unit, the
petition office, a lead unit's approvers, the signers, the leaders deciding extensions), with the case's next due
date; every writer of cases and deadlines rewrites a case's rows (``portal.cases.work_items``). Filled here for
the existing cases.

Revision ID: a6d3e9f5b241
Revises: f2b8d4a61c37
Create Date: 2026-12-06 09:30:00+00:00
"""

import sqlalchemy as sa
from alembic import op

from tenants.rls import enable_rls

revision = "a6d3e9f5b241"
down_revision = "f2b8d4a61c37"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "work_items",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("owner_kind", sa.String(12), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f("fk_work_items_tenant_id_bureaus")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=op.f("fk_work_items_tenant_id_case_id_cases"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_work_items")),
        sa.UniqueConstraint(
            "tenant_id",
            "case_id",
            "owner_kind",
            "owner_id",
            name=op.f("uq_work_items_tenant_id_case_id_owner_kind_owner_id"),
        ),
    )
    op.create_index(
        "ix_work_items_owner_due",
        "work_items",
        ["tenant_id", "owner_kind", "owner_id", sa.text("due_on ASC NULLS LAST"), sa.text("case_id DESC")],
    )
    enable_rls(op, "work_items")
    from portal.cases.work_items import REBUILD

    # The owner reads and writes every bureau's rows here: FORCE'd row-level security is lifted for this
    # transaction only (DDL is transactional).
    read_and_written = ("cases", "deadlines", "work_items")
    for table in read_and_written:
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    for statement in REBUILD:
        op.execute(statement)
    for table in read_and_written:
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")


def downgrade() -> None:
    op.drop_table("work_items")
