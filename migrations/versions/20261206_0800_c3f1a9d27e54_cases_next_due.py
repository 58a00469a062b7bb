"""The case's nearest staff deadline, copied onto the case for the work queue.

The queue sorted every case of a bureau by a lateral look-up of its next open deadline and counted them all, so its
cost followed the bureau's case count. With the date on the case and an index in queue order, a page reads the
50 rows it shows. Existing cases are filled from their open deadlines.

Revision ID: c3f1a9d27e54
Revises: b8e4d1c7a2f6
Create Date: 2026-12-06 08:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "c3f1a9d27e54"
down_revision = "b8e4d1c7a2f6"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("next_due_on", sa.Date(), nullable=True))
    op.add_column(
        "cases",
        sa.Column("next_due_step", postgresql.ENUM(name="deadline_step", create_type=False), nullable=True),
    )
    op.execute(
        """
        UPDATE cases c SET next_due_on = d.due_on, next_due_step = d.step
        FROM (
            SELECT DISTINCT ON (tenant_id, case_id) tenant_id, case_id, due_on, step
            FROM deadlines
            WHERE closed_at IS NULL AND owed_by <> 'petitioner'
            ORDER BY tenant_id, case_id, due_on, id
        ) d
        WHERE c.tenant_id = d.tenant_id AND c.id = d.case_id
        """
    )
    op.create_index(
        "ix_cases_tenant_id_next_due_on_id",
        "cases",
        ["tenant_id", sa.text("next_due_on ASC NULLS LAST"), sa.text("id DESC")],
    )


def downgrade() -> None:
    op.drop_index("ix_cases_tenant_id_next_due_on_id", table_name="cases")
    op.drop_column("cases", "next_due_step")
    op.drop_column("cases", "next_due_on")
